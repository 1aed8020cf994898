//! Capability strings (spec §1.3, Tahoe's `uri.py`).
//!
//! A cap is the only thing a user holds: it names a file or directory and
//! carries exactly the authority its holder has. This module parses every
//! kind Tahoe 1.20 writes, prints it back byte-identically, and diminishes
//! authority as typed conversions (write → read → verify), so code that
//! holds a [`ChkVerifyCap`] cannot decrypt by construction.
//!
//! ## Grammar (spec §1.3)
//!
//! | cap | text |
//! |---|---|
//! | LIT | `URI:LIT:<b32(data)>` (empty data allowed) |
//! | CHK read | `URI:CHK:<key>:<ueb_hash>:<k>:<N>:<size>` |
//! | CHK verify | `URI:CHK-Verifier:<si>:<ueb_hash>:<k>:<N>:<size>` + ignored junk |
//! | SDMF write/read/verify | `URI:SSK:<writekey>:<fp>`, `URI:SSK-RO:<readkey>:<fp>`, `URI:SSK-Verifier:<si>:<fp>` |
//! | MDMF write/read/verify | `URI:MDMF:…`, `URI:MDMF-RO:…`, `URI:MDMF-Verifier:…` + optional `:<ignored>` |
//! | directories | `URI:DIR2…:` + the inner file cap's fields (table below) |
//!
//! `key`/`si` are 26 base32 characters (16 bytes), `ueb_hash`/`fp` 52
//! (32 bytes); the strict decoder in [`crate::base32`] enforces Tahoe's
//! last-character rule. Numbers are ASCII decimal (`\d+`; leading zeros are
//! accepted, as Python's `int()` does, and dropped when printed).
//!
//! Directory caps are the inner file cap with the prefix swapped:
//!
//! | file | directory |
//! |---|---|
//! | `URI:SSK:` / `-RO:` / `-Verifier:` | `URI:DIR2:` / `URI:DIR2-RO:` / `URI:DIR2-Verifier:` |
//! | `URI:MDMF:` / `-RO:` / `-Verifier:` | `URI:DIR2-MDMF:` / `-RO:` / `-Verifier:` |
//! | `URI:CHK:` / `URI:CHK-Verifier:` | `URI:DIR2-CHK:` / `URI:DIR2-CHK-Verifier:` |
//! | `URI:LIT:` | `URI:DIR2-LIT:` |
//!
//! so [`Cap::Dir`] simply wraps a [`FileCap`].
//!
//! ## Inside directories
//!
//! Children of a directory may carry an `ro.` (alleged read-only) or `imm.`
//! (alleged deep-immutable) prefix, and caps of kinds this version does not
//! know must survive a read-modify-write of the directory untouched.
//! [`parse_child`] implements `uri.from_string`: it never fails, returning
//! [`ChildCap::Unknown`] (with the original text and, for a known-but-bad
//! or prefix-inconsistent cap, the reason) instead.
//!
//! Keys inside caps are the secret newtypes of [`crate::keys`], so `Debug`
//! on any cap prints `<redacted>` for them; `Display` prints the full cap.

use crate::base32;
use crate::hash::Hash;
use crate::keys::{self, AesKey, Fingerprint, ReadKey, StorageIndex, WriteKey};
use std::fmt;
use std::str::FromStr;

/// Why a string is not a cap (or not the kind asked for).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CapError {
    /// The string does not start with any known cap prefix.
    #[error("unknown cap prefix")]
    UnknownPrefix,
    /// A field is missing or the cap has too many fields.
    #[error("{kind} cap: wrong number of fields")]
    FieldCount {
        /// The cap kind being parsed.
        kind: &'static str,
    },
    /// A base32 field is malformed.
    #[error("{kind} cap: bad {field}: {source}")]
    Base32 {
        /// The cap kind being parsed.
        kind: &'static str,
        /// Which field.
        field: &'static str,
        /// The base32 error.
        source: base32::Base32Error,
    },
    /// A decimal field is malformed or out of range.
    #[error("{kind} cap: bad number in {field}")]
    BadNumber {
        /// The cap kind being parsed.
        kind: &'static str,
        /// Which field.
        field: &'static str,
    },
    /// k/N outside `1 ≤ k ≤ N ≤ 256`.
    #[error("{kind} cap: encoding parameters k={k}, N={n} out of range")]
    BadParams {
        /// The cap kind being parsed.
        kind: &'static str,
        /// Needed shares.
        k: u32,
        /// Total shares.
        n: u32,
    },
    /// A writeable cap appeared where only read-only caps are allowed
    /// (`ro.` prefix, or a read-only context).
    #[error("{0} used in a read-only context")]
    MustNotBeWriteable(&'static str),
    /// A mutable cap appeared where only deep-immutable caps are allowed
    /// (`imm.` prefix, or an immutable directory).
    #[error("{0} used in an immutable context")]
    MustBeDeepImmutable(&'static str),
}

/// SDMF or MDMF: the two mutable formats share key derivation and cap
/// fields and differ only in their prefixes (and share layout, §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MutableFormat {
    /// Small Distributed Mutable File (`URI:SSK…`).
    Sdmf,
    /// Medium Distributed Mutable File (`URI:MDMF…`).
    Mdmf,
}

/// A literal file: the data is the cap (files ≤ 55 bytes, spec §4.1).
#[derive(Clone, PartialEq, Eq)]
pub struct LitCap {
    /// The file's contents.
    pub data: Vec<u8>,
}

/// Read cap of an immutable (CHK) file.
#[derive(Clone, PartialEq, Eq)]
pub struct ChkReadCap {
    /// The AES-128 key.
    pub key: AesKey,
    /// `H_UEB(serialized UEB)`.
    pub ueb_hash: Hash,
    /// Shares needed to decode (k).
    pub needed: u16,
    /// Shares produced (N).
    pub total: u16,
    /// Plaintext size in bytes.
    pub size: u64,
}

/// Verify cap of an immutable (CHK) file: can check shares, cannot decrypt.
#[derive(Clone, PartialEq, Eq)]
pub struct ChkVerifyCap {
    /// `H_SI(key)[:16]`.
    pub storage_index: StorageIndex,
    /// `H_UEB(serialized UEB)`.
    pub ueb_hash: Hash,
    /// Shares needed to decode (k).
    pub needed: u16,
    /// Shares produced (N).
    pub total: u16,
    /// Plaintext size in bytes.
    pub size: u64,
}

/// Write cap of a mutable file (SDMF or MDMF).
#[derive(Clone, PartialEq, Eq)]
pub struct SskWriteCap {
    /// SDMF or MDMF.
    pub format: MutableFormat,
    /// `H_WRITEKEY(privkey DER)[:16]`.
    pub writekey: WriteKey,
    /// `H_PUBKEY(pubkey DER)`.
    pub fingerprint: Fingerprint,
}

/// Read cap of a mutable file.
#[derive(Clone, PartialEq, Eq)]
pub struct SskReadCap {
    /// SDMF or MDMF.
    pub format: MutableFormat,
    /// `H_READKEY(writekey)[:16]`.
    pub readkey: ReadKey,
    /// `H_PUBKEY(pubkey DER)`.
    pub fingerprint: Fingerprint,
}

/// Verify cap of a mutable file.
#[derive(Clone, PartialEq, Eq)]
pub struct SskVerifyCap {
    /// SDMF or MDMF.
    pub format: MutableFormat,
    /// `H_MUTABLE_SI(readkey)[:16]`.
    pub storage_index: StorageIndex,
    /// `H_PUBKEY(pubkey DER)`.
    pub fingerprint: Fingerprint,
}

/// A file cap of any kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileCap {
    /// `URI:LIT:`
    Lit(LitCap),
    /// `URI:CHK:`
    ChkRead(ChkReadCap),
    /// `URI:CHK-Verifier:`
    ChkVerify(ChkVerifyCap),
    /// `URI:SSK:` / `URI:MDMF:`
    SskWrite(SskWriteCap),
    /// `URI:SSK-RO:` / `URI:MDMF-RO:`
    SskRead(SskReadCap),
    /// `URI:SSK-Verifier:` / `URI:MDMF-Verifier:`
    SskVerify(SskVerifyCap),
}

/// Any cap Tahoe 1.20 writes: a file cap, or a directory wrapping one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cap {
    /// A file.
    File(FileCap),
    /// A directory whose contents are the plaintext of the inner file.
    Dir(FileCap),
}

// ---------------------------------------------------------------- Debug

impl fmt::Debug for LitCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // LIT data is the file itself: as secret as any key.
        write!(f, "LitCap(<{} bytes redacted>)", self.data.len())
    }
}

impl fmt::Debug for ChkReadCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChkReadCap")
            .field("key", &self.key)
            .field("storage_index", &self.storage_index())
            .field("ueb_hash", &base32::encode(&self.ueb_hash))
            .field("needed", &self.needed)
            .field("total", &self.total)
            .field("size", &self.size)
            .finish()
    }
}

impl fmt::Debug for ChkVerifyCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Nothing secret: print it whole.
        write!(f, "ChkVerifyCap({self})")
    }
}

impl fmt::Debug for SskWriteCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SskWriteCap")
            .field("format", &self.format)
            .field("writekey", &self.writekey)
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

impl fmt::Debug for SskReadCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SskReadCap")
            .field("format", &self.format)
            .field("readkey", &self.readkey)
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

impl fmt::Debug for SskVerifyCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SskVerifyCap({self})")
    }
}

// ---------------------------------------------------------------- diminishing

impl ChkReadCap {
    /// The storage index, `H_SI(key)[:16]`.
    pub fn storage_index(&self) -> StorageIndex {
        keys::chk_storage_index(&self.key)
    }
    /// The verify cap (drops the key, keeps UEB hash, k, N, size).
    pub fn verifier(&self) -> ChkVerifyCap {
        ChkVerifyCap {
            storage_index: self.storage_index(),
            ueb_hash: self.ueb_hash,
            needed: self.needed,
            total: self.total,
            size: self.size,
        }
    }
}

impl SskWriteCap {
    /// The read cap: readkey = `H_READKEY(writekey)[:16]`.
    pub fn readonly(&self) -> SskReadCap {
        SskReadCap {
            format: self.format,
            readkey: keys::mutable::readkey(&self.writekey),
            fingerprint: self.fingerprint,
        }
    }
    /// The verify cap.
    pub fn verifier(&self) -> SskVerifyCap {
        self.readonly().verifier()
    }
    /// The storage index.
    pub fn storage_index(&self) -> StorageIndex {
        self.verifier().storage_index
    }
}

impl SskReadCap {
    /// The verify cap: si = `H_MUTABLE_SI(readkey)[:16]`.
    pub fn verifier(&self) -> SskVerifyCap {
        SskVerifyCap {
            format: self.format,
            storage_index: keys::mutable::storage_index(&self.readkey),
            fingerprint: self.fingerprint,
        }
    }
    /// The storage index.
    pub fn storage_index(&self) -> StorageIndex {
        self.verifier().storage_index
    }
}

impl FileCap {
    /// The storage index; `None` for LIT (nothing is stored).
    pub fn storage_index(&self) -> Option<StorageIndex> {
        match self {
            FileCap::Lit(_) => None,
            FileCap::ChkRead(c) => Some(c.storage_index()),
            FileCap::ChkVerify(c) => Some(c.storage_index),
            FileCap::SskWrite(c) => Some(c.storage_index()),
            FileCap::SskRead(c) => Some(c.storage_index()),
            FileCap::SskVerify(c) => Some(c.storage_index),
        }
    }
    /// Whether the file can change (SSK/MDMF).
    pub fn is_mutable(&self) -> bool {
        matches!(
            self,
            FileCap::SskWrite(_) | FileCap::SskRead(_) | FileCap::SskVerify(_)
        )
    }
    /// Whether the cap grants no write authority.
    pub fn is_readonly(&self) -> bool {
        !matches!(self, FileCap::SskWrite(_))
    }
    /// Whether this is a verify cap (no read authority).
    pub fn is_verifier(&self) -> bool {
        matches!(self, FileCap::ChkVerify(_) | FileCap::SskVerify(_))
    }
    /// The read-only form (itself when it is already read-only or a
    /// verifier, as Tahoe's `get_readonly`).
    pub fn readonly(&self) -> FileCap {
        match self {
            FileCap::SskWrite(c) => FileCap::SskRead(c.readonly()),
            other => other.clone(),
        }
    }
    /// The verify cap; `None` for LIT, which has none.
    pub fn verifier(&self) -> Option<FileCap> {
        match self {
            FileCap::Lit(_) => None,
            FileCap::ChkRead(c) => Some(FileCap::ChkVerify(c.verifier())),
            FileCap::ChkVerify(c) => Some(FileCap::ChkVerify(c.clone())),
            FileCap::SskWrite(c) => Some(FileCap::SskVerify(c.verifier())),
            FileCap::SskRead(c) => Some(FileCap::SskVerify(c.verifier())),
            FileCap::SskVerify(c) => Some(FileCap::SskVerify(c.clone())),
        }
    }
    /// A short human name of the kind, as used in Tahoe's error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            FileCap::Lit(_) => "URI:LIT",
            FileCap::ChkRead(_) => "URI:CHK",
            FileCap::ChkVerify(_) => "URI:CHK-Verifier",
            FileCap::SskWrite(c) => match c.format {
                MutableFormat::Sdmf => "URI:SSK",
                MutableFormat::Mdmf => "URI:MDMF",
            },
            FileCap::SskRead(c) => match c.format {
                MutableFormat::Sdmf => "URI:SSK-RO",
                MutableFormat::Mdmf => "URI:MDMF-RO",
            },
            FileCap::SskVerify(c) => match c.format {
                MutableFormat::Sdmf => "URI:SSK-Verifier",
                MutableFormat::Mdmf => "URI:MDMF-Verifier",
            },
        }
    }
}

impl Cap {
    /// Parse any cap (strict: no `ro.`/`imm.` prefixes; see [`parse_child`]).
    pub fn parse(s: &str) -> Result<Cap, CapError> {
        for (dir, file) in DIR_PREFIXES {
            if let Some(rest) = s.strip_prefix(dir) {
                return parse_file(file, rest).map(Cap::Dir);
            }
        }
        for file in FILE_PREFIXES {
            if let Some(rest) = s.strip_prefix(file) {
                return parse_file(file, rest).map(Cap::File);
            }
        }
        Err(CapError::UnknownPrefix)
    }
    /// The wrapped file cap (for a directory, the file holding its entries).
    pub fn file(&self) -> &FileCap {
        match self {
            Cap::File(f) | Cap::Dir(f) => f,
        }
    }
    /// Whether this names a directory.
    pub fn is_dir(&self) -> bool {
        matches!(self, Cap::Dir(_))
    }
    /// The storage index, `None` for literal files and literal directories.
    pub fn storage_index(&self) -> Option<StorageIndex> {
        self.file().storage_index()
    }
    /// Whether the object can change.
    pub fn is_mutable(&self) -> bool {
        self.file().is_mutable()
    }
    /// Whether the cap grants no write authority.
    pub fn is_readonly(&self) -> bool {
        self.file().is_readonly()
    }
    /// The read-only form.
    pub fn readonly(&self) -> Cap {
        self.map(FileCap::readonly)
    }
    /// The verify cap; `None` for literal files/directories.
    pub fn verifier(&self) -> Option<Cap> {
        Some(match self {
            Cap::File(f) => Cap::File(f.verifier()?),
            Cap::Dir(f) => Cap::Dir(f.verifier()?),
        })
    }
    fn map(&self, f: impl Fn(&FileCap) -> FileCap) -> Cap {
        match self {
            Cap::File(c) => Cap::File(f(c)),
            Cap::Dir(c) => Cap::Dir(f(c)),
        }
    }
}

impl FromStr for Cap {
    type Err = CapError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cap::parse(s)
    }
}

// ---------------------------------------------------------------- parsing

const LIT: &str = "URI:LIT:";
const CHK: &str = "URI:CHK:";
const CHK_V: &str = "URI:CHK-Verifier:";
const SSK: &str = "URI:SSK:";
const SSK_RO: &str = "URI:SSK-RO:";
const SSK_V: &str = "URI:SSK-Verifier:";
const MDMF: &str = "URI:MDMF:";
const MDMF_RO: &str = "URI:MDMF-RO:";
const MDMF_V: &str = "URI:MDMF-Verifier:";

/// Every file prefix (each is unambiguous: all end with `:`).
const FILE_PREFIXES: [&str; 9] = [LIT, CHK, CHK_V, SSK, SSK_RO, SSK_V, MDMF, MDMF_RO, MDMF_V];

/// Directory prefix → inner file prefix.
const DIR_PREFIXES: [(&str, &str); 9] = [
    ("URI:DIR2:", SSK),
    ("URI:DIR2-RO:", SSK_RO),
    ("URI:DIR2-Verifier:", SSK_V),
    ("URI:DIR2-MDMF:", MDMF),
    ("URI:DIR2-MDMF-RO:", MDMF_RO),
    ("URI:DIR2-MDMF-Verifier:", MDMF_V),
    ("URI:DIR2-CHK:", CHK),
    ("URI:DIR2-CHK-Verifier:", CHK_V),
    ("URI:DIR2-LIT:", LIT),
];

fn dir_prefix_of(file_prefix: &str) -> &'static str {
    DIR_PREFIXES
        .iter()
        .find(|(_, f)| *f == file_prefix)
        .map(|(d, _)| *d)
        .unwrap_or("URI:DIR2:")
}

/// Parse the fields after `prefix` (one of [`FILE_PREFIXES`]).
fn parse_file(prefix: &'static str, rest: &str) -> Result<FileCap, CapError> {
    match prefix {
        LIT => {
            let data = base32::decode(rest).map_err(|e| b32err("URI:LIT", "data", e))?;
            Ok(FileCap::Lit(LitCap { data }))
        }
        CHK => {
            let kind = "URI:CHK";
            let f = fields::<5>(kind, rest, Tail::End)?;
            let key = AesKey::from_bytes(b32(kind, "key", f[0])?);
            let (needed, total, size) = chk_numbers(kind, f[2], f[3], f[4])?;
            Ok(FileCap::ChkRead(ChkReadCap {
                key,
                ueb_hash: b32(kind, "UEB hash", f[1])?,
                needed,
                total,
                size,
            }))
        }
        CHK_V => {
            let kind = "URI:CHK-Verifier";
            // Tahoe's regex has no `$`: whatever follows the size digits is
            // ignored, so keep only the leading digits of the last field.
            let f = fields::<5>(kind, rest, Tail::Junk)?;
            let last = f[4];
            let digits = &last[..last.bytes().take_while(u8::is_ascii_digit).count()];
            let (needed, total, size) = chk_numbers(kind, f[2], f[3], digits)?;
            Ok(FileCap::ChkVerify(ChkVerifyCap {
                storage_index: StorageIndex(b32(kind, "storage index", f[0])?),
                ueb_hash: b32(kind, "UEB hash", f[1])?,
                needed,
                total,
                size,
            }))
        }
        SSK | SSK_RO | SSK_V | MDMF | MDMF_RO | MDMF_V => {
            let (format, tail) = if prefix.starts_with("URI:SSK") {
                (MutableFormat::Sdmf, Tail::End)
            } else {
                // MDMF's regex ends `(:|$)`: extension fields are ignored.
                (MutableFormat::Mdmf, Tail::Extension)
            };
            let kind = prefix.strip_suffix(':').unwrap_or(prefix);
            let f = fields::<2>(kind, rest, tail)?;
            let fingerprint = Fingerprint(b32(kind, "fingerprint", f[1])?);
            let k16: [u8; 16] = b32(kind, "key", f[0])?;
            Ok(match prefix {
                SSK | MDMF => FileCap::SskWrite(SskWriteCap {
                    format,
                    writekey: WriteKey::from_bytes(k16),
                    fingerprint,
                }),
                SSK_RO | MDMF_RO => FileCap::SskRead(SskReadCap {
                    format,
                    readkey: ReadKey::from_bytes(k16),
                    fingerprint,
                }),
                _ => FileCap::SskVerify(SskVerifyCap {
                    format,
                    storage_index: StorageIndex(k16),
                    fingerprint,
                }),
            })
        }
        _ => Err(CapError::UnknownPrefix),
    }
}

/// What may follow the last field.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tail {
    /// Nothing.
    End,
    /// Anything after a further `:` (MDMF extension fields).
    Extension,
    /// Anything at all, glued to the last field (CHK-Verifier).
    Junk,
}

fn fields<'a, const N: usize>(
    kind: &'static str,
    rest: &'a str,
    tail: Tail,
) -> Result<[&'a str; N], CapError> {
    let mut out = [""; N];
    let mut it = rest.splitn(N + 1, ':');
    for slot in out.iter_mut() {
        *slot = it.next().ok_or(CapError::FieldCount { kind })?;
    }
    // Junk after the last field's digits (CHK-Verifier) may contain more
    // colons; the caller looks only at the digits.
    if it.next().is_some() && tail == Tail::End {
        return Err(CapError::FieldCount { kind });
    }
    Ok(out)
}

fn b32err(kind: &'static str, field: &'static str, source: base32::Base32Error) -> CapError {
    CapError::Base32 {
        kind,
        field,
        source,
    }
}

fn b32<const N: usize>(
    kind: &'static str,
    field: &'static str,
    s: &str,
) -> Result<[u8; N], CapError> {
    // The regexes fix the length first, so a wrong length is a format
    // error even when it happens to decode.
    if s.len() != base32::encoded_len(N) {
        return Err(b32err(kind, field, base32::Base32Error::BadLength(s.len())));
    }
    base32::decode_array(s).map_err(|e| b32err(kind, field, e))
}

fn number(kind: &'static str, field: &'static str, s: &str) -> Result<u64, CapError> {
    // `\d+`: ASCII digits only, at least one. `parse` would accept `+`.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CapError::BadNumber { kind, field });
    }
    s.parse().map_err(|_| CapError::BadNumber { kind, field })
}

fn chk_numbers(
    kind: &'static str,
    k: &str,
    n: &str,
    size: &str,
) -> Result<(u16, u16, u64), CapError> {
    let k = number(kind, "needed shares", k)?;
    let n = number(kind, "total shares", n)?;
    let size = number(kind, "size", size)?;
    // Tahoe's parser accepts any integers and fails later; we refuse caps
    // no encoder can have produced, so downstream code can trust k and N.
    if k == 0 || k > n || n > 256 {
        return Err(CapError::BadParams {
            kind,
            k: u32::try_from(k).unwrap_or(u32::MAX),
            n: u32::try_from(n).unwrap_or(u32::MAX),
        });
    }
    Ok((k as u16, n as u16, size))
}

// ---------------------------------------------------------------- printing

impl fmt::Display for LitCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{LIT}{}", base32::encode(&self.data))
    }
}

impl fmt::Display for ChkReadCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{CHK}{}:{}:{}:{}:{}",
            base32::encode(self.key.as_bytes()),
            base32::encode(&self.ueb_hash),
            self.needed,
            self.total,
            self.size
        )
    }
}

impl fmt::Display for ChkVerifyCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{CHK_V}{}:{}:{}:{}:{}",
            self.storage_index,
            base32::encode(&self.ueb_hash),
            self.needed,
            self.total,
            self.size
        )
    }
}

fn mutable_prefix(format: MutableFormat, sdmf: &'static str, mdmf: &'static str) -> &'static str {
    match format {
        MutableFormat::Sdmf => sdmf,
        MutableFormat::Mdmf => mdmf,
    }
}

impl fmt::Display for SskWriteCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = mutable_prefix(self.format, SSK, MDMF);
        let k = base32::encode(self.writekey.as_bytes());
        write!(f, "{p}{k}:{}", self.fingerprint)
    }
}

impl fmt::Display for SskReadCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = mutable_prefix(self.format, SSK_RO, MDMF_RO);
        let k = base32::encode(self.readkey.as_bytes());
        write!(f, "{p}{k}:{}", self.fingerprint)
    }
}

impl fmt::Display for SskVerifyCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = mutable_prefix(self.format, SSK_V, MDMF_V);
        write!(f, "{p}{}:{}", self.storage_index, self.fingerprint)
    }
}

impl fmt::Display for FileCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileCap::Lit(c) => c.fmt(f),
            FileCap::ChkRead(c) => c.fmt(f),
            FileCap::ChkVerify(c) => c.fmt(f),
            FileCap::SskWrite(c) => c.fmt(f),
            FileCap::SskRead(c) => c.fmt(f),
            FileCap::SskVerify(c) => c.fmt(f),
        }
    }
}

impl fmt::Display for Cap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cap::File(c) => c.fmt(f),
            Cap::Dir(c) => {
                let inner = c.to_string();
                // Every FileCap prints one of FILE_PREFIXES; swap it.
                match FILE_PREFIXES.iter().find(|p| inner.starts_with(**p)) {
                    Some(p) => write!(f, "{}{}", dir_prefix_of(p), &inner[p.len()..]),
                    None => f.write_str(&inner),
                }
            }
        }
    }
}

// ---------------------------------------------------------------- children

/// `ro.`: the cap is alleged to be read-only.
pub const ALLEGED_READONLY_PREFIX: &str = "ro.";
/// `imm.`: the cap is alleged to be deep-immutable.
pub const ALLEGED_IMMUTABLE_PREFIX: &str = "imm.";

/// A cap string of a kind this version cannot use, kept verbatim so that
/// rewriting a directory never loses a newer client's child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCap {
    /// The text exactly as found (including any `ro.`/`imm.` prefix).
    pub text: String,
    /// Why a known-looking cap was refused; `None` for a truly unknown kind.
    pub error: Option<CapError>,
}

/// The result of parsing a directory child's cap ([`parse_child`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildCap {
    /// A usable cap.
    Known(Cap),
    /// Unknown or unusable here; preserve `text` verbatim.
    Unknown(UnknownCap),
}

/// Tahoe's `uri.from_string` (spec §1.3): strip an `imm.` or `ro.` prefix,
/// parse, and refuse caps inconsistent with it. With `deep_immutable`
/// (children of an immutable directory) every mutable cap is refused. Never
/// fails: anything unusable comes back as [`ChildCap::Unknown`].
pub fn parse_child(text: &str, deep_immutable: bool) -> ChildCap {
    let mut can_be_mutable = !deep_immutable;
    let mut can_be_writeable = !deep_immutable;
    let mut s = text;
    if let Some(rest) = s.strip_prefix(ALLEGED_IMMUTABLE_PREFIX) {
        can_be_mutable = false;
        can_be_writeable = false;
        s = rest;
    } else if let Some(rest) = s.strip_prefix(ALLEGED_READONLY_PREFIX) {
        can_be_writeable = false;
        s = rest;
    }
    let unknown = |error| {
        ChildCap::Unknown(UnknownCap {
            text: text.to_owned(),
            error,
        })
    };
    let cap = match Cap::parse(s) {
        Ok(cap) => cap,
        Err(CapError::UnknownPrefix) => return unknown(None),
        Err(e) => return unknown(Some(e)),
    };
    // Tahoe checks writeability first (kind "… writecap" errors), then
    // mutability for read caps; verify caps are always allowed.
    let f = cap.file();
    let kind = f.kind_name();
    if !f.is_readonly() && !can_be_writeable {
        return unknown(Some(if can_be_mutable {
            CapError::MustNotBeWriteable(kind)
        } else {
            CapError::MustBeDeepImmutable(kind)
        }));
    }
    if matches!(f, FileCap::SskRead(_)) && !can_be_mutable {
        return unknown(Some(CapError::MustBeDeepImmutable(kind)));
    }
    ChildCap::Known(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_keys() {
        let c = Cap::parse(
            "URI:CHK:lm2lije2iii3xi4nhiadnz4tpu:doc7ml5fvipuhmhoqkn33edag27z3waqclzxpbhpnxom6wjsagka:3:10:1000",
        )
        .unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("lm2lije2"), "{d}");
        assert!(d.contains("redacted"));
    }

    #[test]
    fn chk_verifier_tolerates_junk() {
        let s = "URI:CHK-Verifier:jim3yz7w2apl2rq574iqi47dfy:doc7ml5fvipuhmhoqkn33edag27z3waqclzxpbhpnxom6wjsagka:3:10:1000";
        let c = Cap::parse(&format!("{s}xyz:zz")).unwrap();
        assert_eq!(c.to_string(), s);
        assert!(Cap::parse(&format!("{s}:")).is_ok());
        // A CHK read cap has an end anchor.
        assert!(Cap::parse("URI:CHK:lm2lije2iii3xi4nhiadnz4tpu:doc7ml5fvipuhmhoqkn33edag27z3waqclzxpbhpnxom6wjsagka:3:10:1000x").is_err());
    }

    #[test]
    fn mdmf_extension_ignored_ssk_strict() {
        let m = "URI:MDMF:p2xoe4uu64rqa5fi6xz3t5wpvu:zsaeyn5noivpixiu6uadlz2mu6r2alcmgrur2efdwadx4agxo6ua";
        assert_eq!(Cap::parse(&format!("{m}:3:131073")).unwrap().to_string(), m);
        let s = "URI:SSK:5mcjppxck7re2kzdol7b5ojmgi:jwjbsudn4z452bo2eqbjdzrvo2f72tav3xyb2llfnfjjsopczi5q";
        assert!(Cap::parse(s).is_ok());
        assert!(Cap::parse(&format!("{s}:x")).is_err());
        // Last-character rule: a 16-byte key must end in a,e,i,m,q,u,y,4.
        let bad = "URI:SSK:5mcjppxck7re2kzdol7b5ojmgj:jwjbsudn4z452bo2eqbjdzrvo2f72tav3xyb2llfnfjjsopczi5q";
        assert!(matches!(Cap::parse(bad), Err(CapError::Base32 { .. })));
    }

    #[test]
    fn lit_and_children() {
        assert_eq!(
            Cap::parse("URI:LIT:").unwrap(),
            Cap::File(FileCap::Lit(LitCap { data: vec![] }))
        );
        assert_eq!(
            Cap::parse("URI:DIR2-LIT:").unwrap().to_string(),
            "URI:DIR2-LIT:"
        );
        let ssk = "URI:SSK:5mcjppxck7re2kzdol7b5ojmgi:jwjbsudn4z452bo2eqbjdzrvo2f72tav3xyb2llfnfjjsopczi5q";
        assert!(matches!(parse_child(ssk, false), ChildCap::Known(_)));
        match parse_child(&format!("ro.{ssk}"), false) {
            ChildCap::Unknown(u) => {
                assert_eq!(u.text, format!("ro.{ssk}"));
                assert!(matches!(u.error, Some(CapError::MustNotBeWriteable(_))));
            }
            other => panic!("{other:?}"),
        }
        let ro = "URI:SSK-RO:ff4ugthp3xvwmoffk2yod4sody:jwjbsudn4z452bo2eqbjdzrvo2f72tav3xyb2llfnfjjsopczi5q";
        assert!(matches!(
            parse_child(&format!("ro.{ro}"), false),
            ChildCap::Known(_)
        ));
        assert!(matches!(
            parse_child(&format!("imm.{ro}"), false),
            ChildCap::Unknown(UnknownCap {
                error: Some(CapError::MustBeDeepImmutable(_)),
                ..
            })
        ));
        // A write cap under `imm.` (or in an immutable directory) is refused
        // as not deep-immutable; under `ro.` as writeable.
        let dir = "URI:DIR2:5wp23saa7oxr2lw6ly7iawyndy:4j7ki5a64zkzo2jpynqdacgejtpibpd5k25eexzdidnheaczsxlq";
        assert!(matches!(
            parse_child(&format!("imm.{dir}"), false),
            ChildCap::Unknown(UnknownCap {
                error: Some(CapError::MustBeDeepImmutable(_)),
                ..
            })
        ));
        assert!(matches!(
            parse_child(dir, true),
            ChildCap::Unknown(UnknownCap {
                error: Some(CapError::MustBeDeepImmutable(_)),
                ..
            })
        ));
        assert!(matches!(
            parse_child(&format!("ro.{dir}"), false),
            ChildCap::Unknown(UnknownCap {
                error: Some(CapError::MustNotBeWriteable(_)),
                ..
            })
        ));
        // Immutable caps and verifiers are fine anywhere.
        let chk = "URI:CHK:lm2lije2iii3xi4nhiadnz4tpu:doc7ml5fvipuhmhoqkn33edag27z3waqclzxpbhpnxom6wjsagka:3:10:1000";
        assert!(matches!(
            parse_child(&format!("imm.{chk}"), true),
            ChildCap::Known(_)
        ));
        let ver = "URI:SSK-Verifier:arzawcbttbim763un3qoncffdq:jwjbsudn4z452bo2eqbjdzrvo2f72tav3xyb2llfnfjjsopczi5q";
        assert!(matches!(
            parse_child(&format!("imm.{ver}"), false),
            ChildCap::Known(_)
        ));
        assert!(matches!(
            parse_child("URI:NEW-THING:abc", false),
            ChildCap::Unknown(UnknownCap { error: None, .. })
        ));
        assert!(matches!(
            parse_child("URI:CHK:bogus", false),
            ChildCap::Unknown(UnknownCap { error: Some(_), .. })
        ));
    }
}
