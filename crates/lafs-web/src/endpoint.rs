//! The web endpoint: tahoe.cfg `[node] web.port` (a Twisted "strport")
//! and the `NODEDIR/node.url` file the `tahoe` CLI reads to find the node.
//!
//! Accepted forms (what Tahoe's own nodes write and document):
//! `tcp:PORT:interface=ADDR`, `tcp:PORT` (all interfaces, as in Twisted),
//! a bare `PORT` (old style, same as `tcp:PORT`), the empty string (no web
//! server), and Twisted's TLS endpoint
//! `ssl:PORT:privateKey=KEY.pem:certKey=CERT.pem[:interface=ADDR]`, which
//! serves the web API and UI over HTTPS ([`crate::tls`]); relative key and
//! certificate paths are relative to the node directory, and as in Twisted
//! `certKey` defaults to `privateKey` (one PEM file holding both). Port 0
//! asks the OS for a free port. `port=N` may replace the positional port.
//! Anything else (other endpoint types, unknown options) is refused with
//! a typed error rather than guessed at.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// Tahoe's default `web.port`.
pub const DEFAULT_WEB_PORT: &str = "tcp:3456:interface=127.0.0.1";

/// A parsed `web.port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebPort {
    /// Where to listen.
    pub addr: SocketAddr,
    /// For `ssl:` endpoints: the key and certificate files.
    pub tls: Option<TlsFiles>,
}

/// The PEM files of an `ssl:` endpoint, as written in `web.port`
/// (relative paths are resolved by [`TlsFiles::resolve`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// `privateKey=`: the private key (PKCS#8, PKCS#1 or SEC1 PEM).
    pub private_key: PathBuf,
    /// `certKey=`: the certificate chain, leaf first (defaults to the
    /// private key's file, as in Twisted).
    pub cert: PathBuf,
}

impl TlsFiles {
    /// Both paths, relative ones taken relative to `nodedir`.
    pub fn resolve(&self, nodedir: &Path) -> TlsFiles {
        TlsFiles {
            private_key: nodedir.join(&self.private_key),
            cert: nodedir.join(&self.cert),
        }
    }
}

/// Why a `web.port` value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebPortError {
    /// The endpoint type is neither `tcp` nor `ssl`.
    #[error("web.port endpoint type {0:?} is not supported (use tcp:PORT:interface=ADDR or ssl:PORT:privateKey=KEY:certKey=CERT)")]
    UnsupportedType(String),
    /// The port is not a number in 0..=65535.
    #[error("web.port has a bad port number {0:?}")]
    BadPort(String),
    /// `interface=` is not an IP address.
    #[error("web.port has a bad interface {0:?}")]
    BadInterface(String),
    /// An option the endpoint type does not know.
    #[error("web.port has an unknown option {0:?}")]
    UnknownOption(String),
}

impl WebPort {
    /// Parse a strport; `Ok(None)` for the empty string (web server off).
    pub fn parse(s: &str) -> Result<Option<WebPort>, WebPortError> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        // IPv6 interfaces and Windows paths contain colons, escaped as
        // `\:` in strports: split on unescaped colons only.
        let parts = split_unescaped(s);
        let first = parts.first().map(String::as_str).unwrap_or_default();
        let (tls, rest) = if !first.is_empty() && first.chars().all(|c| c.is_ascii_digit()) {
            (false, &parts[..])
        } else if first == "tcp" {
            (false, &parts[1..])
        } else if first == "ssl" {
            (true, &parts[1..])
        } else {
            return Err(WebPortError::UnsupportedType(first.to_string()));
        };
        let mut port: Option<String> = None;
        // Twisted's server endpoints listen on every interface unless told.
        let mut ip = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let (mut key, mut cert) = (None, None);
        for (i, opt) in rest.iter().enumerate() {
            match opt.split_once('=') {
                None if i == 0 => port = Some(opt.clone()),
                None if opt.is_empty() => {}
                Some(("port", v)) => port = Some(v.to_string()),
                Some(("interface", v)) => {
                    ip = v
                        .parse()
                        .map_err(|_| WebPortError::BadInterface(v.to_string()))?;
                }
                Some(("backlog", _)) => {}
                Some(("privateKey", v)) if tls => key = Some(PathBuf::from(v)),
                Some(("certKey", v)) if tls => cert = Some(PathBuf::from(v)),
                _ => return Err(WebPortError::UnknownOption(opt.clone())),
            }
        }
        let port_str = port.unwrap_or_default();
        let port: u16 = port_str
            .parse()
            .map_err(|_| WebPortError::BadPort(port_str.clone()))?;
        let tls = tls.then(|| {
            // Twisted's defaults: privateKey=server.pem, certKey=privateKey.
            let private_key = key.unwrap_or_else(|| PathBuf::from("server.pem"));
            TlsFiles {
                cert: cert.unwrap_or_else(|| private_key.clone()),
                private_key,
            }
        });
        Ok(Some(WebPort {
            addr: SocketAddr::new(ip, port),
            tls,
        }))
    }

    /// The URL clients use once bound to `local` (the actual port): an
    /// unspecified interface is reached through loopback, as Tahoe does;
    /// `https` for a TLS endpoint.
    pub fn url(local: SocketAddr, https: bool) -> String {
        let ip = if local.ip().is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            local.ip()
        };
        let scheme = if https { "https" } else { "http" };
        match ip {
            IpAddr::V4(v4) => format!("{scheme}://{v4}:{}/", local.port()),
            IpAddr::V6(v6) => format!("{scheme}://[{v6}]:{}/", local.port()),
        }
    }
}

/// Why a web port could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BindError {
    /// Binding the address failed (in use, no permission…).
    #[error("binding web.port {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The `ssl:` key or certificate could not be loaded.
    #[error(transparent)]
    Tls(#[from] crate::tls::WebTlsError),
}

/// A web port, bound: the listening socket, and for `ssl:` endpoints the
/// TLS configuration its connections are served with.
#[derive(Debug)]
pub struct BoundPort {
    pub(crate) listener: tokio::net::TcpListener,
    pub(crate) tls: Option<std::sync::Arc<rustls::ServerConfig>>,
}

impl BoundPort {
    /// Load the TLS identity (if any, relative to `nodedir`) and bind.
    /// The key is loaded first so that a bad key fails before the port
    /// is taken.
    pub async fn bind(port: &WebPort, nodedir: &Path) -> Result<BoundPort, BindError> {
        let tls = match &port.tls {
            Some(files) => Some(crate::tls::server_config(&files.resolve(nodedir))?),
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(port.addr)
            .await
            .map_err(|source| BindError::Bind {
                addr: port.addr,
                source,
            })?;
        Ok(BoundPort { listener, tls })
    }

    /// A plain-HTTP port on an already bound listener.
    pub fn plain(listener: tokio::net::TcpListener) -> BoundPort {
        BoundPort {
            listener,
            tls: None,
        }
    }

    /// Where it listens.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Whether it serves HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The URL clients use (what `node.url` holds).
    pub fn url(&self) -> std::io::Result<String> {
        Ok(WebPort::url(self.local_addr()?, self.is_tls()))
    }

    /// Write `NODEDIR/node.url` for this port; returns the URL.
    pub fn write_node_url(&self, nodedir: &Path) -> std::io::Result<String> {
        write_node_url(nodedir, self.local_addr()?, self.is_tls())
    }
}

fn split_unescaped(s: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    if let Some(last) = out.last_mut() {
                        last.push(n);
                    }
                }
            }
            ':' => out.push(String::new()),
            c => {
                if let Some(last) = out.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    out
}

/// Write `NODEDIR/node.url` as Tahoe's `webish._write_nodeurl_file` does:
/// the URL and a newline (`https://` when the endpoint is TLS).
pub fn write_node_url(nodedir: &Path, local: SocketAddr, https: bool) -> std::io::Result<String> {
    let url = WebPort::url(local, https);
    std::fs::write(nodedir.join("node.url"), format!("{url}\n"))?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tahoe_forms() {
        let p = |s| WebPort::parse(s).ok().flatten().map(|w| w.addr.to_string());
        assert_eq!(p(DEFAULT_WEB_PORT).as_deref(), Some("127.0.0.1:3456"));
        assert_eq!(
            p("tcp:0:interface=127.0.0.1").as_deref(),
            Some("127.0.0.1:0")
        );
        assert_eq!(p("tcp:8080").as_deref(), Some("0.0.0.0:8080"));
        assert_eq!(p("8123").as_deref(), Some("0.0.0.0:8123"));
        assert_eq!(p("tcp:80:interface=\\:\\:1").as_deref(), Some("[::1]:80"));
        assert_eq!(p("tcp:port=81").as_deref(), Some("0.0.0.0:81"));
        assert_eq!(WebPort::parse(""), Ok(None));
        assert!(matches!(
            WebPort::parse("unix:/tmp/x"),
            Err(WebPortError::UnsupportedType(_))
        ));
        assert!(WebPort::parse("tcp:99999").is_err());
        assert!(WebPort::parse("tcp:1:foo=bar").is_err());
        // privateKey= means nothing to a TCP endpoint.
        assert!(WebPort::parse("tcp:1:privateKey=k.pem").is_err());
        assert_eq!(
            WebPort::parse("tcp:1").ok().flatten().and_then(|w| w.tls),
            None
        );
    }

    #[test]
    fn parses_twisted_ssl_endpoints() {
        let w = WebPort::parse(
            "ssl:8443:privateKey=private/web.key:certKey=/etc/web.crt:interface=127.0.0.1",
        )
        .ok()
        .flatten()
        .unwrap_or_else(|| unreachable!());
        assert_eq!(w.addr.to_string(), "127.0.0.1:8443");
        let files = w.tls.unwrap_or_else(|| unreachable!());
        let r = files.resolve(Path::new("/node"));
        assert_eq!(r.private_key, Path::new("/node/private/web.key"));
        assert_eq!(r.cert, Path::new("/etc/web.crt"));
        // certKey defaults to privateKey, privateKey to server.pem.
        let w = WebPort::parse("ssl:0:privateKey=both.pem").ok().flatten();
        let t = w.and_then(|w| w.tls).unwrap_or_else(|| unreachable!());
        assert_eq!(t.cert, Path::new("both.pem"));
        let w = WebPort::parse("ssl:port=0").ok().flatten();
        let t = w.and_then(|w| w.tls).unwrap_or_else(|| unreachable!());
        assert_eq!(t.private_key, Path::new("server.pem"));
        assert!(matches!(
            WebPort::parse("ssl:443:sslmethod=TLSv1_METHOD"),
            Err(WebPortError::UnknownOption(_))
        ));
    }

    #[test]
    fn url_uses_loopback_for_any() {
        let any: SocketAddr = "0.0.0.0:3456".parse().unwrap_or_else(|_| unreachable!());
        assert_eq!(WebPort::url(any, false), "http://127.0.0.1:3456/");
        assert_eq!(WebPort::url(any, true), "https://127.0.0.1:3456/");
    }
}
