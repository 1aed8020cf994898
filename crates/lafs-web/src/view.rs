//! Plain data the HTML pages render: the API side resolves caps and paths,
//! fills these in, and hands them to [`crate::ui`]. Keeping them free of
//! grid types means the UI never talks to storage and never needs the
//! `StorageClient` type parameter.

use serde::Serialize;

/// What the welcome page shows about this node.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct WelcomeView {
    /// The node's nickname (tahoe.cfg `[node] nickname`).
    pub nickname: String,
    /// The node id (`v0-…`), empty if the node has none.
    pub node_id: String,
    /// `lafs` version string.
    pub version: String,
    /// Storage servers this client knows about.
    pub servers: Vec<ServerView>,
    /// Introducers this client subscribes to (empty without introducer).
    pub introducers: Vec<IntroducerView>,
    /// This node's own storage server, when it runs one.
    pub storage: Option<StorageView>,
    /// The client's encoding: shares needed.
    pub needed: u16,
    /// The client's encoding: shares in total.
    pub total: u16,
}

/// One storage server as the welcome page shows it.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ServerView {
    /// Server id (`v0-…` or the tub id).
    pub id: String,
    /// Nickname from the announcement, if any.
    pub nickname: String,
    /// Whether its last version call succeeded.
    pub connected: bool,
    /// Tahoe's connection summary (`connected`, `failure: …`,
    /// `unstarted`).
    pub summary: String,
    /// Seconds since the epoch when it last connected, if ever.
    pub since: Option<f64>,
    /// Seconds since the epoch when it was last heard from, if ever.
    pub last_seen: Option<f64>,
    /// The free space it reported in its version answer.
    pub available_space: Option<u64>,
    /// The first NURL/FURL, for display.
    pub address: String,
}

/// One introducer as the welcome page shows it.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct IntroducerView {
    /// Where it is (`host:port`; never its secret).
    pub address: String,
    /// Whether the subscription is up.
    pub connected: bool,
    /// Tahoe's one-line connection summary.
    pub summary: String,
    /// Seconds since the epoch when the connection last came up or went
    /// down, if known.
    pub since: Option<f64>,
    /// Seconds since the epoch of the last answer, if any.
    pub last_seen: Option<f64>,
}

impl IntroducerView {
    /// An introducer at `address` (no times known yet).
    pub fn new(address: impl Into<String>, connected: bool, summary: impl Into<String>) -> Self {
        IntroducerView {
            address: address.into(),
            connected,
            summary: summary.into(),
            since: None,
            last_seen: None,
        }
    }
}

/// The node's own storage server.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct StorageView {
    /// Bytes its shares take.
    pub used: u64,
    /// Bytes free on its disk, if known.
    pub available: Option<u64>,
}

impl StorageView {
    /// `used` bytes in shares, `available` free.
    pub fn new(used: u64, available: Option<u64>) -> Self {
        StorageView { used, available }
    }
}

/// A directory listing (`GET /uri/$DIRCAP[/path]` without `t=`).
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct DirectoryView {
    /// The cap of the root the URL started from (as in the URL).
    pub root_cap: String,
    /// Path segments below the root (already decoded).
    pub path: Vec<String>,
    /// This directory's own cap (write cap if we hold one).
    pub cap: String,
    /// Its read-only cap.
    pub readonly_cap: String,
    /// Whether children can be added/removed through it.
    pub writable: bool,
    /// Children sorted by name.
    pub children: Vec<ChildView>,
}

/// What kind of node a child is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ChildKind {
    /// Immutable or mutable file.
    File,
    /// Directory.
    Dir,
    /// A cap this version does not understand.
    Unknown,
}

/// One child in a directory listing.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ChildView {
    /// Child name.
    pub name: String,
    /// File, directory or unknown.
    pub kind: ChildKind,
    /// Strongest cap held (write cap if present, else read cap).
    pub cap: String,
    /// Read-only cap (empty if unknown).
    pub readonly_cap: String,
    /// Whether it is a mutable file/directory.
    pub mutable: bool,
    /// Size in bytes when known without a fetch (immutable files).
    pub size: Option<u64>,
    /// `tahoe.linkmotime`, seconds since the epoch.
    pub modified: Option<f64>,
}

/// File information (`GET /uri/$CAP?t=info`).
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct FileInfoView {
    /// The cap as given (or as resolved through a path).
    pub cap: String,
    /// Read-only cap.
    pub readonly_cap: String,
    /// Verify cap (empty for LIT).
    pub verify_cap: String,
    /// Storage index in base32 (empty for LIT).
    pub storage_index: String,
    /// `CHK`, `LIT`, `SDMF`, `MDMF`, or a directory kind.
    pub format: String,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Whether it is mutable.
    pub mutable: bool,
    /// Size in bytes if known.
    pub size: Option<u64>,
}
