//! The API handlers: parse the cap, path and arguments of a request, call
//! the client facade, and answer with JSON, plain text, streamed bytes or
//! a `ui` page. Method and `t=` dispatch mirrors Tahoe 1.20's
//! `web/root.py`, `web/unlinked.py`, `web/directory.py` and
//! `web/filenode.py`.

use crate::args::Args;
use crate::error::WebError;
use crate::ops::{self, OpKind, Tracker};
use crate::{pyjson, render, ui, AppState};
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use lafs_client::client::split_path;
use lafs_client::dirnode::link_metadata;
use lafs_client::{FacadeError, FileFormat, LinkCaps, Node, ProgressFn, Replace, StorageClient};
use lafs_format::cap::{Cap, FileCap};
use percent_encoding::{percent_decode_str, utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{Map, Value};
use std::io::{Seek, SeekFrom};
use std::ops::Range;
use tokio::io::AsyncWriteExt;

type Result<T, E = WebError> = std::result::Result<T, E>;

/// Bodies read into memory (forms, JSON, caps, mutable file contents)
/// are bounded; immutable uploads stream to a spool file instead.
const MAX_MEMORY_BODY: usize = 64 << 20;

fn text(status: StatusCode, s: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        s.into(),
    )
        .into_response()
}

fn json_response(v: &Value) -> Response {
    text(StatusCode::OK, pyjson::dumps_indent1(v) + "\n")
}

/// JSON with the `application/json` type Tahoe gives `/?t=json`
/// (with charset) and `/status?t=json` (without).
fn app_json(v: &Value, content_type: &'static str) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        pyjson::dumps_indent1(v) + "\n",
    )
        .into_response()
}

/// Tahoe redirects with 302 Found (Twisted's `redirectTo`), and the
/// `tahoe` CLI accepts exactly 200 or 302 from `t=start-*`.
fn found(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(v) => (StatusCode::FOUND, [(header::LOCATION, v)]).into_response(),
        Err(_) => WebError::BadRequest("unencodable redirect target".into()).into_response(),
    }
}

fn escape_cap(c: &str) -> String {
    utf8_percent_encode(c, NON_ALPHANUMERIC).to_string()
}

/// A `/uri/$CAP/a/b` or `/named/$CAP/a/b` path, decoded.
struct Target {
    cap_text: String,
    cap: Cap,
    names: Vec<String>,
    named: bool,
}

impl Target {
    fn path(&self) -> String {
        self.names.join("/")
    }
}

fn parse_target(raw: &str) -> Result<Target> {
    let (named, rest) = if let Some(r) = raw.strip_prefix("/uri/") {
        (false, r)
    } else if let Some(r) = raw.strip_prefix("/named/") {
        (true, r)
    } else {
        return Err(WebError::NotFound);
    };
    let mut parts = rest.split('/');
    let cap_text = decode(parts.next().unwrap_or_default())?;
    let cap = Cap::parse(cap_text.trim()).map_err(|_| WebError::BadCap(cap_text.clone()))?;
    let mut names: Vec<String> = parts.map(decode).collect::<Result<_>>()?;
    // A trailing slash is allowed; an empty component inside is not.
    while names.last().is_some_and(String::is_empty) {
        names.pop();
    }
    if names.iter().any(String::is_empty) {
        return Err(WebError::EmptyPathComponent);
    }
    Ok(Target {
        cap_text,
        cap,
        names,
        named,
    })
}

fn decode(s: &str) -> Result<String> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| WebError::BadRequest("path is not UTF-8".into()))
}

// ------------------------------------------------------------------ root

/// How long the first page waits for the first round of server polls
/// (a server that does not answer takes `monitor::VERSION_TIMEOUT`).
const FIRST_POLL_WAIT: std::time::Duration = std::time::Duration::from_secs(6);

/// `GET /` and `GET /?t=json`.
pub async fn root<C: StorageClient>(State(st): State<AppState<C>>, req: Request) -> Response {
    let args = Args::from_query(req.uri().query());
    st.start_monitor();
    st.monitor().wait_first_round(FIRST_POLL_WAIT).await;
    let w = st.welcome();
    if args.t() != "json" {
        return ui::welcome_page(&w);
    }
    app_json(&welcome_json(&w), "application/json; charset=utf-8")
}

/// Tahoe's `/?t=json` (`web/root.py`, `Root.render_JSON`): introducer
/// summaries and one object per known server, keys in Tahoe's order; then
/// lafs's own `node` object (identity, encoding, own storage), which
/// Tahoe's clients ignore.
fn welcome_json(w: &crate::view::WelcomeView) -> Value {
    let opt = |v: Option<f64>| v.map_or(Value::Null, Value::from);
    let servers: Vec<Value> = w
        .servers
        .iter()
        .map(|s| {
            serde_json::json!({
                "nodeid": s.id,
                "connection_status": s.summary,
                "available_space": s.available_space,
                "nickname": s.nickname,
                "version": Value::Null,
                "last_received_data": opt(s.last_seen),
            })
        })
        .collect();
    let intro: Vec<Value> = w
        .introducers
        .iter()
        .map(|i| Value::from(i.summary.clone()))
        .collect();
    serde_json::json!({
        "introducers": {"statuses": intro},
        "servers": servers,
        "node": {
            "nickname": w.nickname,
            "nodeid": w.node_id,
            "version": w.version,
            "shares-needed": w.needed,
            "shares-total": w.total,
            "storage": w.storage.as_ref().map(|s| serde_json::json!({
                "used": s.used,
                "available": s.available,
            })),
            "introducers": w.introducers.iter().map(|i| serde_json::json!({
                "address": i.address,
                "connected": i.connected,
                "since": opt(i.since),
                "last_received_data": opt(i.last_seen),
            })).collect::<Vec<_>>(),
        },
    })
}

/// `GET /statistics[?t=json]`.
pub async fn statistics<C: StorageClient>(State(st): State<AppState<C>>) -> Response {
    json_response(&serde_json::json!({
        "stats": {
            "node.uptime": st.uptime_secs(),
            "lafs.servers_known": st.client().grid().servers().len(),
        },
        "counters": {},
    }))
}

/// `GET /status[?t=json]`: every upload, download, manifest and deep
/// check this node ran through the web API, running ones with their
/// progress; HTML unless `t=json`.
pub async fn status<C: StorageClient>(State(st): State<AppState<C>>, req: Request) -> Response {
    let args = Args::from_query(req.uri().query());
    if args.t() == "json" {
        return app_json(&st.ops().status_json(), "application/json");
    }
    ui::status_page(&ui::StatusModel::from_ops(&st.ops().snapshot()))
}

/// `GET|POST /operations/H`.
pub async fn operation<C: StorageClient>(
    State(st): State<AppState<C>>,
    axum::extract::Path(handle): axum::extract::Path<String>,
    req: Request,
) -> Response {
    let args = Args::from_query(req.uri().query());
    let r = if req.method() == Method::POST && args.t() == "cancel" {
        st.ops().cancel(&handle)
    } else {
        let release = args.flag("release-after-complete", false).unwrap_or(false);
        st.ops().get(&handle, release)
    };
    match r {
        Some(v) => json_response(&v),
        None => WebError::UnknownHandle(handle).into_response(),
    }
}

/// Anything else.
pub async fn not_found() -> Response {
    WebError::NotFound.into_response()
}

// ------------------------------------------------------------------ /uri

/// `/uri` without a cap: `GET ?uri=`, `PUT` (upload, mkdir), `POST`
/// (upload form, mkdir variants).
pub async fn uri_root<C: StorageClient>(State(st): State<AppState<C>>, req: Request) -> Response {
    uri_root_inner(st, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn uri_root_inner<C: StorageClient>(st: AppState<C>, req: Request) -> Result<Response> {
    let mut args = Args::from_query(req.uri().query());
    match *req.method() {
        Method::GET | Method::HEAD => {
            let cap = args
                .get("uri")
                .ok_or_else(|| WebError::BadRequest("GET /uri requires uri=".into()))?;
            Ok(found(&format!("/uri/{}", escape_cap(cap))))
        }
        Method::PUT => match args.t() {
            "" => {
                let format = args.file_format()?.unwrap_or(FileFormat::Chk);
                let len = content_length(req.headers());
                let cap = upload_body(&st, req.into_body(), len, format, "").await?;
                Ok(text(StatusCode::OK, cap.to_string()))
            }
            "mkdir" => {
                let cap = st.client().mkdir(args.dir_format()?, &[], None).await?;
                Ok(text(StatusCode::OK, cap.to_string()))
            }
            t => Err(bad_t("PUT", "/uri", t)),
        },
        Method::POST => {
            let (body, upload) = read_post(st.ops(), &mut args, req).await?;
            let cap = match args.t() {
                "upload" => {
                    let up = upload.ok_or_else(|| {
                        WebError::BadRequest("t=upload requires a file field".into())
                    })?;
                    let format = args.file_format()?.unwrap_or(FileFormat::Chk);
                    upload_file(&st, up, format).await?
                }
                "mkdir" => st.client().mkdir(args.dir_format()?, &[], None).await?,
                "mkdir-with-children" => {
                    let kids = parse_children(&body, false)?;
                    st.client().mkdir(args.dir_format()?, &kids, None).await?
                }
                "mkdir-immutable" => {
                    let kids = parse_children(&body, true)?;
                    st.client().mkdir_immutable(&kids).await?
                }
                t => return Err(bad_t("POST", "/uri", t)),
            };
            if args.flag("redirect_to_result", false)? {
                return Ok(found(&format!("/uri/{}", escape_cap(&cap.to_string()))));
            }
            Ok(text(StatusCode::OK, cap.to_string()))
        }
        _ => Ok(StatusCode::METHOD_NOT_ALLOWED.into_response()),
    }
}

fn bad_t(method: &'static str, what: &'static str, t: &str) -> WebError {
    WebError::BadT {
        method,
        what,
        t: t.to_string(),
    }
}

/// `/uri/$CAP[/path]` and `/named/$CAP[/path]`.
pub async fn uri_path<C: StorageClient>(State(st): State<AppState<C>>, req: Request) -> Response {
    uri_path_inner(st, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn uri_path_inner<C: StorageClient>(st: AppState<C>, req: Request) -> Result<Response> {
    let target = parse_target(req.uri().path())?;
    let mut args = Args::from_query(req.uri().query());
    match req.method().clone() {
        Method::GET | Method::HEAD => {
            let head = req.method() == Method::HEAD;
            get(&st, &target, &args, req.headers(), head).await
        }
        Method::PUT => {
            let len = content_length(req.headers());
            put(&st, &target, &args, req.into_body(), len).await
        }
        Method::POST => {
            let (body, upload) = read_post(st.ops(), &mut args, req).await?;
            post(&st, &target, &args, body, upload).await
        }
        Method::DELETE => {
            if target.names.is_empty() {
                return Err(WebError::BadRequest(
                    "DELETE needs a path below the directory".into(),
                ));
            }
            st.client().unlink(&target.cap, &target.path()).await?;
            Ok(text(StatusCode::OK, ""))
        }
        _ => Ok(StatusCode::METHOD_NOT_ALLOWED.into_response()),
    }
}

/// Resolve the target; under `/named/` a path that continues below a file
/// names the download (`/named/$FILECAP/NAME`).
async fn resolve<C: StorageClient>(st: &AppState<C>, t: &Target) -> Result<(Node, Option<String>)> {
    match st.client().resolve(&t.cap, &t.path()).await {
        Ok(n) => Ok((n, t.names.last().cloned())),
        Err(FacadeError::NotADirectory { path }) if t.named => {
            let n = st.client().resolve(&t.cap, &path).await?;
            Ok((n, t.names.last().cloned()))
        }
        Err(e) => Err(e.into()),
    }
}

async fn get<C: StorageClient>(
    st: &AppState<C>,
    target: &Target,
    args: &Args,
    headers: &HeaderMap,
    head: bool,
) -> Result<Response> {
    let (node, name) = resolve(st, target).await?;
    let cap = &node.cap;
    match (args.t(), cap.is_dir()) {
        ("uri", _) => Ok(text(StatusCode::OK, cap.to_string())),
        ("readonly-uri", _) => Ok(text(StatusCode::OK, cap.readonly().to_string())),
        ("json", true) => {
            let listing = st.client().list(cap).await?;
            Ok(json_response(&render::dir_json(cap, &listing.entries)))
        }
        ("json", false) => {
            let size = st.client().file_size(cap.file()).await.ok();
            Ok(json_response(&render::file_json(
                cap,
                size,
                node.metadata.as_ref(),
            )))
        }
        ("info", _) => {
            let size = match cap.is_dir() {
                true => None,
                false => st.client().file_size(cap.file()).await.ok(),
            };
            Ok(ui::file_info_page(&render::file_info_view(cap, size)))
        }
        ("", true) => {
            let listing = st.client().list(cap).await?;
            Ok(ui::directory_page(&render::directory_view(
                &target.cap_text,
                &target.names,
                cap,
                &listing.entries,
            )))
        }
        ("", false) => {
            let filename = args.get("filename").map(str::to_string).or(name);
            download(st, cap, filename, args, headers, head).await
        }
        (t, true) => Err(bad_t("GET", "directory", t)),
        (t, false) => Err(bad_t("GET", "file", t)),
    }
}

/// Parse a single `bytes=` range against `size` (Tahoe ignores what it
/// cannot parse and serves the whole file).
fn parse_range(h: &str, size: u64) -> Option<Result<Range<u64>>> {
    let spec = h.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let r = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 {
            return Some(Err(WebError::RangeNotSatisfiable { size }));
        }
        size.saturating_sub(n)..size
    } else {
        let start: u64 = a.parse().ok()?;
        let end = if b.is_empty() {
            size
        } else {
            let e: u64 = b.parse().ok()?;
            if e < start {
                return None;
            }
            e.saturating_add(1).min(size)
        };
        if start >= size {
            return Some(Err(WebError::RangeNotSatisfiable { size }));
        }
        start..end
    };
    Some(Ok(r))
}

fn guess_mime(name: Option<&str>) -> &'static str {
    let ext = name
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" | "text" | "md" | "rst" | "py" | "rs" => "text/plain",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "js" => "application/javascript",
        "json" => "application/json",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

async fn download<C: StorageClient>(
    st: &AppState<C>,
    cap: &Cap,
    filename: Option<String>,
    args: &Args,
    headers: &HeaderMap,
    head: bool,
) -> Result<Response> {
    let size = st.client().file_size(cap.file()).await?;
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(h) => parse_range(h, size).transpose()?,
        None => None,
    };
    let (status, len) = match &range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.end - r.start),
        None => (StatusCode::OK, size),
    };
    let body = if head || len == 0 {
        Body::empty()
    } else {
        let s = st.client().download(cap, range.clone()).await?;
        let tracker = st.ops().track(
            OpKind::Download,
            filename.clone().unwrap_or_default(),
            Some(len),
        );
        tracker.storage_index(cap);
        // A failure mid-stream can only cut the body short; the status
        // line has gone out already (Tahoe behaves the same). A client
        // that leaves drops the stream, and with it the tracker: the row
        // then reads "interrupted".
        // hyper stops polling once Content-Length bytes are out, so the
        // row is finished on the last byte rather than at the stream's end.
        let s = futures::stream::unfold(
            (s, Some(tracker), 0u64),
            move |(mut s, mut t, sent)| async move {
                match s.next().await {
                    Some(Ok(b)) => {
                        let sent = sent + b.len() as u64;
                        if let Some(tr) = &t {
                            tr.add(b.len() as u64);
                        }
                        if sent >= len {
                            if let Some(tr) = t.take() {
                                tr.finish();
                            }
                        }
                        Some((Ok(b), (s, t, sent)))
                    }
                    Some(Err(e)) => {
                        if let Some(tr) = t.take() {
                            tr.fail(&e);
                        }
                        Some((Err(std::io::Error::other(e)), (s, None, sent)))
                    }
                    None => {
                        if let Some(tr) = t.take() {
                            tr.finish();
                        }
                        None
                    }
                }
            },
        );
        Body::from_stream(s)
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(guess_mime(filename.as_deref())),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(r) = &range {
        if let Ok(v) = format!("bytes {}-{}/{size}", r.start, r.end.saturating_sub(1)).parse() {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    if args.flag("save", false)? {
        let name = filename
            .unwrap_or_default()
            .replace(['"', '\\', '\r', '\n'], "_");
        if let Ok(v) = format!("attachment; filename=\"{name}\"").parse() {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(resp)
}

// ------------------------------------------------------------------ uploads

/// An anonymous temporary file to spool an upload into (the convergent
/// key needs a first pass over the whole file, so it cannot stream
/// straight into the encoder).
async fn spool_file() -> Result<tokio::fs::File> {
    let f = tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(|_| WebError::Grid("spool task failed".into()))??;
    Ok(tokio::fs::File::from_std(f))
}

/// The spooled file, flushed and rewound.
async fn rewind(mut af: tokio::fs::File) -> Result<std::fs::File> {
    af.flush().await?;
    let mut f = af.into_std().await;
    f.seek(SeekFrom::Start(0))?;
    Ok(f)
}

/// Spool a request body to a temporary file, counting the bytes
/// received on `tracker`.
async fn spool(body: Body, tracker: &Tracker) -> Result<std::fs::File> {
    let mut af = spool_file().await?;
    let mut s = body.into_data_stream();
    while let Some(chunk) = s.next().await {
        let chunk = chunk.map_err(|e| WebError::Io(std::io::Error::other(e)))?;
        af.write_all(&chunk).await?;
        tracker.add(chunk.len() as u64);
    }
    rewind(af).await
}

async fn read_limited(body: Body) -> Result<Vec<u8>> {
    let b = axum::body::to_bytes(body, MAX_MEMORY_BODY)
        .await
        .map_err(|_| WebError::BadRequest("request body too large or unreadable".into()))?;
    Ok(b.to_vec())
}

/// The request's `Content-Length`, when it gives one.
fn content_length(h: &HeaderMap) -> Option<u64> {
    h.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// A file uploaded through a form, already spooled, with the `/status`
/// row that has counted its bytes in.
struct Spooled {
    name: Option<String>,
    file: std::fs::File,
    tracker: Tracker,
}

/// Upload a spooled form file, on the row that tracked its arrival.
async fn upload_file<C: StorageClient>(
    st: &AppState<C>,
    up: Spooled,
    format: FileFormat,
) -> Result<Cap> {
    let progress = up.tracker.upload_progress();
    let r = upload_spooled(st, up.file, format, Some(progress)).await;
    tracked(up.tracker, r)
}

/// Close `tracker` on an upload's outcome: the cap's storage index is
/// recorded, an error marks the row failed.
fn tracked(tracker: Tracker, r: Result<Cap>) -> Result<Cap> {
    match &r {
        Ok(cap) => {
            tracker.storage_index(cap);
            tracker.finish();
        }
        Err(e) => tracker.fail(e),
    }
    r
}

async fn upload_spooled<C: StorageClient>(
    st: &AppState<C>,
    f: std::fs::File,
    format: FileFormat,
    progress: Option<ProgressFn>,
) -> Result<Cap> {
    Ok(match format {
        FileFormat::Chk => st.client().upload_immutable(f, progress).await?,
        mutable => {
            let data = tokio::task::spawn_blocking(move || {
                let mut f = f;
                let mut v = Vec::new();
                std::io::Read::read_to_end(&mut f, &mut v).map(|_| v)
            })
            .await
            .map_err(|_| WebError::Grid("read task failed".into()))??;
            st.client().upload_bytes(data, mutable).await?
        }
    })
}

/// Upload a request body (PUT), tracked for `/status` from its first
/// byte: "receiving data" while it spools, then hashing and pushing.
async fn upload_body<C: StorageClient>(
    st: &AppState<C>,
    body: Body,
    len: Option<u64>,
    format: FileFormat,
    name: &str,
) -> Result<Cap> {
    let tracker = st.ops().track(OpKind::Upload, name, len);
    let work = async {
        match format {
            FileFormat::Chk => {
                let f = spool(body, &tracker).await?;
                let progress = tracker.upload_progress();
                upload_spooled(st, f, format, Some(progress)).await
            }
            m => {
                let data = read_limited(body).await?;
                tracker.set(data.len() as u64, Some(data.len() as u64));
                tracker.phase("publishing", None);
                Ok(st.client().upload_bytes(data, m).await?)
            }
        }
    };
    let r = work.await;
    tracked(tracker, r)
}

/// Read a POST body: urlencoded fields join `args`; a multipart form's
/// fields join `args` and its `file` field is spooled. Other bodies
/// (JSON for mkdir-with-children, set_children) are returned raw.
async fn read_post(
    ops: &ops::Ops,
    args: &mut Args,
    req: Request,
) -> Result<(Vec<u8>, Option<Spooled>)> {
    // The whole form's length: the file is most of it, so it stands in
    // for the file's size while it arrives.
    let form_len = content_length(req.headers());
    let ctype = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ctype.starts_with("multipart/form-data") {
        let mut mp = Multipart::from_request(req, &())
            .await
            .map_err(|e| WebError::BadRequest(format!("bad multipart body: {e}")))?;
        let mut file = None;
        // Bounded by the body: each iteration consumes one field.
        while let Some(field) = mp
            .next_field()
            .await
            .map_err(|e| WebError::BadRequest(format!("bad multipart body: {e}")))?
        {
            let name = field.name().unwrap_or("").to_string();
            if name == "file" {
                let fname = field.file_name().map(str::to_string);
                let tracker =
                    ops.track(OpKind::Upload, fname.clone().unwrap_or_default(), form_len);
                let mut field = field;
                let mut af = spool_file().await?;
                while let Some(chunk) = field
                    .chunk()
                    .await
                    .map_err(|e| WebError::BadRequest(format!("bad multipart body: {e}")))?
                {
                    af.write_all(&chunk).await?;
                    tracker.add(chunk.len() as u64);
                }
                file = Some(Spooled {
                    name: fname,
                    file: rewind(af).await?,
                    tracker,
                });
            } else {
                let v = field
                    .text()
                    .await
                    .map_err(|e| WebError::BadRequest(format!("bad multipart body: {e}")))?;
                args.add(name, v);
            }
        }
        return Ok((Vec::new(), file));
    }
    let body = read_limited(req.into_body()).await?;
    if ctype.starts_with("application/x-www-form-urlencoded") {
        args.add_urlencoded(&body);
    }
    Ok((body, None))
}

// ------------------------------------------------------------------ PUT

/// `offset=` of a PUT to a mutable file (Tahoe's `parse_offset_arg`).
fn offset_arg(args: &Args) -> Result<Option<u64>> {
    match args.get("offset") {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| WebError::BadRequest("PUT to a mutable file: Invalid offset".into())),
    }
}

/// Write a PUT body into the mutable file `cap`: replace its contents,
/// or with `offset=` write at that offset (Tahoe's `update_my_contents`).
async fn write_mutable<C: StorageClient>(
    st: &AppState<C>,
    cap: &Cap,
    offset: Option<u64>,
    body: Body,
) -> Result<()> {
    let data = read_limited(body).await?;
    let kind = match offset {
        Some(_) => OpKind::Update,
        None => OpKind::Upload,
    };
    let tracker = st.ops().track(kind, "", Some(data.len() as u64));
    tracker.storage_index(cap);
    tracker.set(data.len() as u64, None);
    tracker.phase("publishing", None);
    let r = match offset {
        Some(o) => st.client().update_mutable(cap, o, data).await,
        None => st.client().overwrite_mutable(cap, data).await,
    };
    match r {
        Ok(_) => {
            tracker.finish();
            Ok(())
        }
        Err(e) => {
            let e = WebError::from(e);
            tracker.fail(&e);
            Err(e)
        }
    }
}

async fn put<C: StorageClient>(
    st: &AppState<C>,
    target: &Target,
    args: &Args,
    body: Body,
    len: Option<u64>,
) -> Result<Response> {
    let c = st.client();
    let path = target.path();
    let offset = offset_arg(args)?;
    if target.names.is_empty() {
        // PUT to a cap itself: overwrite a mutable file in place.
        return match (&target.cap, args.t()) {
            (Cap::File(FileCap::SskWrite(_)), "") => {
                write_mutable(st, &target.cap, offset, body).await?;
                Ok(text(StatusCode::OK, target.cap.to_string()))
            }
            (Cap::File(f), "") if offset.is_some() && !f.is_mutable() => Err(immutable_offset()),
            (Cap::Dir(_), "mkdir") => Ok(text(StatusCode::OK, target.cap.to_string())),
            (Cap::Dir(_), t) => Err(bad_t("PUT", "directory", t)),
            (_, "") => Err(WebError::ReadOnly("this file".into())),
            (_, t) => Err(bad_t("PUT", "file", t)),
        };
    }
    let replace = args.replace()?;
    match args.t() {
        "uri" => {
            let text_cap = String::from_utf8(read_limited(body).await?)
                .map_err(|_| WebError::BadRequest("cap is not UTF-8".into()))?;
            let cap = Cap::parse(text_cap.trim())
                .map_err(|_| WebError::BadCap(text_cap.trim().to_string()))?;
            let (parent, name) = split_last(&target.names);
            let dir = c.mkdir_p(&target.cap, &parent).await?;
            let replaced = c.link(&dir, &name, &LinkCaps::of(&cap), replace).await?;
            Ok(text(created_or_ok(replaced), cap.to_string()))
        }
        "mkdir" => {
            let cap = c.mkdir_p(&target.cap, &path).await?;
            Ok(text(StatusCode::OK, cap.to_string()))
        }
        "" => {
            let (parent, name) = split_last(&target.names);
            let dir = c.mkdir_p(&target.cap, &parent).await?;
            // An existing mutable file is overwritten in place and keeps
            // its cap (Tahoe's FileNodeHandler.replace_my_contents).
            let existed = match c.resolve(&dir, &name).await {
                Ok(Node {
                    cap: existing @ Cap::File(FileCap::SskWrite(_)),
                    ..
                }) if replace != Replace::No && args.file_format()?.is_none() => {
                    write_mutable(st, &existing, offset, body).await?;
                    return Ok(text(StatusCode::OK, existing.to_string()));
                }
                Ok(n) if offset.is_some() && !n.cap.is_dir() && !n.cap.file().is_mutable() => {
                    return Err(immutable_offset());
                }
                Ok(n) if refuses(replace, &n.cap) => return Err(WebError::ChildExists),
                Ok(_) => true,
                Err(FacadeError::NoSuchChild { .. }) => false,
                Err(e) => return Err(e.into()),
            };
            let format = args.file_format()?.unwrap_or(FileFormat::Chk);
            let cap = upload_body(st, body, len, format, &name).await?;
            let replaced = c.link(&dir, &name, &LinkCaps::of(&cap), replace).await?;
            Ok(text(created_or_ok(replaced || existed), cap.to_string()))
        }
        t => Err(bad_t("PUT", "directory", t)),
    }
}

/// Tahoe's answer to `offset=` on an immutable file.
fn immutable_offset() -> WebError {
    WebError::BadRequest("PUT to a file: append operation invoked on an immutable cap".into())
}

fn refuses(replace: Replace, existing: &Cap) -> bool {
    match replace {
        Replace::Yes => false,
        Replace::No => true,
        Replace::OnlyFiles => existing.is_dir(),
    }
}

fn created_or_ok(replaced: bool) -> StatusCode {
    if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    }
}

fn split_last(names: &[String]) -> (String, String) {
    match names.split_last() {
        Some((last, parent)) => (parent.join("/"), last.clone()),
        None => (String::new(), String::new()),
    }
}

/// Children JSON as in `t=json` / `mkdir-with-children`:
/// `{name: [kind, {"ro_uri", "rw_uri", "metadata"}]}`.
fn parse_children(body: &[u8], immutable: bool) -> Result<Vec<(String, LinkCaps)>> {
    Ok(parse_children_md(body, immutable)?
        .into_iter()
        .map(|(n, c, _)| (n, c))
        .collect())
}

type ChildSpec = (String, LinkCaps, Option<Map<String, Value>>);

fn parse_children_md(body: &[u8], immutable: bool) -> Result<Vec<ChildSpec>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| WebError::BadRequest(format!("children JSON does not parse: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| WebError::BadRequest("children JSON must be an object".into()))?;
    let mut out = Vec::with_capacity(obj.len());
    for (name, spec) in obj {
        let info = spec.get(1).and_then(Value::as_object).ok_or_else(|| {
            WebError::BadRequest(format!("child {name:?}: expected [type, {{…}}]"))
        })?;
        let slot = |k: &str| {
            info.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(|s| s.as_bytes().to_vec())
        };
        let (mut rw, mut ro) = (slot("rw_uri"), slot("ro_uri"));
        if immutable {
            // Tahoe keeps only the read slot for immutable directories.
            if ro.is_none() {
                ro = rw.take();
            }
            rw = None;
        } else if let (Some(r), None) = (&rw, &ro) {
            // A known write cap also gives its read cap.
            if let Ok(c) = Cap::parse(&String::from_utf8_lossy(r)) {
                ro = Some(c.readonly().to_string().into_bytes());
            }
        }
        let md = info.get("metadata").and_then(Value::as_object).cloned();
        out.push((name.clone(), LinkCaps { rw, ro }, md));
    }
    Ok(out)
}

// ------------------------------------------------------------------ POST

async fn post<C: StorageClient>(
    st: &AppState<C>,
    target: &Target,
    args: &Args,
    body: Vec<u8>,
    upload: Option<Spooled>,
) -> Result<Response> {
    let c = st.client();
    let path = target.path();
    let name = args.get("name").map(str::to_string);
    let replace = args.replace()?;
    let t = args.t().to_string();
    let result = match t.as_str() {
        "mkdir" | "mkdir-with-children" | "mkdir-immutable" => {
            let new = match t.as_str() {
                "mkdir" if name.is_none() => {
                    // Tahoe: the path itself is the directory to make.
                    let cap = c.mkdir_p(&target.cap, &path).await?;
                    return Ok(text(StatusCode::OK, cap.to_string()));
                }
                "mkdir" => c.mkdir(args.dir_format()?, &[], None).await?,
                "mkdir-with-children" => {
                    c.mkdir(args.dir_format()?, &parse_children(&body, false)?, None)
                        .await?
                }
                _ => c.mkdir_immutable(&parse_children(&body, true)?).await?,
            };
            let at = match &name {
                Some(n) => join(&path, n),
                None => path.clone(),
            };
            if at.is_empty() {
                return Err(WebError::BadRequest(format!("t={t} needs name=")));
            }
            let (parent, n) = split_last(
                &split_path(&at)
                    .into_iter()
                    .map(String::from)
                    .collect::<Vec<_>>(),
            );
            let dir = c.mkdir_p(&target.cap, &parent).await?;
            c.link(&dir, &n, &LinkCaps::of(&new), replace).await?;
            new.to_string()
        }
        "upload" => {
            let up = upload
                .ok_or_else(|| WebError::BadRequest("t=upload requires a file field".into()))?;
            let n = name
                .or(up.name.clone())
                .filter(|n| !n.is_empty())
                .ok_or_else(|| WebError::BadRequest("t=upload needs a file name".into()))?;
            let format = args.file_format()?.unwrap_or(FileFormat::Chk);
            let cap = upload_file(st, up, format).await?;
            c.link(&target.cap, &join(&path, &n), &LinkCaps::of(&cap), replace)
                .await?;
            cap.to_string()
        }
        "uri" => {
            let n = name.ok_or_else(|| WebError::BadRequest("t=uri needs name=".into()))?;
            let u = args
                .get("uri")
                .ok_or_else(|| WebError::BadRequest("t=uri needs uri=".into()))?;
            let cap = Cap::parse(u.trim()).map_err(|_| WebError::BadCap(u.to_string()))?;
            c.link(&target.cap, &join(&path, &n), &LinkCaps::of(&cap), replace)
                .await?;
            cap.to_string()
        }
        "delete" | "unlink" => {
            let n = name.ok_or_else(|| WebError::BadRequest(format!("t={t} needs name=")))?;
            c.unlink(&target.cap, &join(&path, &n)).await?;
            String::new()
        }
        "rename" | "relink" => {
            let from = args
                .get("from_name")
                .ok_or_else(|| WebError::BadRequest(format!("t={t} needs from_name=")))?;
            let to_name = args.get("to_name").unwrap_or(from);
            let (to_root, to_dir) = match args.get("to_dir") {
                None => (target.cap.clone(), path.clone()),
                Some(d) => relink_target(&target.cap, &path, d)?,
            };
            c.rename(
                &target.cap,
                &join(&path, from),
                &to_root,
                &join(&to_dir, to_name),
                replace,
            )
            .await?;
            String::new()
        }
        "set_children" | "set-children" => {
            let overwrite = args.flag("overwrite", true)?;
            set_children(st, target, &body, overwrite).await?;
            String::new()
        }
        "check" => {
            let node = c.resolve(&target.cap, &path).await?;
            return crate::check::check(st, &node.cap, args).await;
        }
        "start-manifest" | "start-deep-size" | "start-deep-stats" | "start-deep-check" => {
            let handle = args
                .get("ophandle")
                .ok_or_else(|| WebError::BadRequest(format!("t={t} requires ophandle=")))?
                .to_string();
            let kind = match t.as_str() {
                "start-manifest" => OpKind::Manifest,
                "start-deep-size" => OpKind::DeepSize,
                "start-deep-stats" => OpKind::DeepStats,
                _ => OpKind::DeepCheck,
            };
            let node = c.resolve(&target.cap, &path).await?;
            ops::start(st, handle.clone(), kind, node.cap, args.clone());
            let mut to = format!("/operations/{}", escape_cap(&handle));
            if let Some(o) = args.get("output") {
                to.push_str(&format!("?output={}", escape_cap(o)));
            }
            return Ok(found(&to));
        }
        "stream-manifest" => {
            let node = c.resolve(&target.cap, &path).await?;
            return ops::stream_manifest(st, node.cap).await;
        }
        "stream-deep-check" => {
            let node = c.resolve(&target.cap, &path).await?;
            return crate::check::stream_deep_check(st, node.cap, args).await;
        }
        t => return Err(bad_t("POST", "directory", t)),
    };
    if let Some(to) = args.get("when_done").filter(|s| !s.is_empty()) {
        // Only local redirects: a cap must never leave for another site.
        if to.starts_with('/') && !to.starts_with("//") {
            return Ok(found(to));
        }
    }
    Ok(text(StatusCode::OK, result))
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}/{b}")
    }
}

/// `to_dir=` of `t=relink`: a cap with optional subdirectories, or a path
/// relative to the directory the request names.
fn relink_target(root: &Cap, here: &str, to_dir: &str) -> Result<(Cap, String)> {
    let mut parts = to_dir.splitn(2, '/');
    let first = parts.next().unwrap_or("");
    if let Ok(c) = Cap::parse(first) {
        return Ok((c, parts.next().unwrap_or("").to_string()));
    }
    Ok((root.clone(), join(here, to_dir)))
}

/// `POST dir?t=set_children`: link many children in one directory
/// publish (Tahoe's `set_children`), keeping their metadata and adding
/// Tahoe's link times.
async fn set_children<C: StorageClient>(
    st: &AppState<C>,
    target: &Target,
    body: &[u8],
    overwrite: bool,
) -> Result<()> {
    let kids = parse_children_md(body, false)?;
    let node = st.client().resolve(&target.cap, &target.path()).await?;
    let w = match &node.cap {
        Cap::Dir(FileCap::SskWrite(w)) => w.clone(),
        Cap::Dir(_) => return Err(WebError::ReadOnly("this directory".into())),
        Cap::File(_) => return Err(WebError::WrongKind("set_children needs a directory".into())),
    };
    let d = st.client().dirnode(&w);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    d.modify(|children| {
        for (name, caps, md) in &kids {
            let existing = children.iter().position(|c| &c.name == name);
            if existing.is_some() && !overwrite {
                return Err(lafs_client::dirnode::DirError::ChildExists(name.clone()));
            }
            // Tahoe's update_metadata: given metadata replaces the old
            // (user keys first), the "tahoe" link times carry over last.
            let mut meta = link_metadata(existing.map(|i| &children[i].metadata), now);
            if let Some(md) = md {
                let tahoe = meta.remove("tahoe");
                meta = md
                    .iter()
                    .filter(|(k, _)| k.as_str() != "tahoe")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if let Some(t) = tahoe {
                    meta.insert("tahoe".into(), t);
                }
            }
            let child = lafs_format::dirnode::Child::new(
                name,
                caps.rw.as_deref(),
                caps.ro.as_deref(),
                meta,
            );
            match existing {
                Some(i) => children[i] = child,
                None => children.push(child),
            }
        }
        Ok(())
    })
    .await
    .map_err(FacadeError::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let ok = |h, s| parse_range(h, s).and_then(Result::ok);
        assert_eq!(ok("bytes=0-9", 100), Some(0..10));
        assert_eq!(ok("bytes=90-", 100), Some(90..100));
        assert_eq!(ok("bytes=-10", 100), Some(90..100));
        assert_eq!(ok("bytes=95-200", 100), Some(95..100));
        assert!(matches!(parse_range("bytes=100-", 100), Some(Err(_))));
        assert!(parse_range("bytes=0-1,5-6", 100).is_none());
        assert!(parse_range("items=0-1", 100).is_none());
    }

    #[test]
    fn targets() {
        let t = parse_target("/uri/URI%3ALIT%3Anbswy3dp/a%20b/c/").ok();
        let t = t.as_ref();
        assert_eq!(
            t.map(|t| t.names.clone()),
            Some(vec!["a b".into(), "c".into()])
        );
        assert!(matches!(
            parse_target("/uri/URI:LIT:nbswy3dp/a//b"),
            Err(WebError::EmptyPathComponent)
        ));
        assert!(matches!(
            parse_target("/uri/garbage"),
            Err(WebError::BadCap(_))
        ));
    }
}
