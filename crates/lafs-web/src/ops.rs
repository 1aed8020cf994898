//! Operations and their progress: every upload, download, manifest and
//! deep check started through the web API is tracked here for `/status`
//! (Tahoe's `web/status.py`), and the slow ones started with
//! `t=start-manifest|start-deep-size|start-deep-stats|start-deep-check`
//! run in the background under the caller's `ophandle=` and are polled at
//! `/operations/H` (Tahoe's `web/operations.py`). `t=stream-manifest`
//! answers newline-delimited JSON, one line as the walk reaches each node.
//!
//! ## How progress flows
//!
//! ```text
//! handler ─► Ops::track(kind, target, total) ─► Tracker (held by the handler,
//!            │                                  the body stream, or the task)
//!            └► table row ◄── Tracker::set/add (bytes, phase) ◄── callbacks
//! /status ─► Ops::snapshot ─► JSON (Tahoe's keys + ours) or the HTML page
//! ```
//!
//! A tracker dropped before `finish` marks its row failed ("interrupted"):
//! a download whose client went away, an upload whose body broke off.
//!
//! The table is bounded: rows beyond [`MAX_OPS`] evict the oldest
//! finished one, so neither a client that never collects its handles nor
//! a busy node grows it without limit. Targets are a file name or a
//! storage index, never a cap: `/status` is not secret.

use crate::args::Args;
use crate::error::WebError;
use crate::{pyjson, AppState};
use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use lafs_client::upload::Progress;
use lafs_client::{DeepStats, ManifestEntry, ProgressFn, StorageClient};
use lafs_format::base32;
use lafs_format::cap::{Cap, ChildCap, FileCap};
use serde_json::{json, Map, Value};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Operations kept at most (running ones are never evicted while a
/// finished one remains).
pub const MAX_OPS: usize = 256;

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpKind {
    /// `t=start-manifest` or `t=stream-manifest`.
    Manifest,
    /// `t=start-deep-size`.
    DeepSize,
    /// `t=start-deep-stats`.
    DeepStats,
    /// `t=start-deep-check` or `t=stream-deep-check`.
    DeepCheck,
    /// An immutable or mutable upload (PUT, POST `t=upload`).
    Upload,
    /// A file download (GET).
    Download,
    /// A partial write into a mutable file (`PUT ?offset=`).
    Update,
}

impl OpKind {
    /// The `type` in `/status?t=json`.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Manifest => "manifest",
            OpKind::DeepSize => "deep-size",
            OpKind::DeepStats => "deep-stats",
            OpKind::DeepCheck => "deep-check",
            OpKind::Upload => "upload",
            OpKind::Download => "download",
            OpKind::Update => "update",
        }
    }
}

/// Where an operation is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpState {
    /// Still working.
    Running,
    /// Finished well.
    Done,
    /// Finished with this error (or "interrupted").
    Failed(String),
}

/// The part of a row its tracker updates.
#[derive(Debug)]
struct Live {
    /// What it is doing now ("receiving data", "pushing shares", …).
    phase: &'static str,
    /// Bytes (or, for walks, objects) done in this phase.
    done: u64,
    /// The total, when known.
    total: Option<u64>,
    /// The storage index, once known.
    storage_index: Option<String>,
    state: OpState,
    finished: Option<f64>,
}

#[derive(Debug)]
struct Op {
    id: u64,
    /// The `ophandle=` of a started operation.
    handle: Option<String>,
    kind: OpKind,
    /// A file name or a storage index (never a cap).
    target: String,
    started: f64,
    live: Arc<Mutex<Live>>,
    /// The `/operations/H` JSON of a finished handle operation.
    result: Option<Value>,
}

impl Op {
    fn running(&self) -> bool {
        lock(&self.live).state == OpState::Running
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere must not take /status down with it.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One row of `/status`, copied out of the table.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OpSnapshot {
    /// What it does.
    pub kind: OpKind,
    /// Its `ophandle=`, if started with one.
    pub handle: Option<String>,
    /// File name or storage index.
    pub target: String,
    /// Storage index (base32), once known.
    pub storage_index: Option<String>,
    /// What it is doing now.
    pub phase: &'static str,
    /// Done so far in this phase.
    pub done: u64,
    /// Total, when known.
    pub total: Option<u64>,
    /// Unix seconds.
    pub started: f64,
    /// Where it is.
    pub state: OpState,
}

impl OpSnapshot {
    /// 0.0 ..= 1.0 (1.0 once done; 0.0 while the total is unknown).
    pub fn fraction(&self) -> f64 {
        match (&self.state, self.total) {
            (OpState::Done, _) => 1.0,
            (_, Some(0)) => 0.0,
            (_, Some(t)) => (self.done as f64 / t as f64).clamp(0.0, 1.0),
            (_, None) => 0.0,
        }
    }

    /// Tahoe's status text, or the phase while running.
    pub fn status_text(&self) -> String {
        match &self.state {
            OpState::Running => self.phase.to_string(),
            OpState::Done => "Finished".to_string(),
            OpState::Failed(e) => format!("Failed: {e}"),
        }
    }

    /// One item of `/status?t=json`: Tahoe's `marshal_json` keys
    /// (`type`, `storage-index-string`, `total-size`, `status`, and
    /// `progress` or the three upload progress numbers), then lafs's own:
    /// `bytes-done`, `target`, `started`, `handle`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), self.kind.name().into());
        m.insert(
            "storage-index-string".into(),
            self.storage_index.clone().map_or(Value::Null, Value::from),
        );
        m.insert(
            "total-size".into(),
            self.total.map_or(Value::Null, Value::from),
        );
        m.insert("status".into(), self.status_text().into());
        let f = self.fraction();
        if self.kind == OpKind::Upload {
            // Tahoe reports hashing, encryption and push separately; lafs
            // encrypts while it pushes, so the last two move together.
            let hashed = match self.phase {
                "receiving data" => 0.0,
                "hashing" => f,
                _ => 1.0,
            };
            let pushed = match self.phase {
                "pushing shares" => f,
                _ if self.state == OpState::Done => 1.0,
                _ => 0.0,
            };
            m.insert("progress-hash".into(), hashed.into());
            m.insert("progress-ciphertext".into(), pushed.into());
            m.insert("progress-encode-push".into(), pushed.into());
        }
        m.insert("progress".into(), f.into());
        m.insert("bytes-done".into(), self.done.into());
        m.insert("target".into(), self.target.clone().into());
        m.insert("started".into(), self.started.into());
        if let Some(h) = &self.handle {
            m.insert("handle".into(), h.clone().into());
        }
        Value::Object(m)
    }
}

/// The operations table.
#[derive(Debug, Default)]
pub struct Ops {
    ops: Mutex<VecDeque<Op>>,
    next_id: AtomicU64,
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The handle on one tracked operation: whoever does the work holds it
/// and reports progress through it. Dropping it unfinished marks the
/// operation failed ("interrupted").
#[derive(Debug)]
pub struct Tracker {
    live: Arc<Mutex<Live>>,
}

impl Tracker {
    /// Enter a new phase with its own count and total.
    pub fn phase(&self, phase: &'static str, total: Option<u64>) {
        let mut l = lock(&self.live);
        l.phase = phase;
        l.done = 0;
        l.total = total;
    }

    /// Count `n` more done.
    pub fn add(&self, n: u64) {
        let mut l = lock(&self.live);
        l.done = l.done.saturating_add(n);
    }

    /// Set the count (and total) outright.
    pub fn set(&self, done: u64, total: Option<u64>) {
        let mut l = lock(&self.live);
        l.done = done;
        if total.is_some() {
            l.total = total;
        }
    }

    /// Record the storage index once it is known.
    pub fn storage_index(&self, c: &Cap) {
        if let Some(si) = c.storage_index() {
            lock(&self.live).storage_index = Some(base32::encode(si.as_bytes()));
        }
    }

    /// An upload progress callback feeding this tracker.
    pub fn upload_progress(&self) -> ProgressFn {
        let live = self.live.clone();
        Arc::new(move |p: Progress| {
            let mut l = lock(&live);
            let (phase, done, total) = match p {
                Progress::Hashing { done, total } => ("hashing", done, total),
                Progress::Uploading { done, total } => ("pushing shares", done, total),
            };
            l.phase = phase;
            l.done = done;
            l.total = Some(total);
        })
    }

    /// Finished well.
    pub fn finish(self) {
        self.end(OpState::Done);
    }

    /// Finished with an error.
    pub fn fail(self, e: &dyn std::fmt::Display) {
        self.end(OpState::Failed(e.to_string()));
    }

    fn end(&self, state: OpState) {
        let mut l = lock(&self.live);
        if l.state == OpState::Running {
            l.state = state;
            l.finished = Some(now());
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.end(OpState::Failed("interrupted".into()));
    }
}

impl Ops {
    /// Start tracking an operation on `target` (a file name or storage
    /// index, never a cap).
    pub fn track(&self, kind: OpKind, target: impl Into<String>, total: Option<u64>) -> Tracker {
        self.insert(None, kind, target.into(), total)
    }

    fn insert(
        &self,
        handle: Option<String>,
        kind: OpKind,
        target: String,
        total: Option<u64>,
    ) -> Tracker {
        let live = Arc::new(Mutex::new(Live {
            phase: match kind {
                OpKind::Upload | OpKind::Update => "receiving data",
                OpKind::Download => "sending data",
                _ => "walking",
            },
            done: 0,
            total,
            storage_index: None,
            state: OpState::Running,
            finished: None,
        }));
        let mut ops = lock(&self.ops);
        if let Some(h) = &handle {
            ops.retain(|o| o.handle.as_ref() != Some(h));
        }
        if ops.len() >= MAX_OPS {
            if let Some(i) = ops.iter().position(|o| !o.running()) {
                ops.remove(i);
            } else {
                ops.pop_front();
            }
        }
        ops.push_back(Op {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            handle,
            kind,
            target,
            started: now(),
            live: live.clone(),
            result: None,
        });
        Tracker { live }
    }

    fn finish_handle(&self, handle: &str, v: Value) {
        let mut ops = lock(&self.ops);
        if let Some(o) = ops.iter_mut().find(|o| o.handle.as_deref() == Some(handle)) {
            o.result = Some(v);
        }
    }

    /// The JSON `/operations/H?output=JSON` shows; with `release` a
    /// finished operation is forgotten once shown
    /// (`release-after-complete=true`).
    pub fn get(&self, handle: &str, release: bool) -> Option<Value> {
        let mut ops = lock(&self.ops);
        let i = ops
            .iter()
            .position(|o| o.handle.as_deref() == Some(handle))?;
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
        let mut ops = lock(&self.ops);
        let i = ops
            .iter()
            .position(|o| o.handle.as_deref() == Some(handle))?;
        ops.remove(i);
        Some(json!({"finished": true, "cancelled": true}))
    }

    /// Every operation, newest first.
    pub fn snapshot(&self) -> Vec<OpSnapshot> {
        let ops = lock(&self.ops);
        let mut v: Vec<(u64, OpSnapshot)> = ops
            .iter()
            .map(|o| {
                let l = lock(&o.live);
                (
                    o.id,
                    OpSnapshot {
                        kind: o.kind,
                        handle: o.handle.clone(),
                        target: o.target.clone(),
                        storage_index: l.storage_index.clone(),
                        phase: l.phase,
                        done: l.done,
                        total: l.total,
                        started: o.started,
                        state: l.state.clone(),
                    },
                )
            })
            .collect();
        v.sort_by_key(|o| std::cmp::Reverse(o.0));
        v.into_iter().map(|(_, s)| s).collect()
    }

    /// `/status?t=json`: `{"active": [...], "recent": [...]}`, newest
    /// first, as Tahoe.
    pub fn status_json(&self) -> Value {
        let all = self.snapshot();
        let (active, recent): (Vec<_>, Vec<_>) =
            all.iter().partition(|o| o.state == OpState::Running);
        json!({
            "active": active.iter().map(|o| o.to_json()).collect::<Vec<_>>(),
            "recent": recent.iter().map(|o| o.to_json()).collect::<Vec<_>>(),
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
        // Only walks are started under a handle; the rest get the stats.
        OpKind::DeepStats
        | OpKind::DeepCheck
        | OpKind::Upload
        | OpKind::Download
        | OpKind::Update => {
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
    let tracker = st
        .ops()
        .insert(Some(handle.clone()), kind, si_b32(&root), None);
    tracker.storage_index(&root);
    let st = st.clone();
    tokio::spawn(async move {
        let v = if kind == OpKind::DeepCheck {
            crate::check::deep_check_json(&st, &root, &args, &tracker).await
        } else {
            let mut entries = Vec::new();
            let t = &tracker;
            let walk = st
                .client()
                .deep_walk_with(&root, &mut |e| {
                    t.add(1);
                    entries.push(e);
                })
                .await;
            match walk {
                Ok(stats) => result_json(kind, &root, &entries, &stats),
                Err(e) => json!({"finished": true, "error": WebError::from(e).to_string()}),
            }
        };
        // The result goes in before the row says finished, so a poller
        // that sees "Finished" also finds the result.
        let failed = v.get("error").and_then(Value::as_str).map(str::to_string);
        st.ops().finish_handle(&handle, v);
        match failed {
            Some(e) => tracker.fail(&e),
            None => tracker.finish(),
        }
    });
}

/// A chunked `text/plain` body fed line by line from a channel.
pub(crate) fn line_stream(rx: tokio::sync::mpsc::UnboundedReceiver<String>) -> Response {
    let s = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|line| (Ok::<_, std::io::Error>(bytes::Bytes::from(line)), rx))
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from_stream(s),
    )
        .into_response()
}

/// Tahoe's error line of a stream that broke off (`ERROR: …`).
pub(crate) fn error_line(e: &dyn std::fmt::Display) -> String {
    format!("ERROR: {}\n", e.to_string().trim_end())
}

/// `POST $DIRURL?t=stream-manifest`: one JSON object per line, sent as
/// the walk reaches each node, then the stats line. A client that goes
/// away stops the walk.
pub async fn stream_manifest<C: StorageClient>(
    st: &AppState<C>,
    root: Cap,
) -> Result<Response, WebError> {
    let tracker = st.ops().track(OpKind::Manifest, si_b32(&root), None);
    tracker.storage_index(&root);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let st = st.clone();
    tokio::spawn(async move {
        let t = &tracker;
        let walk = async {
            st.client()
                .deep_walk_with(&root, &mut |e| {
                    t.add(1);
                    // A send fails only once the client is gone; the
                    // select below then ends the walk.
                    let _ = tx.send(pyjson::dumps(&manifest_line(&e)) + "\n");
                })
                .await
        };
        let r = tokio::select! {
            r = walk => r,
            () = tx.closed() => return,
        };
        match r {
            Ok(stats) => {
                let _ = tx.send(
                    pyjson::dumps(&json!({"type": "stats", "stats": stats.to_json()})) + "\n",
                );
                tracker.finish();
            }
            Err(e) => {
                let e = WebError::from(e);
                let _ = tx.send(error_line(&e));
                tracker.fail(&e);
            }
        }
    });
    Ok(line_stream(rx))
}
