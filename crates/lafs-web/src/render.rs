//! `t=json` bodies and the UI views, from caps and directory entries.
//! Key order and presence follow Tahoe 1.20's `web/filenode.py`
//! (`_file_json_metadata`, `get_filenode_metadata`) and `web/directory.py`
//! (`_directory_json_metadata`) exactly, since scripts diff these.

use crate::view::{ChildKind, ChildView, DirectoryView, FileInfoView};
use lafs_client::Entry;
use lafs_format::base32;
use lafs_format::cap::{Cap, ChildCap, FileCap, MutableFormat};
use serde_json::{Map, Value};

/// `"CHK"`, `"SDMF"` or `"MDMF"` (LIT files say `"CHK"`, as in Tahoe).
pub fn file_format(f: &FileCap) -> &'static str {
    match f {
        FileCap::SskWrite(w) => mutable_name(w.format),
        FileCap::SskRead(r) => mutable_name(r.format),
        FileCap::SskVerify(v) => mutable_name(v.format),
        _ => "CHK",
    }
}

fn mutable_name(m: MutableFormat) -> &'static str {
    match m {
        MutableFormat::Sdmf => "SDMF",
        MutableFormat::Mdmf => "MDMF",
    }
}

/// The size a cap alone tells (immutable files).
pub fn cap_size(f: &FileCap) -> Option<u64> {
    match f {
        FileCap::Lit(l) => Some(l.data.len() as u64),
        FileCap::ChkRead(c) => Some(c.size),
        FileCap::ChkVerify(c) => Some(c.size),
        _ => None,
    }
}

/// (rw_uri, ro_uri, verify_uri).
pub type Uris = (Option<String>, Option<String>, Option<String>);

/// (rw_uri, ro_uri, verify_uri) of a known cap, as Tahoe's nodes report
/// them (`get_write_uri`, `get_readonly_uri`, `get_verify_cap`).
pub fn uris(cap: &Cap) -> Uris {
    let rw = (!cap.is_readonly()).then(|| cap.to_string());
    let ro = Some(cap.readonly().to_string());
    let v = cap.verifier().map(|v| v.to_string());
    (rw, ro, v)
}

/// Which order a JSON object lists its caps in (Tahoe builds each dict
/// in its own order, and `json.dumps` keeps it).
#[derive(Clone, Copy)]
enum UriOrder {
    /// `ro_uri, rw_uri, verify_uri` (a node's own JSON).
    ReadFirst,
    /// `rw_uri, ro_uri, verify_uri` (a child in a listing).
    WriteFirst,
}

fn put_uris(m: &mut Map<String, Value>, uris: Uris, order: UriOrder) {
    let (rw, ro, v) = uris;
    let (first, second) = match order {
        UriOrder::ReadFirst => (("ro_uri", ro), ("rw_uri", rw)),
        UriOrder::WriteFirst => (("rw_uri", rw), ("ro_uri", ro)),
    };
    for (k, val) in [first, second, ("verify_uri", v)] {
        if let Some(x) = val {
            m.insert(k.into(), x.into());
        }
    }
}

fn filenode_fields(f: &FileCap, size: Option<u64>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("mutable".into(), f.is_mutable().into());
    m.insert("format".into(), file_format(f).into());
    if let Some(s) = size {
        m.insert("size".into(), s.into());
    }
    m
}

/// `GET file?t=json`: `["filenode", {...}]`; `metadata` only when the
/// file was reached through a parent.
pub fn file_json(cap: &Cap, size: Option<u64>, metadata: Option<&Map<String, Value>>) -> Value {
    let mut m = filenode_fields(cap.file(), size);
    put_uris(&mut m, uris(cap), UriOrder::ReadFirst);
    if let Some(md) = metadata {
        m.insert("metadata".into(), Value::Object(md.clone()));
    }
    Value::Array(vec!["filenode".into(), Value::Object(m)])
}

/// One child in a directory's `t=json`: `[kind, {...}]`.
pub fn child_json(e: &Entry) -> Value {
    let (kind, mut m, uris) = match &e.cap {
        ChildCap::Known(c) if c.is_dir() => {
            let mut m = Map::new();
            m.insert("mutable".into(), c.is_mutable().into());
            ("dirnode", m, uris(c))
        }
        ChildCap::Known(c) => (
            "filenode",
            filenode_fields(c.file(), cap_size(c.file())),
            uris(c),
        ),
        ChildCap::Unknown(_) => {
            let text = |b: &Option<Vec<u8>>| {
                b.as_ref()
                    .filter(|b| !b.is_empty())
                    .map(|b| String::from_utf8_lossy(b).into_owned())
            };
            (
                "unknown",
                Map::new(),
                (text(&e.caps.rw), text(&e.caps.ro), None),
            )
        }
    };
    m.insert("metadata".into(), Value::Object(e.metadata.clone()));
    put_uris(&mut m, uris, UriOrder::WriteFirst);
    Value::Array(vec![kind.into(), Value::Object(m)])
}

/// `GET dir?t=json`: `["dirnode", {"children", "ro_uri", "rw_uri",
/// "verify_uri", "mutable"}]` (no `format`, no `metadata`: Tahoe's code
/// emits neither, whatever the doc example shows).
pub fn dir_json(cap: &Cap, entries: &[Entry]) -> Value {
    let mut kids = Map::new();
    for e in entries {
        kids.insert(e.name.clone(), child_json(e));
    }
    let mut m = Map::new();
    m.insert("children".into(), Value::Object(kids));
    put_uris(&mut m, uris(cap), UriOrder::ReadFirst);
    m.insert("mutable".into(), cap.is_mutable().into());
    Value::Array(vec!["dirnode".into(), Value::Object(m)])
}

/// The view the directory page renders.
pub fn directory_view(root: &str, path: &[String], cap: &Cap, entries: &[Entry]) -> DirectoryView {
    let children = entries
        .iter()
        .map(|e| {
            let (kind, cap, ro, mutable, size) = match &e.cap {
                ChildCap::Known(c) => (
                    if c.is_dir() {
                        ChildKind::Dir
                    } else {
                        ChildKind::File
                    },
                    c.to_string(),
                    c.readonly().to_string(),
                    c.is_mutable(),
                    if c.is_dir() { None } else { cap_size(c.file()) },
                ),
                ChildCap::Unknown(_) => (
                    ChildKind::Unknown,
                    String::new(),
                    String::new(),
                    false,
                    None,
                ),
            };
            let modified = e
                .metadata
                .get("tahoe")
                .and_then(|t| t.get("linkmotime"))
                .and_then(Value::as_f64);
            ChildView {
                name: e.name.clone(),
                kind,
                cap,
                readonly_cap: ro,
                mutable,
                size,
                modified,
            }
        })
        .collect();
    DirectoryView {
        root_cap: root.to_string(),
        path: path.to_vec(),
        cap: cap.to_string(),
        readonly_cap: cap.readonly().to_string(),
        writable: cap.is_dir() && cap.is_mutable() && !cap.is_readonly(),
        children,
    }
}

/// The view the file-info page renders.
pub fn file_info_view(cap: &Cap, size: Option<u64>) -> FileInfoView {
    let format = if cap.is_dir() {
        match cap.file() {
            FileCap::Lit(_) => "DIR2-LIT",
            FileCap::ChkRead(_) | FileCap::ChkVerify(_) => "DIR2-CHK",
            f => match file_format(f) {
                "MDMF" => "DIR2-MDMF",
                _ => "DIR2",
            },
        }
    } else {
        match cap.file() {
            FileCap::Lit(_) => "LIT",
            f => file_format(f),
        }
    };
    FileInfoView {
        cap: cap.to_string(),
        readonly_cap: cap.readonly().to_string(),
        verify_cap: cap.verifier().map(|v| v.to_string()).unwrap_or_default(),
        storage_index: cap
            .storage_index()
            .map(|si| base32::encode(si.as_bytes()))
            .unwrap_or_default(),
        format: format.to_string(),
        is_dir: cap.is_dir(),
        mutable: cap.is_mutable(),
        size,
    }
}
