//! # Directory bodies (spec §6; Tahoe `dirnode.py`)
//!
//! A directory is the plaintext of a mutable file (`DIR2`, `DIR2-MDMF`) or
//! of an immutable one (`DIR2-CHK`, `DIR2-LIT`). The body is a sequence of
//! netstring-wrapped entries, one per child, sorted by name in code-point
//! order after NFC normalization (an empty directory is the empty string):
//!
//! ```text
//! body  = netstring(entry) ...
//! entry = netstring(name UTF-8) || netstring(ro_uri) || netstring(rwcapdata) || netstring(metadata JSON)
//! rwcapdata (mutable dirs, always present, 48 bytes for a read-only child):
//!   | 0..16  | salt = H_DIRNODE_CHILD_SALT(rw_uri)[:16] (deterministic) |
//!   | 16..-32| AES-128-CTR(key, iv 0, rw_uri), key = H_pair(DIRNODE_CHILD_WRITECAP, salt, writekey)[:16] |
//!   | -32..  | Tahoe "hmac"(key, salt || ciphertext) (not RFC 2104; readers ignore it) |
//! rwcapdata (immutable dirs): empty; anything else is an error
//! ```
//!
//! * `ro_uri`: mutable dirs strip a leading `ro.` and keep `imm.`;
//!   immutable dirs strip both. Unknown caps are stored verbatim otherwise.
//! * Readers `rstrip(b" ")` both caps; empty means absent.
//! * metadata is Python `json.dumps(metadata)` byte for byte: `", "` and
//!   `": "` separators, insertion order, `ensure_ascii` escapes, floats in
//!   Python `repr` ([`python_json`]). serde_json's `preserve_order` keeps the
//!   insertion order through a parse.
//!
//! * Repacking keeps the stored bytes of every child that was not changed
//!   since [`unpack`] (Python repacks from its `AuxValueDict` cache), so
//!   entries written by old Tahoe versions survive byte for byte.
//!
//! This module works on bytes only: whether a cap is well formed, or may
//! live in an immutable directory, is the cap layer's business (Tahoe's
//! reader skips such children; the caller does that here).
//!
//! Must never: panic on any body ([`unpack`] is proptested and fuzzed),
//! or print a child's write cap (`Child`'s `Debug` redacts it).

use crate::aes::aes128_ctr;
use crate::hash::tahoe_hmac;
use crate::keys::{dirnode as dkeys, WriteKey};
use crate::netstring::{self, NetstringError};
use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

/// Prefix of a read-only cap of unknown type in a directory (stripped).
pub const RO_PREFIX: &[u8] = b"ro.";
/// Prefix of an alleged-immutable cap of unknown type.
pub const IMM_PREFIX: &[u8] = b"imm.";

/// Why a directory body could not be packed or unpacked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DirnodeError {
    /// The body or an entry is not a sequence of netstrings.
    #[error("bad netstring in directory body: {0}")]
    Netstring(#[from] NetstringError),
    /// A child's name is not UTF-8.
    #[error("child name is not UTF-8")]
    NameNotUtf8,
    /// A child's metadata is not a JSON object.
    #[error("metadata of child {name:?} is not a JSON object")]
    BadMetadata {
        /// The child.
        name: String,
    },
    /// An immutable directory entry carries write-cap data.
    #[error("child {name:?} of an immutable directory has write-cap data")]
    WriteCapInImmutable {
        /// The child.
        name: String,
    },
    /// Metadata holds a value Python's `json.dumps` would not write
    /// (a non-finite float).
    #[error("metadata of child {name:?} cannot be serialized like Python")]
    UnserializableMetadata {
        /// The child.
        name: String,
    },
}

/// One directory entry.
#[derive(Clone)]
pub struct Child {
    /// The name (NFC-normalized on pack and unpack).
    pub name: String,
    /// Write cap, if any (secret).
    pub rw_uri: Option<Zeroizing<Vec<u8>>>,
    /// Read cap, if any, as stored (after prefix stripping).
    pub ro_uri: Option<Vec<u8>>,
    /// The metadata object, in insertion order.
    pub metadata: Map<String, Value>,
    /// The entry as stored, and what we would have packed for it at unpack
    /// time. Python keeps unmodified entries' stored bytes when it repacks a
    /// directory (`AuxValueDict`), so old entries (random rwcap salts,
    /// Python 2 float reprs) survive byte for byte; [`pack`] reuses them
    /// while the child still packs to the same canonical bytes.
    stored: Option<StoredEntry>,
}

#[derive(Clone)]
struct StoredEntry {
    canonical: Zeroizing<Vec<u8>>,
    raw: Zeroizing<Vec<u8>>,
}

impl PartialEq for Child {
    /// Children are equal when their content is; how they were stored does
    /// not matter.
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.rw_uri == other.rw_uri
            && self.ro_uri == other.ro_uri
            && self.metadata == other.metadata
    }
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Child")
            .field("name", &self.name)
            .field("rw_uri", &self.rw_uri.as_ref().map(|_| "<redacted>"))
            .field(
                "ro_uri",
                &self.ro_uri.as_ref().map(|r| String::from_utf8_lossy(r)),
            )
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl Child {
    /// A child with the given caps and metadata.
    pub fn new(
        name: &str,
        rw_uri: Option<&[u8]>,
        ro_uri: Option<&[u8]>,
        metadata: Map<String, Value>,
    ) -> Self {
        Child {
            name: name.to_string(),
            rw_uri: rw_uri.map(|r| Zeroizing::new(r.to_vec())),
            ro_uri: ro_uri.map(<[u8]>::to_vec),
            metadata,
            stored: None,
        }
    }
}

/// What kind of directory a body belongs to.
#[derive(Clone, Copy, Debug)]
pub enum DirKind<'a> {
    /// A mutable directory; `Some(writekey)` to see (or write) write caps.
    Mutable(Option<&'a WriteKey>),
    /// An immutable (deep-immutable) directory.
    Immutable,
}

/// Encrypt a child's write cap into rwcapdata (spec §6).
pub fn encrypt_rw_uri(writekey: &WriteKey, rw_uri: &[u8]) -> Vec<u8> {
    let salt = dkeys::child_salt(rw_uri);
    let key = dkeys::child_key(&salt, writekey);
    let ct = aes128_ctr(key.as_bytes(), rw_uri);
    let mut out = Vec::with_capacity(48 + ct.len());
    out.extend_from_slice(&salt);
    out.extend_from_slice(&ct);
    let mac = tahoe_hmac(key.as_bytes(), &out);
    out.extend_from_slice(&mac);
    out
}

/// Decrypt rwcapdata; the MAC is ignored, as Tahoe does. Data shorter than
/// salt + MAC holds no ciphertext, so it decrypts to the empty string (as
/// Python's slicing does).
pub fn decrypt_rw_uri(writekey: &WriteKey, rwcapdata: &[u8]) -> Zeroizing<Vec<u8>> {
    if rwcapdata.len() <= 48 {
        return Zeroizing::new(Vec::new());
    }
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&rwcapdata[..16]);
    let key = dkeys::child_key(&salt, writekey);
    Zeroizing::new(aes128_ctr(
        key.as_bytes(),
        &rwcapdata[16..rwcapdata.len() - 32],
    ))
}

fn strip_ro_prefix(ro: &[u8], immutable: bool) -> &[u8] {
    if let Some(rest) = ro.strip_prefix(IMM_PREFIX) {
        if immutable {
            rest
        } else {
            ro
        }
    } else {
        ro.strip_prefix(RO_PREFIX).unwrap_or(ro)
    }
}

/// Pack a directory body. Names are NFC-normalized; a later child with the
/// same normalized name replaces an earlier one (Python builds a dict).
/// A mutable directory needs its writekey. Unmodified children read by
/// [`unpack`] keep their stored entry bytes, as in Python.
pub fn pack(children: &[Child], kind: PackKind<'_>) -> Result<Vec<u8>, DirnodeError> {
    let mut norm: Vec<(String, &Child)> = Vec::with_capacity(children.len());
    for c in children {
        let name: String = c.name.nfc().collect();
        match norm.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = c,
            None => norm.push((name, c)),
        }
    }
    // Rust's `str` order is byte order of UTF-8, which is code-point order,
    // the order of Python's `sorted()` on `str`.
    norm.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::new();
    for (name, c) in norm {
        let entry = pack_entry(&name, c, kind)?;
        match &c.stored {
            Some(st) if *st.canonical == *entry => netstring::write(&mut out, &st.raw),
            _ => netstring::write(&mut out, &entry),
        }
    }
    Ok(out)
}

/// One entry's canonical bytes (without the outer netstring).
fn pack_entry(
    name: &str,
    c: &Child,
    kind: PackKind<'_>,
) -> Result<Zeroizing<Vec<u8>>, DirnodeError> {
    let immutable = matches!(kind, PackKind::Immutable);
    let ro = strip_ro_prefix(c.ro_uri.as_deref().unwrap_or(&[]), immutable);
    let rw: &[u8] = c.rw_uri.as_deref().map(Vec::as_slice).unwrap_or(&[]);
    let rwcapdata = match kind {
        PackKind::Mutable(wk) => encrypt_rw_uri(wk, rw),
        PackKind::Immutable => {
            if !rw.is_empty() {
                return Err(DirnodeError::WriteCapInImmutable { name: name.into() });
            }
            Vec::new()
        }
    };
    let md = python_json::dumps_object(&c.metadata)
        .ok_or_else(|| DirnodeError::UnserializableMetadata { name: name.into() })?;
    let mut entry = Zeroizing::new(Vec::new());
    netstring::write(&mut entry, name.as_bytes());
    netstring::write(&mut entry, ro);
    netstring::write(&mut entry, &rwcapdata);
    netstring::write(&mut entry, md.as_bytes());
    Ok(entry)
}

/// How to pack: mutable directories need the writekey.
#[derive(Clone, Copy, Debug)]
pub enum PackKind<'a> {
    /// A mutable directory.
    Mutable(&'a WriteKey),
    /// An immutable directory.
    Immutable,
}

/// Unpack a directory body into its children, in stored order (a later
/// duplicate name replaces the earlier entry, as in Python's dict).
pub fn unpack(data: &[u8], kind: DirKind<'_>) -> Result<Vec<Child>, DirnodeError> {
    let mut out: Vec<Child> = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (entry, tail) = netstring::split(rest)?;
        rest = tail;
        // Python's split_netstring(entry, 4) ignores bytes after the fourth.
        let (name, e) = netstring::split(entry)?;
        let (ro, e) = netstring::split(e)?;
        let (rwcapdata, e) = netstring::split(e)?;
        let (md, _) = netstring::split(e)?;
        let name: String = std::str::from_utf8(name)
            .map_err(|_| DirnodeError::NameNotUtf8)?
            .nfc()
            .collect();
        let rw_uri = match kind {
            DirKind::Immutable => {
                if !rwcapdata.is_empty() {
                    return Err(DirnodeError::WriteCapInImmutable { name });
                }
                None
            }
            DirKind::Mutable(None) => None,
            DirKind::Mutable(Some(wk)) => {
                let mut rw = decrypt_rw_uri(wk, rwcapdata);
                let keep = rw.iter().rposition(|&b| b != b' ').map_or(0, |p| p + 1);
                rw.truncate(keep);
                (!rw.is_empty()).then_some(rw)
            }
        };
        let ro = &ro[..ro.iter().rposition(|&b| b != b' ').map_or(0, |p| p + 1)];
        let ro_uri = (!ro.is_empty()).then(|| ro.to_vec());
        let metadata = match serde_json::from_slice::<Value>(md) {
            Ok(Value::Object(m)) => m,
            _ => return Err(DirnodeError::BadMetadata { name }),
        };
        let mut child = Child {
            name,
            rw_uri,
            ro_uri,
            metadata,
            stored: None,
        };
        // Remember the stored bytes for a later repack (see `Child`), when
        // we can repack at all (a read-only holder cannot).
        let pack_kind = match kind {
            DirKind::Mutable(Some(wk)) => Some(PackKind::Mutable(wk)),
            DirKind::Immutable => Some(PackKind::Immutable),
            DirKind::Mutable(None) => None,
        };
        if let Some(pk) = pack_kind {
            if let Ok(canonical) = pack_entry(&child.name, &child, pk) {
                child.stored = Some(StoredEntry {
                    canonical,
                    raw: Zeroizing::new(entry.to_vec()),
                });
            }
        }
        match out.iter_mut().find(|c| c.name == child.name) {
            Some(slot) => *slot = child,
            None => out.push(child),
        }
    }
    Ok(out)
}

/// Python-compatible `json.dumps` (default arguments) for metadata.
pub mod python_json {
    use serde_json::{Map, Number, Value};
    use std::fmt::Write;

    /// `json.dumps(obj)` for an object; `None` for non-finite floats.
    pub fn dumps_object(m: &Map<String, Value>) -> Option<String> {
        let mut s = String::new();
        write_object(&mut s, m)?;
        Some(s)
    }

    /// `json.dumps(value)`; `None` for non-finite floats.
    pub fn dumps(v: &Value) -> Option<String> {
        let mut s = String::new();
        write_value(&mut s, v)?;
        Some(s)
    }

    fn write_object(out: &mut String, m: &Map<String, Value>) -> Option<()> {
        out.push('{');
        for (i, (k, v)) in m.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            write_str(out, k);
            out.push_str(": ");
            write_value(out, v)?;
        }
        out.push('}');
        Some(())
    }

    fn write_value(out: &mut String, v: &Value) -> Option<()> {
        match v {
            Value::Null => out.push_str("null"),
            Value::Bool(true) => out.push_str("true"),
            Value::Bool(false) => out.push_str("false"),
            Value::Number(n) => write_number(out, n)?,
            Value::String(s) => write_str(out, s),
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_value(out, x)?;
                }
                out.push(']');
            }
            Value::Object(m) => write_object(out, m)?,
        }
        Some(())
    }

    fn write_number(out: &mut String, n: &Number) -> Option<()> {
        if let Some(i) = n.as_i64() {
            let _ = write!(out, "{i}");
        } else if let Some(u) = n.as_u64() {
            let _ = write!(out, "{u}");
        } else {
            out.push_str(&float_repr(n.as_f64()?)?);
        }
        Some(())
    }

    /// Python's `repr(float)`: the shortest round-tripping digits, fixed
    /// notation for decimal exponents -4..16, else `d.ddde±XX`.
    pub fn float_repr(f: f64) -> Option<String> {
        if !f.is_finite() {
            return None;
        }
        if f == 0.0 {
            return Some(if f.is_sign_negative() { "-0.0" } else { "0.0" }.into());
        }
        // Rust's `{:e}` gives the shortest round-trip digit count, but breaks
        // exact ties upwards; Python (Gay's dtoa) gives the digits nearest
        // the true value, ties to even. Re-rounding the exact value to that
        // many digits (`{:.Ne}` is exact and ties-to-even) matches Python.
        let shortest = format!("{:e}", f.abs());
        let nd = shortest
            .split_once('e')?
            .0
            .chars()
            .filter(char::is_ascii_digit)
            .count();
        let e = format!("{:.*e}", nd.saturating_sub(1), f.abs());
        let (mant, exp) = e.split_once('e')?;
        let exp: i32 = exp.parse().ok()?;
        let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
        let sign = if f < 0.0 { "-" } else { "" };
        let nd = digits.len() as i32;
        let body = if (-4..16).contains(&exp) {
            if exp >= 0 {
                let int_len = exp + 1;
                if nd <= int_len {
                    format!("{digits}{}.0", "0".repeat((int_len - nd) as usize))
                } else {
                    let (a, b) = digits.split_at(int_len as usize);
                    format!("{a}.{b}")
                }
            } else {
                format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
            }
        } else {
            let (a, b) = digits.split_at(1);
            let m = if b.is_empty() {
                a.to_string()
            } else {
                format!("{a}.{b}")
            };
            let es = if exp < 0 { '-' } else { '+' };
            format!("{m}e{es}{:02}", exp.abs())
        };
        Some(format!("{sign}{body}"))
    }

    /// A JSON string with `ensure_ascii=True` escapes.
    fn write_str(out: &mut String, s: &str) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                ' '..='~' => out.push(c),
                _ => {
                    let mut buf = [0u16; 2];
                    for unit in c.encode_utf16(&mut buf) {
                        let _ = write!(out, "\\u{unit:04x}");
                    }
                }
            }
        }
        out.push('"');
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn floats_like_python() {
            for (f, want) in [
                (1700000000.0, "1700000000.0"),
                (1700000000.25, "1700000000.25"),
                (1202777696.756414, "1202777696.756414"),
                (1.5, "1.5"),
                (0.0001, "0.0001"),
                (0.00001, "1e-05"),
                (1.5e-7, "1.5e-07"),
                (1e16, "1e+16"),
                (1.2345678901234568e17, "1.2345678901234568e+17"),
                (1e15, "1000000000000000.0"),
                (123.0, "123.0"),
                (-2.5, "-2.5"),
                (-0.0, "-0.0"),
                (0.1, "0.1"),
                (1e300, "1e+300"),
                (5e-324, "5e-324"),
                // An exact tie at 17 digits: Python rounds half to even.
                (-4452712482368009.0 / 4.0, "-1113178120592002.2"),
            ] {
                assert_eq!(float_repr(f).unwrap(), want, "{f}");
            }
            assert_eq!(float_repr(f64::NAN), None);
        }

        #[test]
        fn strings_like_python() {
            let v: Value = serde_json::json!({"b": "Fran\u{e7}ais \u{1F600}\"\\\n\u{7f}\u{1}", "a": [1, true, null]});
            assert_eq!(
                dumps(&v).unwrap(),
                r#"{"b": "Fran\u00e7ais \ud83d\ude00\"\\\n\u007f\u0001", "a": [1, true, null]}"#
            );
        }
    }
}
