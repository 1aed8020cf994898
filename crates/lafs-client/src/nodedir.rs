//! Loading a client node directory laid out as Tahoe 1.20 lays it out.
//!
//! | file | what | used for |
//! |---|---|---|
//! | `tahoe.cfg` `[client] shares.needed/happy/total` | k, happy, N (3/7/10) | uploads, new mutable files |
//! | `tahoe.cfg` `[client] mutable.format` | `sdmf` (default) or `mdmf` | new mutable files and directories |
//! | `tahoe.cfg` `[client] lafs.key_pool_size` | RSA keys kept ready (lafs only; default [`DEFAULT_SIZE`](crate::mutable::keypool::DEFAULT_SIZE)) | new mutable files and directories |
//! | `private/convergence` | base32 convergence secret | convergent CHK keys |
//! | `private/secret` | base32 lease secret | lease and write-enabler seeds (spec §9.3) |
//! | `private/servers.yaml` | static servers (spec §9.2) | the grid |
//!
//! Reading only: creating a node directory is the binary's business. Every
//! failure names the file it concerns ([`ConfigError`]).

use crate::mutable::keypool::DEFAULT_SIZE;
use crate::{grid_from_servers_yaml, BrokerError, Grid, HttpClient, LeaseSecret};
use lafs_format::base32;
use lafs_format::cap::MutableFormat;
use lafs_format::chk::EncodingParams;
use lafs_format::keys::ConvergenceSecret;
use std::path::{Path, PathBuf};

/// Why a node directory could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `tahoe.cfg` is not an INI file.
    #[error("parsing {path}: {message}")]
    Ini {
        /// The file.
        path: PathBuf,
        /// The parser's description (line and column).
        message: String,
    },
    /// A `[client]` value is out of range or not a number.
    #[error("tahoe.cfg [client] {key} = {value:?} is invalid")]
    BadValue {
        /// The key.
        key: &'static str,
        /// The value found.
        value: String,
    },
    /// A secret file is not base32.
    #[error("{0} is not base32")]
    NotBase32(PathBuf),
    /// servers.yaml is malformed.
    #[error("{path}: {source}")]
    Servers {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: BrokerError,
    },
    /// servers.yaml names no server.
    #[error("{0} lists no storage servers")]
    NoServers(PathBuf),
}

/// Client settings from `tahoe.cfg` and `private/` (everything except the
/// grid itself).
#[derive(Clone)]
pub struct ClientConfig {
    /// k, happy, N and the maximum segment size.
    pub params: EncodingParams,
    /// `None` without a node directory: uploads then use random keys.
    pub convergence: Option<ConvergenceSecret>,
    /// Format of new mutable files and directories.
    pub mutable_format: MutableFormat,
    /// RSA keys kept ready for new mutable files; 0 generates each on
    /// demand (right for one-shot CLI commands, which would otherwise burn
    /// CPU on keys nobody takes). A node directory sets it with `[client]
    /// lafs.key_pool_size` (default [`DEFAULT_SIZE`]).
    pub key_pool_size: usize,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("params", &self.params)
            .field(
                "convergence",
                &self.convergence.as_ref().map(|_| "<redacted>"),
            )
            .field("mutable_format", &self.mutable_format)
            .field("key_pool_size", &self.key_pool_size)
            .finish()
    }
}

impl Default for ClientConfig {
    /// Tahoe's defaults (3/7/10, SDMF), no convergence secret, no key pool.
    fn default() -> Self {
        ClientConfig {
            params: EncodingParams::default(),
            convergence: None,
            mutable_format: MutableFormat::Sdmf,
            key_pool_size: 0,
        }
    }
}

/// Everything a node directory says about being a client.
#[derive(Debug)]
pub struct NodeDir {
    /// The settings.
    pub config: ClientConfig,
    /// `private/secret`.
    pub lease_secret: LeaseSecret,
    /// `private/servers.yaml` (may not exist).
    pub servers_yaml: PathBuf,
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

fn read_b32(path: &Path) -> Result<Vec<u8>, ConfigError> {
    base32::decode(read(path)?.trim()).map_err(|_| ConfigError::NotBase32(path.to_owned()))
}

/// The lafs-only `[client]` key sizing the RSA key pool of a node (Tahoe
/// 1.20 has no pool; the `lafs.` prefix keeps it apart from Tahoe's keys).
pub const KEY_POOL_SIZE: &str = "lafs.key_pool_size";

/// Largest pool accepted: each key is about 1.2 KiB of secret memory and
/// 50–500 ms of CPU to fill at start-up; beyond this a typo is likelier
/// than a need.
pub const MAX_KEY_POOL_SIZE: usize = 1024;

/// Load `dir`'s `tahoe.cfg` and secrets. `key_pool_size` is what a
/// long-running node should keep (one-shot commands set it to 0 with
/// [`crate::Client::with_key_pool`]).
pub fn load(dir: &Path) -> Result<NodeDir, ConfigError> {
    let cfg_path = dir.join("tahoe.cfg");
    let ini = ini::Ini::load_from_str(&read(&cfg_path)?).map_err(|e| ConfigError::Ini {
        path: cfg_path.clone(),
        message: e.to_string(),
    })?;
    let mut config = ClientConfig {
        key_pool_size: DEFAULT_SIZE,
        ..ClientConfig::default()
    };
    if let Some(c) = ini.section(Some("client")) {
        let num = |key: &'static str, dflt: u16| -> Result<u16, ConfigError> {
            match c.get(key) {
                None => Ok(dflt),
                Some(v) => v.trim().parse().map_err(|_| ConfigError::BadValue {
                    key,
                    value: v.into(),
                }),
            }
        };
        let p = &mut config.params;
        p.needed = num("shares.needed", p.needed)?;
        p.happy = num("shares.happy", p.happy)?;
        p.total = num("shares.total", p.total)?;
        if p.needed == 0 || p.needed > p.total || p.total > 256 || p.happy == 0 {
            return Err(ConfigError::BadValue {
                key: "shares.needed/happy/total",
                value: format!("{}/{}/{}", p.needed, p.happy, p.total),
            });
        }
        if let Some(v) = c.get(KEY_POOL_SIZE) {
            config.key_pool_size = v
                .trim()
                .parse()
                .ok()
                .filter(|n| *n <= MAX_KEY_POOL_SIZE)
                .ok_or_else(|| ConfigError::BadValue {
                    key: KEY_POOL_SIZE,
                    value: v.into(),
                })?;
        }
        if let Some(v) = c.get("mutable.format") {
            config.mutable_format = match v.trim().to_ascii_lowercase().as_str() {
                "sdmf" => MutableFormat::Sdmf,
                "mdmf" => MutableFormat::Mdmf,
                _ => {
                    return Err(ConfigError::BadValue {
                        key: "mutable.format",
                        value: v.into(),
                    })
                }
            };
        }
    }
    let private = dir.join("private");
    config.convergence = Some(ConvergenceSecret::new(read_b32(
        &private.join("convergence"),
    )?));
    Ok(NodeDir {
        config,
        lease_secret: LeaseSecret::new(read_b32(&private.join("secret"))?),
        servers_yaml: private.join("servers.yaml"),
    })
}

/// Build the HTTPS grid a servers.yaml describes.
pub fn grid_from_file(
    path: &Path,
    lease_secret: LeaseSecret,
) -> Result<Grid<HttpClient>, ConfigError> {
    let grid = grid_from_servers_yaml(&read(path)?, lease_secret).map_err(|source| {
        ConfigError::Servers {
            path: path.to_owned(),
            source,
        }
    })?;
    if grid.servers().is_empty() {
        return Err(ConfigError::NoServers(path.to_owned()));
    }
    Ok(grid)
}
