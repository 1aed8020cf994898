//! Request arguments as Tahoe reads them: the query string merged with a
//! urlencoded or multipart form body (`req.args`), with Tahoe's boolean
//! spellings and its `replace=` / `format=` / `mutable=` conventions.

use crate::error::WebError;
use lafs_client::{FileFormat, Replace};
use lafs_format::cap::MutableFormat;
use std::collections::HashMap;

/// Query and form arguments (the first value of each name wins, as
/// Tahoe's `get_arg` returns the first).
#[derive(Debug, Default, Clone)]
pub struct Args {
    map: HashMap<String, String>,
}

impl Args {
    /// Parse a raw query string.
    pub fn from_query(q: Option<&str>) -> Self {
        let mut a = Args::default();
        if let Some(q) = q {
            a.add_urlencoded(q.as_bytes());
        }
        a
    }

    /// Add `application/x-www-form-urlencoded` fields (not overriding).
    pub fn add_urlencoded(&mut self, body: &[u8]) {
        for (k, v) in form_urlencoded::parse(body) {
            self.map.entry(k.into_owned()).or_insert(v.into_owned());
        }
    }

    /// Add one field (not overriding).
    pub fn add(&mut self, k: String, v: String) {
        self.map.entry(k).or_insert(v);
    }

    /// A raw value.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.map.get(k).map(String::as_str)
    }

    /// `t=`, empty when absent.
    pub fn t(&self) -> &str {
        self.get("t").unwrap_or("")
    }

    /// A boolean in Tahoe's spellings (`boolean_of_arg`).
    pub fn flag(&self, k: &str, default: bool) -> Result<bool, WebError> {
        match self.get(k) {
            None => Ok(default),
            Some(v) => parse_bool(v)
                .ok_or_else(|| WebError::BadRequest(format!("invalid boolean argument: {v:?}"))),
        }
    }

    /// `replace=` (or the older `overwrite=`): true, false or only-files.
    pub fn replace(&self) -> Result<Replace, WebError> {
        let v = self.get("replace").or_else(|| self.get("overwrite"));
        match v {
            None => Ok(Replace::Yes),
            Some(s) if s.eq_ignore_ascii_case("only-files") => Ok(Replace::OnlyFiles),
            Some(s) => match parse_bool(s) {
                Some(true) => Ok(Replace::Yes),
                Some(false) => Ok(Replace::No),
                None => Err(WebError::BadRequest(format!(
                    "invalid replace= argument: {s:?}"
                ))),
            },
        }
    }

    /// The file format asked for: `format=CHK|SDMF|MDMF`, or the legacy
    /// `mutable=true` (SDMF, or `mutable-type=mdmf`). `None` = default.
    pub fn file_format(&self) -> Result<Option<FileFormat>, WebError> {
        if let Some(f) = self.get("format").filter(|s| !s.is_empty()) {
            return FileFormat::parse(f)
                .map(Some)
                .ok_or_else(|| WebError::BadRequest(format!("Unknown format: {f}")));
        }
        if self.flag("mutable", false)? {
            let mdmf = self
                .get("mutable-type")
                .is_some_and(|m| m.eq_ignore_ascii_case("mdmf"));
            return Ok(Some(if mdmf {
                FileFormat::Mdmf
            } else {
                FileFormat::Sdmf
            }));
        }
        Ok(None)
    }

    /// The directory format asked for (`format=SDMF|MDMF`; CHK is refused
    /// for mutable directories, as Tahoe does).
    pub fn dir_format(&self) -> Result<Option<MutableFormat>, WebError> {
        match self.get("format").filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(f) => match FileFormat::parse(f) {
                Some(FileFormat::Sdmf) => Ok(Some(MutableFormat::Sdmf)),
                Some(FileFormat::Mdmf) => Ok(Some(MutableFormat::Mdmf)),
                _ => Err(WebError::BadRequest(format!("Unknown format: {f}"))),
            },
        }
    }
}

/// Tahoe's `boolean_of_arg`.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "on" | "yes" => Some(true),
        "false" | "f" | "0" | "off" | "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tahoe_arguments() {
        let a = Args::from_query(Some("t=json&replace=only-files&format=mdmf&x=%41"));
        assert_eq!(a.t(), "json");
        assert_eq!(a.get("x"), Some("A"));
        assert!(matches!(a.replace(), Ok(Replace::OnlyFiles)));
        assert!(matches!(a.file_format(), Ok(Some(FileFormat::Mdmf))));
        let b = Args::from_query(Some("mutable=true&overwrite=false"));
        assert!(matches!(b.file_format(), Ok(Some(FileFormat::Sdmf))));
        assert!(matches!(b.replace(), Ok(Replace::No)));
        assert!(Args::from_query(Some("format=zip")).file_format().is_err());
        assert!(Args::from_query(Some("format=chk")).dir_format().is_err());
    }
}
