//! `lafs create-alias`, `add-alias`, `list-aliases`: Tahoe's alias verbs
//! over `NODEDIR/private/aliases` (same file format, same messages).

use crate::create_client::ClientSource;
use crate::grid_cli::{load_aliases, Session};
use anyhow::Result;
use lafs_client::aliases::{add_alias, check_name, parse_dircap, AliasError};

/// `lafs create-alias NAME`.
#[derive(Debug, clap::Args)]
pub struct CreateAliasArgs {
    #[command(flatten)]
    pub src: ClientSource,
    /// The alias to create (a trailing colon is ignored).
    pub alias: String,
}

/// `lafs add-alias NAME CAP`.
#[derive(Debug, clap::Args)]
pub struct AddAliasArgs {
    #[command(flatten)]
    pub src: ClientSource,
    /// The alias name (a trailing colon is ignored).
    pub alias: String,
    /// A directory cap.
    pub cap: String,
}

/// `lafs list-aliases`.
#[derive(Debug, clap::Args)]
pub struct ListAliasesArgs {
    #[command(flatten)]
    pub src: ClientSource,
    /// Print `{name: {"readwrite", "readonly"}}` as JSON.
    #[arg(long)]
    pub json: bool,
    /// Show read-only caps.
    #[arg(long)]
    pub readonly_uri: bool,
}

/// `lafs create-alias`: make a directory and name it.
pub fn create(a: CreateAliasArgs) -> Result<()> {
    let name = check_name(&a.alias)?;
    let nodedir = a.src.nodedir()?;
    // Refuse before spending a directory on it.
    if load_aliases(&a.src)?.get(name).is_some() {
        return Err(AliasError::Exists(name.into()).into());
    }
    let s = Session::open(&a.src)?;
    let cap = s.block_on(s.client.mkdir(None, &[], None))?;
    add_alias(&nodedir, name, &cap)?;
    println!("Alias '{name}' created");
    Ok(())
}

/// `lafs add-alias`.
pub fn add(a: AddAliasArgs) -> Result<()> {
    let name = check_name(&a.alias)?;
    let cap = parse_dircap(a.cap.trim())?;
    add_alias(&a.src.nodedir()?, name, &cap)?;
    println!("Alias '{name}' added");
    Ok(())
}

/// `lafs list-aliases`: `  name: cap` right-aligned as Tahoe prints it,
/// or JSON.
pub fn list(a: ListAliasesArgs) -> Result<()> {
    let aliases = load_aliases(&a.src)?;
    let mut rows = Vec::new();
    let mut json = serde_json::Map::new();
    for (name, text) in aliases.sorted() {
        let cap = parse_dircap(text)?;
        let rw = cap.to_string();
        let ro = cap.readonly().to_string();
        rows.push((
            name,
            if a.readonly_uri {
                ro.clone()
            } else {
                rw.clone()
            },
        ));
        json.insert(
            name.into(),
            serde_json::json!({"readwrite": rw, "readonly": ro}),
        );
    }
    if a.json {
        println!(
            "{}",
            crate::ls::python_json(&serde_json::Value::Object(json), 4)
        );
        return Ok(());
    }
    // Tahoe pads to the widest *quoted* name: len(name) + 2.
    let width = rows
        .iter()
        .map(|(n, _)| n.chars().count() + 2)
        .max()
        .unwrap_or(0);
    for (name, cap) in rows {
        println!("{name:>width$}: {cap}");
    }
    Ok(())
}
