//! Reading `tahoe.cfg` with Tahoe 1.20's tolerance: keys Tahoe knows (and
//! lafs's own additions) are accepted whether or not lafs uses them;
//! anything else is warned about (`tracing::warn`), never fatal — Tahoe
//! itself refuses unknown keys, but a lafs node must start from any
//! config a Tahoe node accepted and survive a stray key.
//!
//! The table follows `allmydata/node.py` `_common_valid_config` and
//! `allmydata/client.py` `_valid_config` (keys compared lower-cased, as
//! Python's configparser does).

use std::path::Path;

use anyhow::{Context, Result};
use ini::Ini;

/// Known keys per section; `*` admits every key of the section.
const KNOWN: &[(&str, &[&str])] = &[
    (
        "node",
        &[
            "log_gatherer.furl",
            "nickname",
            "reveal-ip-address",
            "tempdir",
            "timeout.disconnect",
            "timeout.keepalive",
            "tub.location",
            "tub.port",
            "web.port",
            "web.static",
        ],
    ),
    ("connections", &["tcp"]),
    (
        "i2p",
        &[
            "enabled",
            "i2p.configdir",
            "i2p.executable",
            "launch",
            "sam.port",
            "dest",
            "dest.port",
            "dest.private_key_file",
        ],
    ),
    (
        "tor",
        &[
            "control.port",
            "enabled",
            "launch",
            "socks.port",
            "tor.executable",
            "onion",
            "onion.local_port",
            "onion.external_port",
            "onion.private_key_file",
        ],
    ),
    (
        "client",
        &[
            "helper.furl",
            "introducer.furl",
            "key_generator.furl",
            "mutable.format",
            "peers.preferred",
            "shares.happy",
            "shares.needed",
            "shares.total",
            "shares._max_immutable_segment_size_for_testing",
            "storage.plugins",
            "force_foolscap",
            // lafs: RSA keys a running node keeps ready.
            lafs_client::nodedir::KEY_POOL_SIZE,
        ],
    ),
    (
        "storage",
        &[
            "debug_discard",
            "enabled",
            "anonymous",
            "expire.cutoff_date",
            "expire.enabled",
            "expire.immutable",
            "expire.mode",
            "expire.override_lease_duration",
            "expire.mutable",
            "readonly",
            "reserved_space",
            "storage_dir",
            "plugins",
            "grid_management",
            "force_foolscap",
            // lafs: disk | memory | null.
            "backend",
        ],
    ),
    (
        "sftpd",
        &[
            "accounts.file",
            "enabled",
            "host_privkey_file",
            "host_pubkey_file",
            "port",
        ],
    ),
    ("helper", &["enabled"]),
    ("grid_managers", &["*"]),
];

/// Section prefixes whose keys belong to plugins (never checked).
const PLUGIN_PREFIXES: &[&str] = &["storageclient.plugins.", "storageserver.plugins."];

/// `(section, key)` pairs Tahoe would not know, lower-cased.
pub fn unknown_keys(cfg: &Ini) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (sec, props) in cfg.iter() {
        let Some(sec) = sec else {
            // Keys before any section header.
            out.extend(props.iter().map(|(k, _)| (String::new(), k.to_lowercase())));
            continue;
        };
        let s = sec.to_lowercase();
        if PLUGIN_PREFIXES.iter().any(|p| s.starts_with(p)) {
            continue;
        }
        let known = KNOWN.iter().find(|(name, _)| *name == s).map(|(_, k)| *k);
        for (k, _) in props.iter() {
            let k = k.to_lowercase();
            let ok = known.is_some_and(|keys| keys.contains(&"*") || keys.contains(&k.as_str()));
            if !ok {
                out.push((s.clone(), k));
            }
        }
    }
    out
}

/// Read `NODEDIR/tahoe.cfg`, warning once per unknown key.
pub fn load(dir: &Path) -> Result<Ini> {
    let cfg = load_quiet(dir)?;
    for (sec, key) in unknown_keys(&cfg) {
        tracing::warn!(section = %sec, key = %key, "unknown tahoe.cfg key (ignored)");
    }
    Ok(cfg)
}

/// Read `NODEDIR/tahoe.cfg` without warnings (for a second reader of a
/// file [`load`] already checked).
pub fn load_quiet(dir: &Path) -> Result<Ini> {
    let p = dir.join("tahoe.cfg");
    Ini::load_from_file(&p).with_context(|| format!("reading {}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_listed_not_fatal() {
        let cfg = Ini::load_from_str(
            "[node]\nnickname = a\nTub.Port = tcp:1\nbogus = 1\n[client]\nintroducer.furl =\nlafs.key_pool_size = 8\n\
             [storage]\nbackend = memory\n[weird]\nx = 1\n[storageclient.plugins.p]\nanything = 1\n\
             [grid_managers]\nmine = pub-v0-x\n",
        )
        .unwrap();
        assert_eq!(
            unknown_keys(&cfg),
            vec![
                ("node".to_string(), "bogus".to_string()),
                ("weird".to_string(), "x".to_string())
            ]
        );
    }
}
