//! Tahoe's aliases (`scripts/common.py` `get_aliases` / `get_alias`,
//! `tahoe_add_alias.py`): `NODEDIR/private/aliases`, one `name: cap` per
//! line, plus `private/root_dir.cap` as the `tahoe` alias.
//!
//! File format, as Tahoe 1.20 reads it:
//!
//! ```text
//! # comment lines and blank lines are skipped
//! name: URI:DIR2:…          split at the first ':', both sides stripped
//! ```
//!
//! Writing appends `"{name}: {cap}\n"` to the existing text (adding a
//! missing final newline), writes `aliases.tmp` and renames it into place,
//! so a crash never leaves a half-written alias file and other lines
//! (comments included) survive byte for byte.
//!
//! Arguments (`get_alias`): `URI:…[/path]` or `URI:…:./path` is a bare cap;
//! `name:path` uses alias `name` unless the part before the colon contains
//! `/` (then the whole argument is a path in the default alias); no colon
//! means the default alias (`tahoe`). For `cp`, an argument with no alias
//! is local ([`parse_arg`] with `default: None`), and on Windows a
//! one-letter alias is a drive letter.

use lafs_format::cap::{Cap, CapError};
use std::path::{Path, PathBuf};

/// The alias used when an argument names none.
pub const DEFAULT_ALIAS: &str = "tahoe";

/// Why an alias operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AliasError {
    /// The alias file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line has no colon.
    #[error("{path} line {line}: no ':' between alias name and cap")]
    BadLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// No such alias.
    #[error("Unknown alias '{0}', please create it with 'lafs add-alias' or 'lafs create-alias'.")]
    Unknown(String),
    /// No alias given and no default alias.
    #[error("No alias specified, and the default 'tahoe' alias doesn't exist. To create it, use 'lafs create-alias tahoe'.")]
    NoDefault,
    /// Alias names cannot contain colons or spaces, nor be empty.
    #[error("Alias names cannot contain colons or spaces, nor be empty ({0:?}).")]
    BadName(String),
    /// The alias exists already.
    #[error("Alias '{0}' already exists!")]
    Exists(String),
    /// The cap is not a directory cap.
    #[error("{0} is not a directory cap")]
    NotADirectory(String),
    /// The cap does not parse.
    #[error("bad cap {text:?}: {error}")]
    BadCap {
        /// The text (a prefix, to keep messages short).
        text: String,
        /// Why.
        error: CapError,
    },
}

/// The aliases of a node, in file order (`root_dir.cap` first).
#[derive(Clone, Default)]
pub struct Aliases {
    entries: Vec<(String, String)>,
}

impl std::fmt::Debug for Aliases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Caps are secrets: names only.
        f.debug_list()
            .entries(self.entries.iter().map(|(n, _)| n))
            .finish()
    }
}

/// `NODEDIR/private/aliases`.
pub fn alias_file(nodedir: &Path) -> PathBuf {
    nodedir.join("private").join("aliases")
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AliasError + '_ {
    move |source| AliasError::Io {
        path: path.to_owned(),
        source,
    }
}

impl Aliases {
    /// Read a node's aliases (missing files mean none).
    pub fn load(nodedir: &Path) -> Result<Self, AliasError> {
        let mut a = Aliases::default();
        let root = nodedir.join("private").join("root_dir.cap");
        match std::fs::read_to_string(&root) {
            Ok(s) if !s.trim().is_empty() => a.set(DEFAULT_ALIAS, s.trim()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&root)(e)),
        }
        let path = alias_file(nodedir);
        match std::fs::read_to_string(&path) {
            Ok(s) => a.parse_into(&s, &path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path)(e)),
        }
        Ok(a)
    }

    /// Parse alias-file text (`path` for messages).
    pub fn parse(text: &str, path: &Path) -> Result<Self, AliasError> {
        let mut a = Aliases::default();
        a.parse_into(text, path)?;
        Ok(a)
    }

    fn parse_into(&mut self, text: &str, path: &Path) -> Result<(), AliasError> {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, cap) = line.split_once(':').ok_or_else(|| AliasError::BadLine {
                path: path.to_owned(),
                line: i + 1,
            })?;
            // Python strips only the cap; a later line wins (dict).
            self.set(name, cap.trim());
        }
        Ok(())
    }

    fn set(&mut self, name: &str, cap: &str) {
        match self.entries.iter_mut().find(|(n, _)| n == name) {
            Some(e) => e.1 = cap.to_owned(),
            None => self.entries.push((name.to_owned(), cap.to_owned())),
        }
    }

    /// The cap text of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.as_str())
    }

    /// `(name, cap text)` sorted by name, as `list-aliases` shows them.
    pub fn sorted(&self) -> Vec<(&str, &str)> {
        let mut v: Vec<(&str, &str)> = self
            .entries
            .iter()
            .map(|(n, c)| (n.as_str(), c.as_str()))
            .collect();
        v.sort();
        v
    }

    /// The directory cap of `name`.
    pub fn dircap(&self, name: &str) -> Result<Cap, AliasError> {
        let text = self
            .get(name)
            .ok_or_else(|| AliasError::Unknown(name.into()))?;
        parse_dircap(text)
    }
}

/// Parse a directory cap (Tahoe's `from_string_dirnode`).
pub fn parse_dircap(text: &str) -> Result<Cap, AliasError> {
    let cap = Cap::parse(text).map_err(|error| AliasError::BadCap {
        text: text.chars().take(20).collect(),
        error,
    })?;
    if !cap.is_dir() {
        return Err(AliasError::NotADirectory(text.chars().take(20).collect()));
    }
    Ok(cap)
}

/// Check an alias name (Tahoe strips one trailing colon first).
pub fn check_name(name: &str) -> Result<&str, AliasError> {
    let n = name.strip_suffix(':').unwrap_or(name);
    if n.is_empty() || n.contains(':') || n.contains(' ') {
        return Err(AliasError::BadName(name.into()));
    }
    Ok(n)
}

/// Add `name: cap` to the node's alias file, atomically (tmp + rename);
/// refuses an existing name. `cap` must be a directory cap.
pub fn add_alias(nodedir: &Path, name: &str, cap: &Cap) -> Result<(), AliasError> {
    let name = check_name(name)?;
    if !cap.is_dir() {
        return Err(AliasError::NotADirectory(
            cap.to_string().chars().take(20).collect(),
        ));
    }
    if Aliases::load(nodedir)?.get(name).is_some() {
        return Err(AliasError::Exists(name.into()));
    }
    let path = alias_file(nodedir);
    let mut text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io(&path)(e)),
    };
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("{name}: {cap}\n"));
    let tmp = path.with_extension("tmp");
    write_private(&tmp, &text).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))
}

/// Write a file readable by its owner only (it holds caps).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// What a path argument names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A place on the grid: the root directory's cap text and a path
    /// below it (may be empty).
    Grid {
        /// The root's cap text (an alias's cap, or the bare cap given).
        root: String,
        /// `/`-separated path below the root.
        path: String,
    },
    /// No alias (only when parsing with `default: None`): a local path.
    Local(String),
}

fn has_uri_prefix(s: &str) -> bool {
    s.starts_with("URI:") || s.starts_with("ro.URI:") || s.starts_with("imm.URI:")
}

/// Tahoe's `get_alias`: split an argument into root and path.
/// `default: None` makes alias-less arguments [`Target::Local`] (`cp`).
pub fn parse_arg(
    aliases: &Aliases,
    arg: &str,
    default: Option<&str>,
) -> Result<Target, AliasError> {
    let arg = arg.trim_matches(' ');
    if has_uri_prefix(arg) {
        // Old form `URI:…:./path`, new form `URI:…/path`.
        let (root, path) = match arg.find(":./") {
            Some(i) => (&arg[..i], &arg[i + 3..]),
            None => match arg.find('/') {
                Some(i) => (&arg[..i], &arg[i + 1..]),
                None => (arg, ""),
            },
        };
        return Ok(Target::Grid {
            root: root.into(),
            path: path.into(),
        });
    }
    let in_default = |path: &str| -> Result<Target, AliasError> {
        match default {
            None => Ok(Target::Local(path.into())),
            Some(d) => Ok(Target::Grid {
                root: aliases.get(d).ok_or(AliasError::NoDefault)?.into(),
                path: path.into(),
            }),
        }
    };
    let Some(colon) = arg.find(':') else {
        return in_default(arg);
    };
    // `C:\x` on Windows is a drive, not alias "C".
    if colon == 1 && default.is_none() && cfg!(windows) {
        return Ok(Target::Local(arg.into()));
    }
    let alias = &arg[..colon];
    if alias.contains('/') {
        // `foo/bar:7`: a colon inside a name.
        return in_default(arg);
    }
    let root = aliases
        .get(alias)
        .ok_or_else(|| AliasError::Unknown(alias.into()))?;
    Ok(Target::Grid {
        root: root.into(),
        path: arg[colon + 1..].into(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn aliases() -> Aliases {
        Aliases::parse(
            "# mine\n\ntahoe: URI:DIR2:aa:bb\nwork:URI:DIR2-RO:cc:dd  \nwork2 : x\n",
            Path::new("a"),
        )
        .unwrap()
    }

    fn grid(root: &str, path: &str) -> Target {
        Target::Grid {
            root: root.into(),
            path: path.into(),
        }
    }

    #[test]
    fn parses_like_get_aliases() {
        let a = aliases();
        assert_eq!(a.get("tahoe"), Some("URI:DIR2:aa:bb"));
        assert_eq!(a.get("work"), Some("URI:DIR2-RO:cc:dd"));
        // Python does not strip the name.
        assert_eq!(a.get("work2 "), Some("x"));
        assert!(Aliases::parse("nocolon\n", Path::new("f")).is_err());
    }

    #[test]
    fn get_alias_rules() {
        let a = aliases();
        let p = |s, d| parse_arg(&a, s, d).unwrap();
        assert_eq!(
            p("work:x/y", Some("tahoe")),
            grid("URI:DIR2-RO:cc:dd", "x/y")
        );
        assert_eq!(p("x/y", Some("tahoe")), grid("URI:DIR2:aa:bb", "x/y"));
        assert_eq!(p("x/y", None), Target::Local("x/y".into()));
        assert_eq!(
            p("dir/a:b", Some("tahoe")),
            grid("URI:DIR2:aa:bb", "dir/a:b")
        );
        assert_eq!(p("dir/a:b", None), Target::Local("dir/a:b".into()));
        assert_eq!(p("URI:DIR2:q:r/s/t", None), grid("URI:DIR2:q:r", "s/t"));
        assert_eq!(p("URI:DIR2:q:r:./s", None), grid("URI:DIR2:q:r", "s"));
        assert_eq!(p(" URI:CHK:q ", None), grid("URI:CHK:q", ""));
        assert_eq!(p("work:", None), grid("URI:DIR2-RO:cc:dd", ""));
        assert!(matches!(
            parse_arg(&a, "nope:x", None),
            Err(AliasError::Unknown(n)) if n == "nope"
        ));
        assert!(matches!(
            parse_arg(&Aliases::default(), "x", Some(DEFAULT_ALIAS)),
            Err(AliasError::NoDefault)
        ));
    }

    #[test]
    fn names() {
        assert_eq!(check_name("work:").unwrap(), "work");
        assert!(check_name("a b").is_err());
        assert!(check_name("a:b").is_err());
        assert!(check_name(":").is_err());
    }
}
