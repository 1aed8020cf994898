//! A small HTTPS storage client pinned by SPKI hash (spec §8.1), enough for
//! benchmarks and tests: one HTTP/1.1 connection per [`Connection`], CBOR
//! bodies through [`crate::wire`], secrets through [`crate::auth`].

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use lafs_format::keys::StorageIndex;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::auth::{Secrets, Swissnum};
use crate::nurl::Nurl;
use crate::route::Namespace;
use crate::tls::{client_config, TlsError};
use crate::wire::{self, WireError};

/// Why a client request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// TLS setup.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    /// Connecting or the handshake.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// HTTP framing.
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    /// Building a request.
    #[error("request: {0}")]
    Request(#[from] http::Error),
    /// The server answered an unexpected status.
    #[error("unexpected status {0}")]
    Status(StatusCode),
    /// The server's CBOR did not match the schema.
    #[error("bad response body: {0}")]
    Wire(#[from] WireError),
}

/// Where and how to reach one storage server.
#[derive(Clone)]
pub struct StorageClient {
    nurl: Nurl,
    tls: TlsConnector,
    swissnum: Arc<Swissnum>,
}

impl std::fmt::Debug for StorageClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageClient")
            .field("nurl", &self.nurl)
            .finish()
    }
}

impl StorageClient {
    /// A client for the server named by `nurl`.
    pub fn new(nurl: Nurl) -> Result<Self, ClientError> {
        let tls = TlsConnector::from(Arc::new(client_config(&nurl.spki_hash)?));
        let swissnum = Arc::new(Swissnum::new(nurl.swissnum.clone()));
        Ok(StorageClient {
            nurl,
            tls,
            swissnum,
        })
    }

    /// Open one HTTP/1.1 connection.
    pub async fn connect(&self) -> Result<Connection, ClientError> {
        let tcp = TcpStream::connect((self.nurl.host.as_str(), self.nurl.port)).await?;
        tcp.set_nodelay(true)?;
        // SNI is disabled; the name only satisfies the API.
        let name = match self.nurl.host.parse::<std::net::IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => ServerName::try_from(self.nurl.host.clone())
                .unwrap_or_else(|_| ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into())),
        };
        let tls = self.tls.connect(name, tcp).await?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Connection {
            sender,
            auth: HeaderValue::from_str(self.swissnum.header_value()).map_err(http::Error::from)?,
        })
    }
}

/// One open connection; requests on it are sequential.
#[derive(Debug)]
pub struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    auth: HeaderValue,
}

/// A response: status, headers, whole body.
pub type Reply = (StatusCode, HeaderMap, Bytes);

impl Connection {
    /// Send one request with the swissnum, the given secrets and headers.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        secrets: &Secrets,
        headers: &[(&str, String)],
        body: Bytes,
    ) -> Result<Reply, ClientError> {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", self.auth.clone())
            .header("accept", "application/cbor");
        for line in secrets.header_lines() {
            b = b.header("x-tahoe-authorization", line);
        }
        for (k, v) in headers {
            b = b.header(*k, v);
        }
        let req = b.body(Full::new(body))?;
        self.sender.ready().await?;
        let resp = self.sender.send_request(req).await?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok((parts.status, parts.headers, body))
    }

    /// `GET /storage/v1/version`.
    pub async fn version(&mut self) -> Result<wire::VersionResponse, ClientError> {
        let (s, _, b) = self
            .request(
                Method::GET,
                "/storage/v1/version",
                &Secrets::default(),
                &[],
                Bytes::new(),
            )
            .await?;
        expect(s, StatusCode::OK)?;
        Ok(wire::VersionResponse::from_cbor(&b)?)
    }

    /// `POST /storage/v1/immutable/SI`.
    pub async fn allocate(
        &mut self,
        si: &StorageIndex,
        secrets: &Secrets,
        req: &wire::AllocateRequest,
    ) -> Result<wire::AllocateResponse, ClientError> {
        let path = format!("/storage/v1/immutable/{}", si.to_base32());
        let ct = [("content-type", "application/cbor".to_string())];
        let (s, _, b) = self
            .request(
                Method::POST,
                &path,
                secrets,
                &ct,
                Bytes::from(req.to_cbor()),
            )
            .await?;
        expect(s, StatusCode::OK)?;
        Ok(wire::AllocateResponse::from_cbor(&b)?)
    }

    /// `PATCH /storage/v1/immutable/SI/N`; returns the status (200 or 201).
    pub async fn write_share(
        &mut self,
        si: &StorageIndex,
        shnum: u16,
        secrets: &Secrets,
        offset: u64,
        data: Bytes,
    ) -> Result<StatusCode, ClientError> {
        let path = format!("/storage/v1/immutable/{}/{shnum}", si.to_base32());
        let last = offset + (data.len() as u64).saturating_sub(1);
        let cr = [("content-range", format!("bytes {offset}-{last}/*"))];
        let (s, _, _) = self
            .request(Method::PATCH, &path, secrets, &cr, data)
            .await?;
        if s != StatusCode::OK && s != StatusCode::CREATED {
            return Err(ClientError::Status(s));
        }
        Ok(s)
    }

    /// Ranged `GET …/SI/N` (`Range: bytes=a-b`); empty on 204.
    pub async fn read_share(
        &mut self,
        ns: Namespace,
        si: &StorageIndex,
        shnum: u16,
        offset: u64,
        len: u64,
    ) -> Result<Bytes, ClientError> {
        let kind = match ns {
            Namespace::Immutable => "immutable",
            Namespace::Mutable => "mutable",
        };
        let path = format!("/storage/v1/{kind}/{}/{shnum}", si.to_base32());
        let last = offset + len.max(1) - 1;
        let range = [("range", format!("bytes={offset}-{last}"))];
        let (s, _, b) = self
            .request(
                Method::GET,
                &path,
                &Secrets::default(),
                &range,
                Bytes::new(),
            )
            .await?;
        match s {
            StatusCode::PARTIAL_CONTENT => Ok(b),
            StatusCode::NO_CONTENT => Ok(Bytes::new()),
            s => Err(ClientError::Status(s)),
        }
    }
}

fn expect(got: StatusCode, want: StatusCode) -> Result<(), ClientError> {
    if got == want {
        Ok(())
    } else {
        Err(ClientError::Status(got))
    }
}
