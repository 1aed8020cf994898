//! The HTTPS storage server: TLS accept loop, per-request pipeline, and the
//! one function that maps engine errors to status codes (spec §8.4, §8.7).
//!
//! Concurrency: every connection is its own task; the engine handle is
//! cloned (an `Arc` inside) so there is no lock here on the hot path. Every
//! body read is bounded per endpoint before it is buffered.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use lafs_storage::{ShareKind, StorageError, StorageServer, UploadSecret, WriteData};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::auth::{Secrets, Swissnum};
use crate::route::{Namespace, RouteError, StorageEndpoint};
use crate::wire::{self, WireError};

/// What `lafs` reports as `application-version`.
pub const APPLICATION_VERSION: &str = concat!("lafs/", env!("CARGO_PKG_VERSION"));
/// Largest immutable PATCH body buffered at once (a whole share per PATCH
/// is what the 1.20 client sends).
pub const MAX_PATCH_BODY: usize = 1 << 30;
/// Bodies of endpoints that take none are refused beyond this.
const MAX_OTHER_BODY: usize = 64 * 1024;
/// Connections served at once.
const MAX_CONNECTIONS: usize = 4096;
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

const X_TAHOE_AUTHORIZATION: &str = "x-tahoe-authorization";
const CBOR: &str = "application/cbor";
const OCTETS: &str = "application/octet-stream";

/// Shared state of one storage server.
#[derive(Debug, Clone)]
pub struct HttpStorage {
    engine: StorageServer,
    swissnum: Arc<Swissnum>,
}

/// Every response body is one buffer.
pub type Resp = Response<Full<Bytes>>;

fn resp(status: StatusCode, ctype: Option<&'static str>, body: Vec<u8>) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Some(c) = ctype {
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(c));
    }
    r
}

fn text(status: StatusCode, msg: &str) -> Resp {
    resp(status, None, msg.as_bytes().to_vec())
}

fn cbor(status: StatusCode, body: Vec<u8>) -> Resp {
    resp(status, Some(CBOR), body)
}

/// The one mapping from engine errors to status codes (spec §8.4/§8.7).
/// Python's 500s for malformed input become 4xx here.
pub fn status_for(err: &StorageError, ep: &StorageEndpoint) -> StatusCode {
    use StorageError as E;
    match err {
        E::NoSuchShare | E::NoSuchUpload => StatusCode::NOT_FOUND,
        E::WrongUploadSecret | E::BadWriteEnabler { .. } => StatusCode::UNAUTHORIZED,
        E::ConflictingWrite => StatusCode::CONFLICT,
        E::AlreadyComplete => match ep {
            StorageEndpoint::AbortUpload(..) => StatusCode::METHOD_NOT_ALLOWED,
            _ => StatusCode::NOT_FOUND,
        },
        E::WriteBeyondAllocated | E::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        // A 1.20 client treats any error on a write as a failed server and
        // places the share elsewhere; 507 says why.
        E::NoSpace | E::ReadOnly => StatusCode::INSUFFICIENT_STORAGE,
        E::BadRequest(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A failure of the request pipeline, turned into a response at one place.
enum Fail {
    Status(StatusCode, &'static str),
    Engine(StorageError),
    Wire(WireError),
}

impl From<StorageError> for Fail {
    fn from(e: StorageError) -> Self {
        Fail::Engine(e)
    }
}
impl From<WireError> for Fail {
    fn from(e: WireError) -> Self {
        match e {
            WireError::TooLarge => Fail::Status(StatusCode::PAYLOAD_TOO_LARGE, "body too large"),
            e => Fail::Wire(e),
        }
    }
}

/// Does `Accept` allow CBOR as Python's server decides it: a missing header
/// is fine; otherwise `application/cbor` must be listed explicitly with a
/// non-zero quality (Python answers 406 even to `*/*`).
fn accepts_cbor(h: &HeaderMap) -> bool {
    let mut values = h.get_all(ACCEPT).iter().peekable();
    if values.peek().is_none() {
        return true;
    }
    values.filter_map(|v| v.to_str().ok()).any(|v| {
        v.split(',').any(|item| {
            let mut parts = item.split(';');
            let ty = parts.next().unwrap_or("").trim();
            let q_zero = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            ty.eq_ignore_ascii_case(CBOR) && !q_zero
        })
    })
}

/// Missing Content-Type counts as CBOR; anything but CBOR is 415.
fn content_is_cbor(h: &HeaderMap) -> bool {
    match h.get(CONTENT_TYPE).map(|v| v.to_str()) {
        None => true,
        Some(Ok(v)) => v
            .split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case(CBOR)),
        Some(Err(_)) => false,
    }
}

/// `Range: bytes=a-b` (single range, explicit end) → (a, b inclusive).
/// Anything else present is an unsatisfiable range (416).
fn parse_range(v: &HeaderValue) -> Option<(u64, u64)> {
    let s = v.to_str().ok()?.trim();
    let spec = s.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|c| c.is_ascii_digit());
    if !digits(a) || !digits(b) {
        return None;
    }
    let (a, b) = (a.parse().ok()?, b.parse().ok()?);
    (a <= b).then_some((a, b))
}

/// `Content-Range: bytes a-b/*` (or `/total`) → (a, b inclusive).
fn parse_content_range(v: &HeaderValue) -> Option<(u64, u64)> {
    let s = v.to_str().ok()?.trim();
    let rest = s.strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    if total != "*" && total.parse::<u64>().is_err() {
        return None;
    }
    let (a, b) = range.split_once('-')?;
    let (a, b): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a <= b).then_some((a, b))
}

/// A request body as the frames it arrived in, at most `limit` bytes:
/// share data goes to the store that way (one `pwritev`, no gather copy);
/// the small CBOR bodies are gathered where they are parsed.
async fn read_body<B>(body: B, limit: usize) -> Result<WriteData, Fail>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut body = std::pin::pin!(Limited::new(body, limit));
    let mut chunks = Vec::new();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                if let Ok(data) = f.into_data() {
                    chunks.push(data);
                }
            }
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(Fail::Status(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body too large",
                ))
            }
            Err(_) => return Err(Fail::Status(StatusCode::BAD_REQUEST, "body read failed")),
        }
    }
    Ok(WriteData::from_chunks(chunks))
}

fn body_limit(ep: &StorageEndpoint) -> usize {
    match ep {
        StorageEndpoint::Allocate(_) => wire::MAX_ALLOCATE_BODY,
        StorageEndpoint::AdviseCorrupt(..) => wire::MAX_ADVISE_BODY,
        StorageEndpoint::ReadTestWrite(_) => wire::MAX_RTW_BUFFERED,
        StorageEndpoint::WriteShare(..) => MAX_PATCH_BODY,
        _ => MAX_OTHER_BODY,
    }
}

fn kind(ns: Namespace) -> ShareKind {
    match ns {
        Namespace::Immutable => ShareKind::Immutable,
        Namespace::Mutable => ShareKind::Mutable,
    }
}

impl HttpStorage {
    /// Serve `engine` to clients presenting `swissnum`.
    pub fn new(engine: StorageServer, swissnum: Swissnum) -> Self {
        HttpStorage {
            engine,
            swissnum: Arc::new(swissnum),
        }
    }

    /// The engine behind this server.
    pub fn engine(&self) -> &StorageServer {
        &self.engine
    }

    /// Answer one request. Never fails: every error becomes a status.
    /// Generic over the body so tests can drive it without a socket.
    pub async fn handle<B>(&self, req: Request<B>) -> Resp
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        let ep = match StorageEndpoint::parse(&parts.method, parts.uri.path()) {
            Ok(ep) => ep,
            Err(RouteError::NotFound) => {
                return resp(
                    StatusCode::NOT_FOUND,
                    Some("text/html; charset=utf-8"),
                    b"<!doctype html>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n".to_vec(),
                )
            }
            Err(RouteError::MethodNotAllowed) => {
                return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
            }
        };
        match self.dispatch(ep, &parts.headers, body).await {
            Ok(r) => r,
            Err(Fail::Status(s, m)) => text(s, m),
            Err(Fail::Wire(e)) => text(StatusCode::BAD_REQUEST, &e.to_string()),
            Err(Fail::Engine(e)) => {
                let status = status_for(&e, &ep);
                if status.is_server_error() {
                    tracing::warn!(endpoint = ?ep, error = %e, "storage request failed");
                }
                // Share reads answer 404 as octet-stream: the Python client
                // checks the content type before the status code.
                let ctype = matches!(ep, StorageEndpoint::ReadShare(..)).then_some(OCTETS);
                resp(status, ctype, Vec::new())
            }
        }
    }

    async fn dispatch<B>(&self, ep: StorageEndpoint, h: &HeaderMap, body: B) -> Result<Resp, Fail>
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        use StorageEndpoint as E;
        if !self
            .swissnum
            .check(h.get_all(AUTHORIZATION).iter().map(|v| v.as_bytes()))
        {
            return Err(Fail::Status(StatusCode::UNAUTHORIZED, "bad Authorization"));
        }
        let secrets = Secrets::parse(
            h.get_all(X_TAHOE_AUTHORIZATION)
                .iter()
                .map(|v| v.as_bytes()),
            ep.required_secrets(),
        )
        .map_err(|_| Fail::Status(StatusCode::BAD_REQUEST, "bad X-Tahoe-Authorization"))?;
        if ep.responds_cbor() && !accepts_cbor(h) {
            return Err(Fail::Status(StatusCode::NOT_ACCEPTABLE, ""));
        }
        if ep.takes_cbor() && !content_is_cbor(h) {
            return Err(Fail::Status(StatusCode::UNSUPPORTED_MEDIA_TYPE, ""));
        }
        // PATCH needs its Content-Range before the body is read.
        let content_range = match ep {
            E::WriteShare(..) => Some(h.get(CONTENT_RANGE).and_then(parse_content_range).ok_or(
                Fail::Status(StatusCode::RANGE_NOT_SATISFIABLE, "bad Content-Range"),
            )?),
            _ => None,
        };
        let body = read_body(body, body_limit(&ep)).await?;
        let upload = || UploadSecret::new(secrets.upload.clone().unwrap_or_default());
        let renew = || {
            secrets
                .renew
                .clone()
                .ok_or(Fail::Status(StatusCode::BAD_REQUEST, ""))
        };
        let cancel = || {
            secrets
                .cancel
                .clone()
                .ok_or(Fail::Status(StatusCode::BAD_REQUEST, ""))
        };
        let e = &self.engine;
        match ep {
            E::Version => {
                let v = e.version().await;
                Ok(cbor(
                    StatusCode::OK,
                    wire::VersionResponse {
                        maximum_immutable_share_size: v.maximum_immutable_share_size,
                        maximum_mutable_share_size: v.maximum_mutable_share_size,
                        available_space: v.available_space,
                        application_version: APPLICATION_VERSION.as_bytes().to_vec(),
                    }
                    .to_cbor(),
                ))
            }
            E::AddOrRenewLease(si) => {
                e.add_or_renew_lease(si, &renew()?, &cancel()?).await?;
                Ok(text(StatusCode::NO_CONTENT, ""))
            }
            E::Allocate(si) => {
                let req = wire::AllocateRequest::from_cbor(&body.to_bytes())?;
                let a = e
                    .allocate_buckets(
                        si,
                        &renew()?,
                        &cancel()?,
                        &upload(),
                        &req.share_numbers,
                        req.allocated_size,
                    )
                    .await?;
                Ok(cbor(
                    StatusCode::OK,
                    wire::AllocateResponse {
                        already_have: a.already_have,
                        allocated: a.allocated,
                    }
                    .to_cbor(),
                ))
            }
            E::WriteShare(si, n) => {
                let (first, last) = content_range.unwrap_or((0, 0));
                if last - first + 1 != body.len() as u64 {
                    return Err(Fail::Status(
                        StatusCode::RANGE_NOT_SATISFIABLE,
                        "Content-Range does not match the body",
                    ));
                }
                let p = e.write_immutable(si, n, &upload(), first, body).await?;
                let status = if p.complete {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                };
                Ok(cbor(
                    status,
                    wire::UploadProgress {
                        required: p.required,
                    }
                    .to_cbor(),
                ))
            }
            E::AbortUpload(si, n) => {
                e.abort_immutable(si, n, &upload()).await?;
                Ok(text(StatusCode::OK, ""))
            }
            E::ListShares(ns, si) => {
                let set: BTreeSet<u16> = match ns {
                    Namespace::Immutable => e.list_immutable(si).await?,
                    Namespace::Mutable => e.list_mutable(si).await?,
                };
                Ok(cbor(StatusCode::OK, wire::share_set_to_cbor(&set)))
            }
            E::ReadShare(ns, si, n) => self.read_share(ns, si, n, h).await,
            E::AdviseCorrupt(ns, si, n) => {
                let req = wire::AdviseCorruptRequest::from_cbor(&body.to_bytes())?;
                e.advise_corrupt(kind(ns), si, n, &req.reason).await?;
                Ok(text(StatusCode::OK, ""))
            }
            E::ReadTestWrite(si) => {
                let req = wire::ReadTestWriteRequest::from_cbor(&body.to_bytes())?;
                let we = secrets
                    .write_enabler
                    .clone()
                    .ok_or(Fail::Status(StatusCode::BAD_REQUEST, ""))?;
                let r = e
                    .mutable_test_and_write(
                        si,
                        &we,
                        &renew()?,
                        &cancel()?,
                        req.test_write_vectors,
                        &req.read_vector,
                    )
                    .await?;
                Ok(cbor(
                    StatusCode::OK,
                    wire::ReadTestWriteResponse {
                        success: r.success,
                        data: r.data,
                    }
                    .to_cbor(),
                ))
            }
        }
    }

    /// Range reads exactly as spec §8.5.
    async fn read_share(
        &self,
        ns: Namespace,
        si: lafs_storage::StorageIndex,
        n: u16,
        h: &HeaderMap,
    ) -> Result<Resp, Fail> {
        let e = &self.engine;
        let read = |off: u64, len: u64| async move {
            match ns {
                Namespace::Immutable => e.read_immutable(si, n, off, len).await,
                Namespace::Mutable => e.read_mutable(si, n, off, len).await,
            }
        };
        let Some(range) = h.get(RANGE) else {
            let len = match ns {
                Namespace::Immutable => e.immutable_len(si, n).await?,
                Namespace::Mutable => e.mutable_len(si, n).await?,
            };
            let data = read(0, len).await?;
            return Ok(resp(StatusCode::OK, Some(OCTETS), data));
        };
        let Some((first, last)) = parse_range(range) else {
            return Ok(resp(
                StatusCode::RANGE_NOT_SATISFIABLE,
                Some(OCTETS),
                Vec::new(),
            ));
        };
        let want = last.saturating_sub(first).saturating_add(1);
        let data = read(first, want).await?;
        if data.is_empty() {
            return Ok(resp(StatusCode::NO_CONTENT, Some(OCTETS), Vec::new()));
        }
        let end = first + data.len() as u64 - 1;
        let mut r = resp(StatusCode::PARTIAL_CONTENT, Some(OCTETS), data);
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {first}-{end}/*")) {
            r.headers_mut().insert(CONTENT_RANGE, v);
        }
        Ok(r)
    }
}

/// Serve HTTPS on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    tls: rustls::ServerConfig,
    storage: HttpStorage,
    shutdown: impl Future<Output = ()>,
) {
    serve_with(listener, tls, shutdown, move |req| {
        let storage = storage.clone();
        async move { storage.handle(req).await }
    })
    .await;
}

/// The TLS accept loop behind [`serve`], for any request handler (the
/// introducer serves its own endpoints with it): bounded connections,
/// bounded handshakes, HTTP/1.1, every connection aborted at shutdown.
pub async fn serve_with<H, F>(
    listener: TcpListener,
    tls: rustls::ServerConfig,
    shutdown: impl Future<Output = ()>,
    handler: H,
) where
    H: Fn(Request<hyper::body::Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Resp> + Send + 'static,
{
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut conns = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            a = listener.accept() => a,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let (tcp, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let handler = handler.clone();
        conns.spawn(async move {
            let _permit = permit;
            let tls = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let svc = hyper::service::service_fn(move |req| {
                let fut = handler(req);
                async move { Ok::<_, std::convert::Infallible>(fut.await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                .await
            {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    conns.abort_all();
}

/// A storage server on `127.0.0.1:0` with a fresh identity, for tests and
/// in-process grids; it stops when dropped.
#[derive(Debug)]
pub struct LoopbackServer {
    /// How to reach it (contains the swissnum).
    pub nurl: crate::Nurl,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl LoopbackServer {
    /// Serve `engine` with `swissnum` on a new loopback port.
    pub async fn start(engine: StorageServer, swissnum: String) -> Result<Self, LoopbackError> {
        let id = crate::tls::Identity::generate("127.0.0.1")?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let storage = HttpStorage::new(engine, Swissnum::new(swissnum.clone()));
        tokio::spawn(serve(listener, id.server_config()?, storage, async {
            let _ = rx.await;
        }));
        Ok(LoopbackServer {
            nurl: crate::Nurl {
                spki_hash: id.spki_hash()?,
                host: "127.0.0.1".into(),
                port,
                swissnum,
            },
            _stop: tx,
        })
    }
}

/// Why a loopback server did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoopbackError {
    /// Binding the port.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// Making the TLS identity.
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_rules() {
        let mut h = HeaderMap::new();
        assert!(accepts_cbor(&h));
        h.insert(ACCEPT, HeaderValue::from_static("application/cbor"));
        assert!(accepts_cbor(&h));
        h.insert(ACCEPT, HeaderValue::from_static("*/*"));
        assert!(!accepts_cbor(&h));
        h.insert(ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!accepts_cbor(&h));
        h.insert(
            ACCEPT,
            HeaderValue::from_static("application/json, application/cbor;q=0.5"),
        );
        assert!(accepts_cbor(&h));
        h.insert(ACCEPT, HeaderValue::from_static("application/cbor;q=0"));
        assert!(!accepts_cbor(&h));
    }

    #[test]
    fn ranges() {
        let r = |s: &'static str| parse_range(&HeaderValue::from_static(s));
        assert_eq!(r("bytes=0-99"), Some((0, 99)));
        assert_eq!(r("bytes=10-"), None);
        assert_eq!(r("bytes=-5"), None);
        assert_eq!(r("bytes=0-3,8-11"), None);
        assert_eq!(r("items=0-5"), None);
        assert_eq!(r("bytes=5-4"), None);
        let c = |s: &'static str| parse_content_range(&HeaderValue::from_static(s));
        assert_eq!(c("bytes 0-19/*"), Some((0, 19)));
        assert_eq!(c("bytes 5-9/10"), Some((5, 9)));
        assert_eq!(c("bytes 5-9"), None);
        assert_eq!(c("items 5-9/*"), None);
    }

    #[test]
    fn error_statuses() {
        use lafs_storage::{ServerId20, StorageIndex};
        let si = StorageIndex([0; 16]);
        let abort = StorageEndpoint::AbortUpload(si, 0);
        let patch = StorageEndpoint::WriteShare(si, 0);
        let s = |e: StorageError, ep: &StorageEndpoint| status_for(&e, ep).as_u16();
        assert_eq!(s(StorageError::NoSuchShare, &patch), 404);
        assert_eq!(s(StorageError::NoSuchUpload, &patch), 404);
        assert_eq!(s(StorageError::WrongUploadSecret, &patch), 401);
        assert_eq!(
            s(
                StorageError::BadWriteEnabler {
                    nodeid: ServerId20([0; 20])
                },
                &patch
            ),
            401
        );
        assert_eq!(s(StorageError::ConflictingWrite, &patch), 409);
        assert_eq!(s(StorageError::AlreadyComplete, &abort), 405);
        assert_eq!(s(StorageError::AlreadyComplete, &patch), 404);
        assert_eq!(s(StorageError::WriteBeyondAllocated, &patch), 413);
        assert_eq!(s(StorageError::NoSpace, &patch), 507);
        assert_eq!(s(StorageError::Io(std::io::Error::other("x")), &patch), 500);
    }

    #[test]
    fn content_types() {
        let mut h = HeaderMap::new();
        assert!(content_is_cbor(&h));
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/cbor"));
        assert!(content_is_cbor(&h));
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert!(!content_is_cbor(&h));
    }
}
