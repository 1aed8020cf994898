//! Slow operations: `t=start-manifest|start-deep-size|start-deep-stats`
//! run in the background under the caller's `ophandle=` and are polled at
//! `/operations/H` (Tahoe's `web/operations.py`); `t=stream-manifest`
//! answers newline-delimited JSON.
//!
//! The table is bounded: handles beyond [`MAX_OPS`] evict the oldest
//! finished operation, so a client that never collects cannot grow it
//! without limit.

use crate::args::Args;
use crate::error::WebError;
use crate::{pyjson, AppState};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use lafs_client::{DeepStats, ManifestEntry, StorageClient};
use lafs_format::base32;
use lafs_format::cap::{Cap, ChildCap, FileCap};
use serde_json::{json, Map, Value};
use std::collections::VecDeque;
use std::sync::Mutex;

/// Operations kept at most.
pub const MAX_OPS: usize = 256;

/// What a started operation computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// `t=start-manifest`.
    Manifest,
    /// `t=start-deep-size`.
    DeepSize,
    /// `t=start-deep-stats`.
    DeepStats,
    /// `t=start-deep-check`.
    DeepCheck,
}

impl OpKind {
    fn name(self) -> &'static str {
        match self {
            OpKind::Manifest => "manifest",
            OpKind::DeepSize => "deep-size",
            OpKind::DeepStats => "deep-stats",
            OpKind::DeepCheck => "deep-check",
        }
    }
}

#[derive(Debug)]
struct Op {
    handle: String,
    kind: OpKind,
    started: f64,
    /// `None` while running.
    result: Option<Value>,
}

/// The operations table.
#[derive(Debug, Default)]
pub struct Ops {
    ops: Mutex<VecDeque<Op>>,
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Ops {
    fn insert(&self, handle: String, kind: OpKind) {
        let mut ops = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        ops.retain(|o| o.handle != handle);
        if ops.len() >= MAX_OPS {
            if let Some(i) = ops.iter().position(|o| o.result.is_some()) {
                ops.remove(i);
            } else {
                ops.pop_front();
            }
        }
        ops.push_back(Op {
            handle,
            kind,
            started: now(),
            result: None,
        });
    }

    fn finish(&self, handle: &str, v: Value) {
        let mut ops = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(o) = ops.iter_mut().find(|o| o.handle == handle) {
            o.result = Some(v);
        }
    }

    /// The JSON `/operations/H?output=JSON` shows; with `release` a
    /// finished operation is forgotten once shown
    /// (`release-after-complete=true`).
    pub fn get(&self, handle: &str, release: bool) -> Option<Value> {
        let mut ops = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        let i = ops.iter().position(|o| o.handle == handle)?;
        Some(match &ops[i].result {
            Some(v) => {
                let v = v.clone();
                if release {
                    ops.remove(i);
                }
                v
            }
            None => json!({"finished": false}),
        })
    }

    /// `POST /operations/H?t=cancel`: forget it (a running walk finishes
    /// in the background but its result is dropped).
    pub fn cancel(&self, handle: &str) -> Option<Value> {
        let mut ops = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        let i = ops.iter().position(|o| o.handle == handle)?;
        ops.remove(i);
        Some(json!({"finished": true, "cancelled": true}))
    }

    /// `/status?t=json`.
    pub fn status_json(&self) -> Value {
        let ops = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        let item = |o: &Op| {
            json!({
                "type": o.kind.name(),
                "handle": o.handle,
                "started": o.started,
                "progress": if o.result.is_some() { 1.0 } else { 0.0 },
            })
        };
        json!({
            "active": ops.iter().filter(|o| o.result.is_none()).map(item).collect::<Vec<_>>(),
            "recent": ops.iter().filter(|o| o.result.is_some()).map(item).collect::<Vec<_>>(),
        })
    }
}

fn si_b32(c: &Cap) -> String {
    c.storage_index()
        .map(|si| base32::encode(si.as_bytes()))
        .unwrap_or_default()
}

/// Tahoe's repair cap: CHK files and immutable directories are repaired
/// from their verify cap, mutable ones need the write cap, read-only and
/// literal nodes have none.
fn repair_cap(c: &Cap) -> String {
    match c.file() {
        FileCap::Lit(_) => String::new(),
        FileCap::ChkRead(_) | FileCap::ChkVerify(_) => {
            c.verifier().map(|v| v.to_string()).unwrap_or_default()
        }
        FileCap::SskWrite(_) => c.to_string(),
        _ => String::new(),
    }
}

/// One manifest line / entry as Tahoe's ManifestStreamer writes it.
fn manifest_line(e: &ManifestEntry) -> Value {
    let mut m = Map::new();
    m.insert("path".into(), json!(e.path));
    match &e.cap {
        ChildCap::Known(c) => {
            m.insert("cap".into(), c.to_string().into());
            m.insert("type".into(), e.kind().into());
            m.insert(
                "verifycap".into(),
                c.verifier()
                    .map(|v| v.to_string())
                    .unwrap_or_default()
                    .into(),
            );
            m.insert("repaircap".into(), repair_cap(c).into());
            m.insert("storage-index".into(), si_b32(c).into());
        }
        ChildCap::Unknown(_) => {
            m.insert("cap".into(), "".into());
            m.insert("type".into(), e.kind().into());
            m.insert("verifycap".into(), "".into());
            m.insert("repaircap".into(), "".into());
            m.insert("storage-index".into(), "".into());
        }
    }
    Value::Object(m)
}

fn deep_size(stats: &DeepStats) -> u64 {
    [
        "size-immutable-files",
        "size-mutable-files",
        "size-literal-files",
        "size-directories",
    ]
    .iter()
    .map(|k| stats.counts.get(k).copied().unwrap_or(0))
    .sum()
}

fn result_json(kind: OpKind, root: &Cap, entries: &[ManifestEntry], stats: &DeepStats) -> Value {
    match kind {
        OpKind::Manifest => {
            let known = || {
                entries.iter().filter_map(|e| match &e.cap {
                    ChildCap::Known(c) => Some(c),
                    ChildCap::Unknown(_) => None,
                })
            };
            json!({
                "stats": stats.to_json(),
                "finished": true,
                "origin": si_b32(root),
                "manifest": entries.iter().map(|e| json!([e.path, match &e.cap {
                    ChildCap::Known(c) => c.to_string(),
                    ChildCap::Unknown(_) => String::new(),
                }])).collect::<Vec<_>>(),
                "verifycaps": known().filter_map(|c| c.verifier().map(|v| v.to_string())).collect::<Vec<_>>(),
                "storage-index": known().map(si_b32).filter(|s| !s.is_empty()).collect::<Vec<_>>(),
            })
        }
        OpKind::DeepSize => json!({"finished": true, "size": deep_size(stats)}),
        OpKind::DeepStats | OpKind::DeepCheck => {
            let mut v = stats.to_json();
            if let Value::Object(m) = &mut v {
                m.insert("finished".into(), true.into());
            }
            v
        }
    }
}

/// Start `kind` over `root` under `handle`.
pub fn start<C: StorageClient>(
    st: &AppState<C>,
    handle: String,
    kind: OpKind,
    root: Cap,
    args: Args,
) {
    st.ops().insert(handle.clone(), kind);
    let st = st.clone();
    tokio::spawn(async move {
        let v = if kind == OpKind::DeepCheck {
            crate::check::deep_check_json(&st, &root, &args)
                .await
                .unwrap_or_else(|e| json!({"finished": true, "error": e.to_string()}))
        } else {
            match st.client().deep_walk(&root).await {
                Ok((entries, stats)) => result_json(kind, &root, &entries, &stats),
                Err(e) => json!({"finished": true, "error": WebError::from(e).to_string()}),
            }
        };
        st.ops().finish(&handle, v);
    });
}

/// `POST $DIRURL?t=stream-manifest`: one JSON object per line, then the
/// stats line.
pub async fn stream_manifest<C: StorageClient>(
    st: &AppState<C>,
    root: Cap,
) -> Result<Response, WebError> {
    let (entries, stats) = st.client().deep_walk(&root).await?;
    let mut out = String::new();
    for e in &entries {
        out.push_str(&pyjson::dumps(&manifest_line(e)));
        out.push('\n');
    }
    out.push_str(&pyjson::dumps(
        &json!({"type": "stats", "stats": stats.to_json()}),
    ));
    out.push('\n');
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        out,
    )
        .into_response())
}
