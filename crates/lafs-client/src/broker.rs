//! Building a [`Grid`] of HTTPS servers from `NODEDIR/private/servers.yaml`
//! (spec §9.2, §9.3, §2.6), the shape a Tahoe 1.20 client reads:
//!
//! ```yaml
//! storage:
//!   v0-<52 b32 chars>:                 # server id
//!     ann:
//!       nickname: …
//!       anonymous-storage-FURL: "pb://<32 b32 chars = 20-byte tub id>@…"
//!       anonymous-storage-NURLs: ["pb://<spki>@host:port/<swissnum>#v=1"]
//!       permutation-seed-base32: …     # optional
//! ```
//!
//! * lease seed = the FURL's tub id (must decode to 20 bytes);
//! * permutation seed = `permutation-seed-base32`, else the b32 after
//!   `v0-` in the id, else SHA-256 of the id;
//! * an entry without NURLs is skipped (Foolscap-only), like Tahoe skips
//!   entries it cannot use — but here the reason is returned, not swallowed.

use crate::grid::{Grid, GridServer, LeaseSecret};
use crate::http::HttpClient;
use lafs_format::base32;
use lafs_format::keys::ServerId20;
use lafs_http::Nurl;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Why servers.yaml (or one entry of it) is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// Not YAML of the expected shape.
    #[error("servers.yaml: {0}")]
    Yaml(String),
    /// An entry lacks a usable FURL tub id.
    #[error(
        "server {0}: anonymous-storage-FURL is missing or its tub id is not 20 bytes of base32"
    )]
    TubId(String),
    /// An entry has no NURL (Foolscap only).
    #[error("server {0}: no anonymous-storage-NURLs (Foolscap is not supported)")]
    NoNurl(String),
    /// A NURL does not parse.
    #[error("server {0}: bad NURL: {1}")]
    Nurl(String, lafs_http::NurlError),
    /// The TLS client could not be built.
    #[error("server {0}: {1}")]
    Client(String, crate::ClientError),
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    storage: BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
struct Entry {
    ann: Ann,
}

/// The fields of a storage announcement (`ann`) the client uses; the
/// same dict arrives from servers.yaml, the introducer and its cache.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Ann {
    /// `nickname`.
    #[serde(default)]
    pub nickname: Option<String>,
    /// `anonymous-storage-FURL` (its tub id seeds leases, §9.3).
    #[serde(rename = "anonymous-storage-FURL", default)]
    pub furl: Option<String>,
    /// `anonymous-storage-NURLs` (the first one is used).
    #[serde(rename = "anonymous-storage-NURLs", default)]
    pub nurls: Vec<String>,
    /// `permutation-seed-base32`.
    #[serde(rename = "permutation-seed-base32", default)]
    pub permutation_seed: Option<String>,
}

/// Permutation seed of a server (spec §2.6).
pub fn permutation_seed(id: &str, explicit: Option<&str>) -> Vec<u8> {
    if let Some(s) = explicit.and_then(|s| base32::decode(s).ok()) {
        return s;
    }
    if let Some(s) = id.strip_prefix("v0-").and_then(|s| base32::decode(s).ok()) {
        return s;
    }
    Sha256::digest(id.as_bytes()).to_vec()
}

/// The 20-byte tub id of `pb://TUBID@…`.
pub fn furl_tub_id(furl: &str) -> Option<ServerId20> {
    let rest = furl.strip_prefix("pb://")?;
    let (tub, _) = rest.split_once('@')?;
    base32::decode_array::<20>(tub).ok().map(ServerId20)
}

/// One HTTPS server from its id and announcement (connection-less: the
/// client connects on first use).
pub fn server_from_ann(id: &str, ann: &Ann) -> Result<GridServer<HttpClient>, BrokerError> {
    let lease_seed = ann
        .furl
        .as_deref()
        .and_then(furl_tub_id)
        .ok_or_else(|| BrokerError::TubId(id.to_string()))?;
    let first = ann
        .nurls
        .first()
        .ok_or_else(|| BrokerError::NoNurl(id.to_string()))?;
    let nurl = Nurl::parse(first).map_err(|er| BrokerError::Nurl(id.to_string(), er))?;
    let client = HttpClient::new(nurl).map_err(|er| BrokerError::Client(id.to_string(), er))?;
    let name = match &ann.nickname {
        Some(n) if !n.is_empty() => format!("{id} ({n})"),
        _ => id.to_string(),
    };
    Ok(GridServer {
        permutation_seed: permutation_seed(id, ann.permutation_seed.as_deref()),
        id: name,
        lease_seed,
        client,
    })
}

/// The servers of a servers.yaml, each with its id (the YAML key).
pub fn servers_from_yaml(yaml: &str) -> Result<Vec<(String, GridServer<HttpClient>)>, BrokerError> {
    let f: File = serde_saphyr::from_str(yaml).map_err(|e| BrokerError::Yaml(e.to_string()))?;
    f.storage
        .into_iter()
        .map(|(id, e)| server_from_ann(&id, &e.ann).map(|s| (id, s)))
        .collect()
}

/// Parse servers.yaml into `(id, nickname, nurl, lease seed, permutation seed)`
/// entries, then connect-less HTTPS clients.
pub fn grid_from_servers_yaml(
    yaml: &str,
    lease_secret: LeaseSecret,
) -> Result<Grid<HttpClient>, BrokerError> {
    let servers = servers_from_yaml(yaml)?
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    Ok(Grid::new(servers, lease_secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spec_example() {
        let y = r##"
storage:
  v0-xhwsvtbfpsyb5fhwqibxqw3vl6vp4wl7mznmqzo5bfqsdlme5ywa:
    ann:
      nickname: rust-storage-1
      anonymous-storage-FURL: "pb://ca5p7gy3ok3ax2xnlo4dqwzvzi7jbyq3@tcp:127.0.0.1:1/unused"
      anonymous-storage-NURLs:
        - "pb://zEg4mIR0CJT6hyKq-3tHXHiHknlcbQ2c9gpIrh2y6uk@127.0.0.1:8443/s4k6kxo3bdqu2gzx5ws7rmbg2e#v=1"
"##;
        let g = grid_from_servers_yaml(y, LeaseSecret::new(vec![1; 32])).unwrap();
        assert_eq!(g.servers().len(), 1);
        let s = &g.servers()[0];
        assert_eq!(s.lease_seed.to_base32(), "ca5p7gy3ok3ax2xnlo4dqwzvzi7jbyq3");
        assert_eq!(s.permutation_seed.len(), 32);
        assert!(s.id.contains("rust-storage-1"));
        let bad = y.replace("ca5p7gy3ok3ax2xnlo4dqwzvzi7jbyq3", "short");
        assert!(matches!(
            grid_from_servers_yaml(&bad, LeaseSecret::new(vec![1; 32])),
            Err(BrokerError::TubId(_))
        ));
    }
}
