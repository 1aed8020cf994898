//! `lafs debug …`: format tools for people who debug grids.
//!
//! Every subcommand is a thin shell over `lafs-format`: read files, call
//! the pure code, print. Acceptance checks outside the repository run these
//! exact interfaces:
//!
//! * `cap --format chk --convergence B64 --needed K --total N --max-segment-size S FILE`
//!   prints the cap a Tahoe client would give FILE (`-` = stdin); ≤ 55
//!   bytes give a LIT cap.
//! * `chk-shares … --out DIR FILE` writes `DIR/share.<shnum>` (share data as
//!   a server container stores it after its header) and prints the cap last.
//! * `dump-share FILE` prints a share's fields as JSON. It sniffs the kind
//!   first ([`ShareKind`]) and dispatches; kinds owned by other modules
//!   (containers, mutable share data) are match arms to fill in.
//! * `decode CAP SHAREFILE…` verifies every share, names the bad ones on
//!   stderr, and writes the plaintext to stdout if k good shares remain.

use anyhow::{anyhow, bail, Context};
use base64::Engine;
use clap::{Args, Subcommand, ValueEnum};
use lafs_format::base32;
use lafs_format::cap::{Cap, FileCap, MutableFormat, SskWriteCap};
use lafs_format::chk::{self, ChkShare, EncodingParams, LayoutVersion};
use lafs_format::container::{Container, MutableVersion};
use lafs_format::keys::ConvergenceSecret;
use lafs_format::mutable::retrieve::RetrieveError;
use lafs_format::mutable::{KeyChain, MutableShare, PrivateKey};
use lafs_format::ueb::{CodecParams, Ueb};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// `lafs debug` subcommands.
#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// Print the cap a Tahoe client would compute for FILE.
    Cap(CapArgs),
    /// Encode FILE as CHK and write every share's data to a directory.
    ChkShares(ChkSharesArgs),
    /// Print the fields of a share file as JSON.
    DumpShare {
        /// The share file.
        file: PathBuf,
    },
    /// Verify shares and decode them to the plaintext on stdout.
    Decode {
        /// The read cap.
        cap: String,
        /// Share files (the share number is taken from a trailing number in
        /// the name, e.g. `share.3`, else inferred from the share itself).
        #[arg(required = true)]
        shares: Vec<PathBuf>,
    },
}

/// File formats `debug cap` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CapFormat {
    /// Immutable (CHK, or LIT for ≤ 55 bytes).
    Chk,
    /// Small mutable file.
    Sdmf,
    /// Medium mutable file.
    Mdmf,
}

/// Encoding options shared by `cap` and `chk-shares`.
#[derive(Debug, Args)]
pub struct EncodingArgs {
    /// The convergence secret, standard base64 (e.g. 16 bytes).
    #[arg(long)]
    convergence: Option<String>,
    /// Shares needed to decode (k).
    #[arg(long, default_value_t = 3)]
    needed: u16,
    /// Shares produced (N).
    #[arg(long, default_value_t = 10)]
    total: u16,
    /// Maximum segment size in bytes (Tahoe 1.20 default: 1 MiB).
    #[arg(long, default_value_t = chk::DEFAULT_MAX_SEGMENT_SIZE)]
    max_segment_size: u64,
}

/// `lafs debug cap`.
#[derive(Debug, Args)]
pub struct CapArgs {
    /// chk, sdmf or mdmf.
    #[arg(long, value_enum, default_value_t = CapFormat::Chk)]
    format: CapFormat,
    #[command(flatten)]
    encoding: EncodingArgs,
    /// PEM private key (sdmf/mdmf).
    #[arg(long)]
    private_key: Option<PathBuf>,
    /// The file (`-` for stdin).
    file: PathBuf,
}

/// `lafs debug chk-shares`.
#[derive(Debug, Args)]
pub struct ChkSharesArgs {
    #[command(flatten)]
    encoding: EncodingArgs,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Force the share layout version (default: v1 unless too large).
    #[arg(long)]
    layout: Option<u8>,
    /// The file (`-` for stdin).
    file: PathBuf,
}

/// Run a debug subcommand.
pub fn run(cmd: DebugCommand) -> anyhow::Result<()> {
    match cmd {
        DebugCommand::Cap(a) => cap(a),
        DebugCommand::ChkShares(a) => chk_shares(a),
        DebugCommand::DumpShare { file } => dump_share(&file),
        DebugCommand::Decode { cap, shares } => decode(&cap, &shares),
    }
}

fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut v = Vec::new();
        std::io::stdin()
            .read_to_end(&mut v)
            .context("reading stdin")?;
        Ok(v)
    } else {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))
    }
}

impl EncodingArgs {
    fn params(&self) -> anyhow::Result<(ConvergenceSecret, EncodingParams)> {
        let b64 = self
            .convergence
            .as_deref()
            .ok_or_else(|| anyhow!("--convergence is required for CHK"))?;
        let secret = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .context("--convergence is not standard base64")?;
        let params = EncodingParams {
            needed: self.needed,
            happy: 1,
            total: self.total,
            max_segment_size: self.max_segment_size,
        };
        Ok((ConvergenceSecret::new(secret), params))
    }
}

fn cap(a: CapArgs) -> anyhow::Result<()> {
    match a.format {
        CapFormat::Chk => {
            let (secret, params) = a.encoding.params()?;
            let data = read_input(&a.file)?;
            let cap = chk::encode_cap(&data, &secret, &params)?;
            println!("{cap}");
            Ok(())
        }
        // A mutable cap depends only on the key: writekey = H(privkey
        // PKCS#8 DER), fingerprint = H(pubkey SPKI DER) (spec §2.4).
        CapFormat::Sdmf | CapFormat::Mdmf => {
            let path = a
                .private_key
                .as_deref()
                .ok_or_else(|| anyhow!("--private-key PEM is required for sdmf/mdmf"))?;
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let key = PrivateKey::from_pem(&pem)
                .with_context(|| format!("loading the private key {}", path.display()))?;
            let (writekey, fingerprint) = key.write_cap_material();
            let format = match a.format {
                CapFormat::Sdmf => MutableFormat::Sdmf,
                _ => MutableFormat::Mdmf,
            };
            let cap = SskWriteCap {
                format,
                writekey,
                fingerprint,
            };
            println!("{}", Cap::File(FileCap::SskWrite(cap)));
            Ok(())
        }
    }
}

fn chk_shares(a: ChkSharesArgs) -> anyhow::Result<()> {
    let (secret, params) = a.encoding.params()?;
    let version = match a.layout {
        None => None,
        Some(1) => Some(LayoutVersion::V1),
        Some(2) => Some(LayoutVersion::V2),
        Some(v) => bail!("--layout must be 1 or 2, not {v}"),
    };
    let data = read_input(&a.file)?;
    if data.len() as u64 <= chk::LIT_THRESHOLD {
        bail!(
            "{} bytes: files of at most {} bytes are LIT caps and have no shares",
            data.len(),
            chk::LIT_THRESHOLD
        );
    }
    let (file, shares) = chk::encode_shares(&data, &secret, &params, version)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    for (shnum, s) in shares.iter().enumerate() {
        let p = a.out.join(format!("share.{shnum}"));
        std::fs::write(&p, s).with_context(|| format!("writing {}", p.display()))?;
    }
    println!("{}", file.cap);
    Ok(())
}

// ---------------------------------------------------------------- dump-share

/// What a share file holds, sniffed from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ShareKind {
    /// CHK share data (§4.4), as `chk-shares` writes it.
    ChkData,
    /// An immutable server container (§7.2) around CHK share data.
    ImmutableContainer,
    /// A mutable server container (§7.3).
    MutableContainer,
    /// SDMF/MDMF share data (§5.4, §5.5).
    MutableData,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map(u32::from_be_bytes)
}

fn sniff(b: &[u8]) -> Option<ShareKind> {
    if b.starts_with(b"Tahoe mutable container v") {
        return Some(ShareKind::MutableContainer);
    }
    if ChkShare::parse(b).is_ok() {
        return Some(ShareKind::ChkData);
    }
    // Container v1/v2 header, then CHK share data starting with its version.
    if matches!(be32(b, 0), Some(1 | 2)) && matches!(be32(b, 12), Some(1 | 2)) {
        return Some(ShareKind::ImmutableContainer);
    }
    if matches!(b.first(), Some(0 | 1)) {
        return Some(ShareKind::MutableData);
    }
    None
}

fn dump_share(path: &Path) -> anyhow::Result<()> {
    let b = read_input(path)?;
    let v = match sniff(&b) {
        Some(ShareKind::ChkData) => dump_chk(&b)?,
        Some(ShareKind::ImmutableContainer | ShareKind::MutableContainer) => dump_container(&b)?,
        Some(ShareKind::MutableData) => {
            let mut v = MutableShare::parse(&b)?.fields();
            v["kind"] = json!("mutable-share-data");
            v
        }
        None => bail!("{}: not a share file lafs recognises", path.display()),
    };
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

/// A server container (§7.2, §7.3): its header and leases (secrets are
/// never printed), then the share data inside, dumped by its own kind.
fn dump_container(b: &[u8]) -> anyhow::Result<Value> {
    let c = Container::parse(b)?;
    let inner = c.data();
    let share = match sniff(inner) {
        Some(ShareKind::ChkData) => dump_chk(inner)?,
        Some(ShareKind::MutableData) => match MutableShare::parse(inner) {
            Ok(m) => m.fields(),
            Err(e) => json!({ "error": e.to_string() }),
        },
        _ => json!({ "error": "unrecognised share data", "length": inner.len() }),
    };
    let mut v = match &c {
        Container::Immutable(i) => json!({
            "kind": "immutable-container",
            "container_version": i.version.word(),
            "size_field": i.size_field,
            "data_length": i.data.len(),
            "leases": i.leases.iter().map(|l| json!({
                "owner_num": l.owner_num,
                "expiration": l.expiration,
            })).collect::<Vec<_>>(),
        }),
        Container::Mutable(m) => json!({
            "kind": "mutable-container",
            "container_version": match m.version {
                MutableVersion::V1 => 1,
                MutableVersion::V2 => 2,
            },
            "write_enabler_nodeid": m.nodeid.to_base32(),
            "data_length": m.data_length(),
            "container_size": m.container_size(),
            "extra_lease_offset": m.extra_lease_offset(),
            "leases": m.leases().map(|l| json!({
                "owner_num": l.owner_num,
                "expiration": l.expiration,
                "nodeid": base32::encode(&l.nodeid),
            })).collect::<Vec<_>>(),
        }),
    };
    v["share"] = share;
    Ok(v)
}

/// The share data in a file: the file itself, or what a server container
/// wraps (so `decode` takes files straight from a storage directory).
fn share_data(b: Vec<u8>) -> anyhow::Result<Vec<u8>> {
    match sniff(&b) {
        Some(ShareKind::ImmutableContainer | ShareKind::MutableContainer) => {
            Ok(Container::parse(&b)?.data().to_vec())
        }
        _ => Ok(b),
    }
}

fn b32s(hs: &[[u8; 32]]) -> Value {
    hs.iter().map(|h| Value::from(base32::encode(h))).collect()
}

fn codec(p: Option<CodecParams>) -> Value {
    p.map_or(Value::Null, |p| {
        json!(format!("{}-{}-{}", p.segment_size, p.k, p.n))
    })
}

fn dump_ueb(raw: &[u8]) -> Value {
    let mut v = json!({
        "length": raw.len(),
        "hash": base32::encode(&lafs_format::hash::ueb_hash(raw)),
    });
    match Ueb::parse(raw) {
        Ok(u) => {
            let extra: serde_json::Map<String, Value> = u
                .extra
                .iter()
                .map(|(k, x)| {
                    let s = match std::str::from_utf8(x) {
                        Ok(s) if !s.contains('\0') => s.to_owned(),
                        _ => format!("b32:{}", base32::encode(x)),
                    };
                    (k.clone(), Value::from(s))
                })
                .collect();
            v["fields"] = json!({
                "codec_name": u.codec_name.as_deref().map(String::from_utf8_lossy),
                "codec_params": codec(u.codec_params),
                "tail_codec_params": codec(u.tail_codec_params),
                "crypttext_hash": u.crypttext_hash.map(|h| base32::encode(&h)),
                "crypttext_root_hash": base32::encode(&u.crypttext_root_hash),
                "share_root_hash": base32::encode(&u.share_root_hash),
                "segment_size": u.segment_size,
                "num_segments": u.num_segments,
                "needed_shares": u.needed_shares,
                "total_shares": u.total_shares,
                "size": u.size,
                "unknown_keys": extra,
            });
        }
        Err(e) => v["error"] = json!(e.to_string()),
    }
    v
}

fn dump_chk(b: &[u8]) -> anyhow::Result<Value> {
    let s = ChkShare::parse(b)?;
    let h = s.header;
    let o = h.offsets;
    let ueb = dump_ueb(s.ueb);
    let shnum = Ueb::parse(s.ueb)
        .ok()
        .and_then(|u| u.total_shares)
        .and_then(|n| u16::try_from(n).ok())
        .and_then(|n| s.infer_shnum(n));
    Ok(json!({
        "kind": "chk-share-data",
        "layout_version": h.version.number(),
        "header": {
            "block_size": h.block_size,
            "data_size": h.data_size,
            "offsets": {
                "data": o.data,
                "plaintext_hash_tree": o.plaintext_hash_tree,
                "crypttext_hash_tree": o.crypttext_hash_tree,
                "block_hashes": o.block_hashes,
                "share_hashes": o.share_hashes,
                "uri_extension": o.uri_extension,
            },
        },
        "data_length": s.data.len(),
        "plaintext_hash_area": {
            "length": s.plaintext_hash_area.len(),
            "all_zero": s.plaintext_hash_area.iter().all(|&x| x == 0),
        },
        "crypttext_hash_tree": b32s(&s.crypttext_hash_tree),
        "block_hash_tree": b32s(&s.block_hash_tree),
        "share_hashes": s.share_hashes.iter()
            .map(|(i, h)| json!([i, base32::encode(h)]))
            .collect::<Vec<_>>(),
        "inferred_shnum": shnum,
        "ueb": ueb,
        "trailing_bytes": s.trailing.len(),
        "trailing_all_zero": s.trailing.iter().all(|&x| x == 0),
    }))
}

// ---------------------------------------------------------------- decode

/// A trailing decimal number in the file name (`share.3`, `3`).
fn shnum_from_name(p: &Path) -> Option<u16> {
    let name = p.file_name()?.to_str()?;
    let digits: String = name
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok()
}

fn decode(cap: &str, paths: &[PathBuf]) -> anyhow::Result<()> {
    let cap = Cap::parse(cap.trim()).context("parsing the cap")?;
    let chk = match cap {
        Cap::File(FileCap::Lit(l)) => {
            std::io::stdout().write_all(&l.data)?;
            return Ok(());
        }
        Cap::File(FileCap::ChkRead(c)) => c,
        Cap::File(FileCap::ChkVerify(_)) => bail!("a verify cap cannot decrypt; give the read cap"),
        Cap::File(FileCap::SskWrite(w)) => {
            return decode_mutable(KeyChain::from_writekey(w.writekey, w.fingerprint), paths)
        }
        Cap::File(FileCap::SskRead(r)) => {
            return decode_mutable(KeyChain::from_readkey(r.readkey, r.fingerprint), paths)
        }
        Cap::File(FileCap::SskVerify(_)) => {
            bail!("a verify cap cannot decrypt; give the read cap")
        }
        // A directory is the plaintext of its inner file: decode that.
        Cap::Dir(inner) => return decode(&Cap::File(inner).to_string(), paths),
    };
    let files = read_share_files(paths)?;
    let list: Vec<(u16, &[u8])> = paths
        .iter()
        .zip(&files)
        .map(|(p, b)| {
            let n = shnum_from_name(p)
                .or_else(|| ChkShare::parse(b).ok()?.infer_shnum(chk.total))
                // No number: offer it as share N, which verification rejects.
                .unwrap_or(chk.total);
            (n, b.as_slice())
        })
        .collect();
    let report = |bad: &[chk::BadShare]| {
        for b in bad {
            eprintln!(
                "lafs: bad share {} (share {}): {}",
                paths[b.input].display(),
                b.shnum,
                b.error
            );
        }
    };
    match chk::decode(&chk, &list) {
        Ok(d) => {
            report(&d.bad_shares);
            std::io::stdout().write_all(&d.plaintext)?;
            Ok(())
        }
        Err(chk::DecodeError::NotEnoughShares { good, needed, bad }) => {
            report(&bad);
            bail!("only {good} good shares, {needed} needed")
        }
        Err(e) => Err(e.into()),
    }
}

/// Read share files, unwrapping server containers.
fn read_share_files(paths: &[PathBuf]) -> anyhow::Result<Vec<Vec<u8>>> {
    paths
        .iter()
        .map(|p| {
            let b = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            share_data(b).with_context(|| format!("{}: bad container", p.display()))
        })
        .collect()
}

/// Retrieve the newest recoverable version of a mutable file from share
/// files (share data as `slot_readv` returns it).
fn decode_mutable(keys: KeyChain, paths: &[PathBuf]) -> anyhow::Result<()> {
    let files = read_share_files(paths)?;
    let mut list: Vec<(u8, &[u8])> = Vec::with_capacity(files.len());
    for (p, b) in paths.iter().zip(&files) {
        let n = shnum_from_name(p)
            .and_then(|n| u8::try_from(n).ok())
            .ok_or_else(|| anyhow!("{}: name must end in the share number", p.display()))?;
        list.push((n, b.as_slice()));
    }
    let name = |shnum: u8| {
        list.iter().position(|&(n, _)| n == shnum).map_or_else(
            || format!("share {shnum}"),
            |i| paths[i].display().to_string(),
        )
    };
    let report = |failures: &[lafs_format::mutable::retrieve::ShareFailure]| {
        for f in failures {
            eprintln!(
                "lafs: bad share {} (share {}): {}",
                name(f.shnum),
                f.shnum,
                f.error
            );
        }
    };
    match lafs_format::mutable::retrieve(&keys, &list) {
        Ok(r) => {
            report(&r.failures);
            std::io::stdout().write_all(&r.plaintext)?;
            Ok(())
        }
        Err(RetrieveError::NotEnoughShares {
            needed,
            have,
            failures,
        }) => {
            report(&failures);
            bail!("only {have} good shares, {needed} needed")
        }
        Err(e) => Err(anyhow!(e).context("no recoverable version")),
    }
}
