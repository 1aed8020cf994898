//! The web endpoint: tahoe.cfg `[node] web.port` (a Twisted "strport")
//! and the `NODEDIR/node.url` file the `tahoe` CLI reads to find the node.
//!
//! Accepted forms (what Tahoe's own nodes write and document):
//! `tcp:PORT:interface=ADDR`, `tcp:PORT` (all interfaces, as in Twisted),
//! a bare `PORT` (old style, same as `tcp:PORT`), and the empty string
//! (no web server). Port 0 asks the OS for a free port. TLS endpoints
//! (`ssl:…`) are refused with a typed error rather than served in clear.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

/// Tahoe's default `web.port`.
pub const DEFAULT_WEB_PORT: &str = "tcp:3456:interface=127.0.0.1";

/// A parsed `web.port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebPort {
    /// Where to listen.
    pub addr: SocketAddr,
}

/// Why a `web.port` value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebPortError {
    /// The endpoint type is not `tcp`.
    #[error("web.port endpoint type {0:?} is not supported (use tcp:PORT:interface=ADDR)")]
    UnsupportedType(String),
    /// The port is not a number in 0..=65535.
    #[error("web.port has a bad port number {0:?}")]
    BadPort(String),
    /// `interface=` is not an IP address.
    #[error("web.port has a bad interface {0:?}")]
    BadInterface(String),
    /// An option other than `interface=`.
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
        let mut parts = s.split(':');
        let first = parts.next().unwrap_or_default();
        let port_str = if first.chars().all(|c| c.is_ascii_digit()) {
            first
        } else if first == "tcp" {
            parts.next().unwrap_or_default()
        } else {
            return Err(WebPortError::UnsupportedType(first.to_string()));
        };
        let port: u16 = port_str
            .parse()
            .map_err(|_| WebPortError::BadPort(port_str.to_string()))?;
        // Twisted's TCP server endpoint listens on every interface unless told.
        let mut ip = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        // IPv6 interfaces contain colons, escaped as `\:` in strports; join
        // the rest back and split options on unescaped colons only.
        let rest: Vec<&str> = parts.collect();
        for opt in split_unescaped(&rest.join(":")) {
            if opt.is_empty() {
                continue;
            }
            match opt.split_once('=') {
                Some(("interface", v)) => {
                    ip = v
                        .parse()
                        .map_err(|_| WebPortError::BadInterface(v.to_string()))?;
                }
                Some(("backlog", _)) => {}
                _ => return Err(WebPortError::UnknownOption(opt)),
            }
        }
        Ok(Some(WebPort {
            addr: SocketAddr::new(ip, port),
        }))
    }

    /// The URL clients use once bound to `local` (the actual port): an
    /// unspecified interface is reached through loopback, as Tahoe does.
    pub fn url(local: SocketAddr) -> String {
        let ip = if local.ip().is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            local.ip()
        };
        match ip {
            IpAddr::V4(v4) => format!("http://{v4}:{}/", local.port()),
            IpAddr::V6(v6) => format!("http://[{v6}]:{}/", local.port()),
        }
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
/// the URL and a newline.
pub fn write_node_url(nodedir: &Path, local: SocketAddr) -> std::io::Result<String> {
    let url = WebPort::url(local);
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
        assert_eq!(WebPort::parse(""), Ok(None));
        assert!(matches!(
            WebPort::parse("ssl:443"),
            Err(WebPortError::UnsupportedType(_))
        ));
        assert!(WebPort::parse("tcp:99999").is_err());
        assert!(WebPort::parse("tcp:1:foo=bar").is_err());
    }

    #[test]
    fn url_uses_loopback_for_any() {
        let any: SocketAddr = "0.0.0.0:3456".parse().unwrap_or_else(|_| unreachable!());
        assert_eq!(WebPort::url(any), "http://127.0.0.1:3456/");
    }
}
