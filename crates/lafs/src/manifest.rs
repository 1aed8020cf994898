//! `lafs manifest [--storage-index|--verify-cap|--repair-cap|--raw] PATH`
//! and `lafs deep-stats [--raw] PATH`: Tahoe's `tahoe_manifest.py`
//! outputs over [`lafs_client::Client::deep_walk`].
//!
//! * manifest: `CAP PATH` per node (the root's path is empty, so its line
//!   ends in a space), or one field per line, or `--raw` JSON lines as
//!   the web API's `t=stream-manifest` emits them;
//! * deep-stats: "Counts and Total Sizes:" with Tahoe's key list, sizes
//!   over 1000 followed by `(SI, binary)` abbreviations, then the size
//!   histogram; `--raw` prints the JSON.

use crate::create_client::ClientSource;
use crate::grid_cli::Session;
use crate::ls::python_json;
use anyhow::Result;
use lafs_client::ManifestEntry;
use lafs_format::base32;
use lafs_format::cap::ChildCap;
use serde_json::{json, Value};

/// Arguments of `lafs manifest`.
#[derive(Debug, clap::Args)]
pub struct ManifestArgs {
    #[command(flatten)]
    pub src: ClientSource,
    /// Print only storage indexes.
    #[arg(short = 's', long, group = "only")]
    pub storage_index: bool,
    /// Print only verify caps.
    #[arg(long, group = "only")]
    pub verify_cap: bool,
    /// Print only repair caps (write caps where held, else read caps).
    #[arg(long, group = "only")]
    pub repair_cap: bool,
    /// Print JSON lines (`t=stream-manifest`).
    #[arg(short = 'r', long, group = "only")]
    pub raw: bool,
    /// The directory to walk.
    #[arg(default_value = "")]
    pub path: String,
}

/// Arguments of `lafs deep-stats`.
#[derive(Debug, clap::Args)]
pub struct DeepStatsArgs {
    #[command(flatten)]
    pub src: ClientSource,
    /// Print the JSON.
    #[arg(short = 'r', long)]
    pub raw: bool,
    /// The directory to walk.
    #[arg(default_value = "")]
    pub path: String,
}

/// One `t=stream-manifest` line for an entry.
pub fn entry_json(e: &ManifestEntry) -> Value {
    let (cap, verify, si) = match &e.cap {
        ChildCap::Known(c) => (
            c.to_string(),
            c.verifier().map(|v| v.to_string()),
            c.storage_index().map(|si| base32::encode(&si.0)),
        ),
        ChildCap::Unknown(u) => (u.text.clone(), None, None),
    };
    json!({
        "type": e.kind(),
        "path": e.path,
        "cap": cap,
        "verifycap": verify,
        "repaircap": cap,
        "storage-index": si.unwrap_or_default(),
    })
}

/// `lafs manifest`.
pub fn manifest(a: ManifestArgs) -> Result<()> {
    let s = Session::open(&a.src)?;
    let place = s.place(&a.path)?;
    let root = s.block_on(s.client.resolve(&place.root, &place.path))?.cap;
    let (entries, _) = s.block_on(s.client.deep_walk(&root))?;
    for e in &entries {
        let j = entry_json(e);
        if a.raw {
            println!("{}", serde_json::to_string(&j)?);
            continue;
        }
        if !matches!(e.kind(), "file" | "directory") {
            continue;
        }
        let field = |k: &str| j[k].as_str().filter(|v| !v.is_empty()).map(str::to_string);
        let line = if a.storage_index {
            field("storage-index")
        } else if a.verify_cap {
            field("verifycap")
        } else if a.repair_cap {
            field("repaircap")
        } else {
            Some(format!(
                "{} {}",
                j["cap"].as_str().unwrap_or(""),
                e.path.join("/")
            ))
        };
        if let Some(l) = line {
            println!("{l}");
        }
    }
    Ok(())
}

/// Tahoe's `abbreviate_space`: `"%d B"` under 1024, else two decimals of
/// k/M/G/T/P with `B` (SI, powers of 1000) or `iB` (powers of 1024).
pub fn abbreviate_space(s: u64, si: bool) -> String {
    let (u, suffix) = if si { (1000f64, "B") } else { (1024f64, "iB") };
    if s < 1024 {
        return format!("{s} B");
    }
    let v = s as f64;
    for (i, p) in ["k", "M", "G", "T", "P"].iter().enumerate() {
        let scale = u.powi(i32::try_from(i).unwrap_or(0) + 1);
        if v < scale * u {
            return format!("{:.2} {p}{suffix}", v / scale);
        }
    }
    format!("{:.2} E{suffix}", v / u.powi(6))
}

fn both(s: u64) -> String {
    format!(
        "({}, {})",
        abbreviate_space(s, true),
        abbreviate_space(s, false)
    )
}

/// `lafs deep-stats`.
pub fn deep_stats(a: DeepStatsArgs) -> Result<()> {
    let s = Session::open(&a.src)?;
    let place = s.place(&a.path)?;
    let root = s.block_on(s.client.resolve(&place.root, &place.path))?.cap;
    let (_, stats) = s.block_on(s.client.deep_walk(&root))?;
    let mut j = stats.to_json();
    if a.raw {
        if let Some(o) = j.as_object_mut() {
            o.insert("api-version".into(), json!(1));
        }
        println!("{}", python_json(&j, 1));
        return Ok(());
    }
    print!("{}", format_stats(&j));
    Ok(())
}

/// The human-readable deep-stats text (`StatsGrabber.write_results`).
pub fn format_stats(j: &Value) -> String {
    const KEYS: [&str; 11] = [
        "count-immutable-files",
        "count-mutable-files",
        "count-literal-files",
        "count-files",
        "count-directories",
        "size-immutable-files",
        "size-mutable-files",
        "size-literal-files",
        "size-directories",
        "largest-directory",
        "largest-immutable-file",
    ];
    let width = KEYS.iter().map(|k| k.len()).max().unwrap_or(0);
    let mut out = String::from("Counts and Total Sizes:\n");
    for k in KEYS {
        let Some(v) = j.get(k).and_then(Value::as_u64) else {
            continue;
        };
        if !k.starts_with("count-") && v > 1000 {
            out.push_str(&format!("{k:>width$}: {v}    {}\n", both(v)));
        } else {
            out.push_str(&format!("{k:>width$}: {v}\n"));
        }
    }
    let hist: Vec<(u64, u64, u64)> = j["size-files-histogram"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t[0].as_u64()?, t[1].as_u64()?, t[2].as_u64()?)))
        .collect();
    if !hist.is_empty() {
        out.push_str("Size Histogram:\n");
        let maxlen = hist
            .iter()
            .map(|h| h.1.to_string().len())
            .max()
            .unwrap_or(1);
        let countlen = hist
            .iter()
            .map(|h| h.2.to_string().len())
            .max()
            .unwrap_or(1);
        let mut prevmax: Option<u64> = None;
        for (lo, hi, n) in hist {
            if prevmax.is_some_and(|p| lo != p + 1) {
                out.push_str(&format!("{}...\n", " ".repeat(maxlen - 1)));
            }
            prevmax = Some(hi);
            out.push_str(&format!(
                "{lo:>maxlen$}-{hi:<maxlen$} : {n:<countlen$}    {}\n",
                both(hi)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviations() {
        assert_eq!(abbreviate_space(1000, true), "1000 B");
        assert_eq!(abbreviate_space(5000, true), "5.00 kB");
        assert_eq!(abbreviate_space(5000, false), "4.88 kiB");
        assert_eq!(abbreviate_space(3_000_000, true), "3.00 MB");
    }

    #[test]
    fn stats_text() {
        let j = json!({"count-files": 2, "size-immutable-files": 5000,
            "size-files-histogram": [[1, 3, 1], [3163, 10000, 1]]});
        assert_eq!(
            format_stats(&j),
            "Counts and Total Sizes:\n\
             \x20          count-files: 2\n\
             \x20 size-immutable-files: 5000    (5.00 kB, 4.88 kiB)\n\
             Size Histogram:\n\
             \x20   1-3     : 1    (3 B, 3 B)\n\
             \x20   ...\n\
             3163-10000 : 1    (10.00 kB, 9.77 kiB)\n"
        );
    }
}
