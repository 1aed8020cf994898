//! The view models: plain data the API handlers fill in and the templates
//! read. They hold no grid, client or lock, so a page renders from a
//! snapshot and the templates can be tested without a node.
//!
//! Times are Unix seconds as `f64` (Tahoe's JSON uses the same), and every
//! view carries `now` so that "5 min ago" is computed once, on the server,
//! from one clock.

use super::encode_segment;
use crate::view;

/// `GET /`: who this node is and what it is connected to.
#[derive(Debug, Clone, Default)]
pub struct WelcomeModel {
    pub nickname: String,
    /// `v0-…` (the node's public key id), shown under the nickname.
    pub node_id: String,
    /// ("lafs", "0.1.0"), ("Tahoe-LAFS compatible", "1.20"), …
    pub versions: Vec<(String, String)>,
    pub introducers: Vec<IntroducerModel>,
    pub servers: Vec<ServerModel>,
    /// This node's own storage server, when it runs one.
    pub storage: Option<StorageUsage>,
    /// The client's encoding, shown as "k-of-N".
    pub needed: u16,
    pub total: u16,
    pub now: f64,
}

/// One introducer the node subscribes to. `address` must not contain the
/// introducer's secret (show host:port, not the full FURL/NURL).
#[derive(Debug, Clone, Default)]
pub struct IntroducerModel {
    pub address: String,
    pub connected: bool,
    /// When the connection last changed state.
    pub since: Option<f64>,
}

/// One storage server as the client sees it.
#[derive(Debug, Clone, Default)]
pub struct ServerModel {
    pub nickname: String,
    /// `v0-…` server id.
    pub server_id: String,
    /// host:port (never the NURL: it holds the swissnum).
    pub address: String,
    pub connected: bool,
    /// Tahoe's connection summary (`connected`, `failure: …`).
    pub status: String,
    /// When it last connected.
    pub since: Option<f64>,
    pub last_seen: Option<f64>,
    pub available_space: Option<u64>,
}

/// A storage server's own usage.
#[derive(Debug, Clone, Default)]
pub struct StorageUsage {
    pub used: u64,
    pub available: Option<u64>,
}

impl WelcomeModel {
    pub fn connected_count(&self) -> usize {
        self.servers.iter().filter(|s| s.connected).count()
    }

    /// Whether any server has an address to show (the column is left out
    /// otherwise).
    pub fn shows_addresses(&self) -> bool {
        self.servers.iter().any(|s| !s.address.is_empty())
    }

    /// Whether any server reported its free space.
    pub fn knows_free_space(&self) -> bool {
        self.servers.iter().any(|s| s.available_space.is_some())
    }

    /// Free space summed over connected servers that told us theirs.
    pub fn free_space_text(&self) -> String {
        let known: Vec<u64> = self
            .servers
            .iter()
            .filter(|s| s.connected)
            .filter_map(|s| s.available_space)
            .collect();
        if known.is_empty() {
            "?".into()
        } else {
            super::size(known.iter().fold(0u64, |a, b| a.saturating_add(*b)))
        }
    }
}

/// What a directory entry is, for its icon and its links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ChildKind {
    /// Any directory (mutable or immutable).
    Dir,
    /// An immutable file (CHK or LIT).
    #[default]
    File,
    /// A mutable file (SDMF or MDMF).
    MutableFile,
    /// A cap from the future or one we cannot read: listed, not opened.
    Unknown,
}

impl ChildKind {
    pub fn is_dir(&self) -> bool {
        matches!(self, ChildKind::Dir)
    }
    pub fn is_file(&self) -> bool {
        matches!(self, ChildKind::File | ChildKind::MutableFile)
    }
    pub fn is_unknown(&self) -> bool {
        matches!(self, ChildKind::Unknown)
    }
    /// The SVG symbol in `base.html`.
    pub fn icon(&self) -> &'static str {
        match self {
            ChildKind::Dir => "i-dir",
            ChildKind::File => "i-file",
            ChildKind::MutableFile => "i-mut",
            ChildKind::Unknown => "i-unknown",
        }
    }
    pub fn css(&self) -> &'static str {
        match self {
            ChildKind::Dir => "dir",
            ChildKind::File => "file",
            ChildKind::MutableFile => "file mutable",
            ChildKind::Unknown => "unknown",
        }
    }
    pub fn label(&self) -> &'static str {
        match self {
            ChildKind::Dir => "directory",
            ChildKind::File => "immutable file",
            ChildKind::MutableFile => "mutable file",
            ChildKind::Unknown => "unknown object",
        }
    }
}

/// One row of a directory listing.
#[derive(Debug, Clone, Default)]
pub struct ChildModel {
    pub name: String,
    pub kind: ChildKind,
    pub size: Option<u64>,
    /// Whether this entry carries a write cap.
    pub writable: bool,
    /// `/uri/$READCAP` for "get read-only link"; None for unknown caps.
    pub readonly_url: Option<String>,
    /// `linkmotime` (or `mtime`) from the entry's metadata.
    pub mtime: Option<f64>,
}

impl ChildModel {
    /// A directory or mutable file we hold only a read cap for (immutable
    /// files are read-only by nature: no tag for them).
    pub fn read_only_mutable(&self) -> bool {
        !self.writable && matches!(self.kind, ChildKind::Dir | ChildKind::MutableFile)
    }
}

/// `GET /uri/$DIRCAP/a/b/`: one directory.
#[derive(Debug, Clone, Default)]
pub struct DirectoryModel {
    /// The cap the URL starts with (the root of `path`), as it appears in
    /// the URL the browser asked for (write cap if it was one).
    pub root_cap: String,
    /// Names from the root cap down to this directory.
    pub path: Vec<String>,
    /// This directory is writable (we hold its write cap).
    pub writable: bool,
    /// `/uri/$READCAP/` of this directory.
    pub readonly_url: String,
    pub children: Vec<ChildModel>,
    pub now: f64,
}

impl DirectoryModel {
    /// `/uri/$ROOT/a/b` (no trailing slash): forms post here.
    pub fn base_url(&self) -> String {
        let mut u = format!("/uri/{}", encode_segment(&self.root_cap));
        for p in &self.path {
            u.push('/');
            u.push_str(&encode_segment(p));
        }
        u
    }

    /// A child's URL, through this directory's path (so a writable
    /// directory's writable children stay writable).
    pub fn child_url(&self, c: &ChildModel) -> String {
        format!("{}/{}", self.base_url(), encode_segment(&c.name))
    }

    /// The last path component, or a short name for the root.
    pub fn title(&self) -> String {
        match self.path.last() {
            Some(p) => p.clone(),
            None => "Directory".to_string(),
        }
    }

    /// Breadcrumbs: ("root", "/uri/$ROOT/"), ("a", "/uri/$ROOT/a/"), …
    pub fn crumbs(&self) -> Vec<(String, String)> {
        let mut u = format!("/uri/{}", encode_segment(&self.root_cap));
        let mut out = vec![("root".to_string(), format!("{u}/"))];
        for p in &self.path {
            u.push('/');
            u.push_str(&encode_segment(p));
            out.push((p.clone(), format!("{u}/")));
        }
        out
    }
}

/// `?t=info` for a file or directory.
#[derive(Debug, Clone, Default)]
pub struct FileInfoModel {
    pub name: String,
    pub kind: ChildKind,
    /// "CHK", "LIT", "SDMF", "MDMF", …
    pub format: Option<String>,
    pub size: Option<u64>,
    pub storage_index: Option<String>,
    /// ("Read-write cap", …), ("Read-only cap", …), ("Verify cap", …).
    pub caps: Vec<(String, String)>,
    pub download_url: Option<String>,
    /// For directories: the listing.
    pub open_url: Option<String>,
    pub parent_url: Option<String>,
    /// Where the check form posts (`…?t=check`), when checking is offered.
    pub check_url: Option<String>,
}

/// Where an operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OperationState {
    #[default]
    Running,
    Done,
    Failed,
}

impl OperationState {
    pub fn label(&self) -> &'static str {
        match self {
            OperationState::Running => "running",
            OperationState::Done => "done",
            OperationState::Failed => "failed",
        }
    }
    pub fn css(&self) -> &'static str {
        match self {
            OperationState::Running => "busy",
            OperationState::Done => "ok",
            OperationState::Failed => "bad",
        }
    }
}

/// One upload, download, check… for `/status`.
#[derive(Debug, Clone, Default)]
pub struct OperationModel {
    /// "upload", "download", "deep-check", …
    pub kind: String,
    /// What it works on: a file name or a storage index (never a cap).
    pub target: String,
    /// 0.0 ..= 1.0.
    pub progress: f64,
    /// Bytes moved so far, when that means something.
    pub bytes: Option<u64>,
    pub started: f64,
    pub state: OperationState,
}

impl OperationModel {
    pub fn percent(&self) -> u8 {
        let p = if self.progress.is_finite() {
            self.progress.clamp(0.0, 1.0)
        } else {
            0.0
        };
        (p * 100.0).round() as u8
    }
}

/// `GET /status`.
#[derive(Debug, Clone, Default)]
pub struct StatusModel {
    pub operations: Vec<OperationModel>,
    pub now: f64,
}

impl StatusModel {
    /// From the operations table (newest first).
    pub fn from_ops(ops: &[crate::ops::OpSnapshot]) -> Self {
        use crate::ops::OpState;
        StatusModel {
            operations: ops
                .iter()
                .map(|o| OperationModel {
                    kind: match &o.state {
                        OpState::Running => format!("{} ({})", o.kind.name(), o.phase),
                        _ => o.kind.name().to_string(),
                    },
                    target: match (o.target.is_empty(), &o.storage_index) {
                        (false, _) => o.target.clone(),
                        (true, Some(si)) => si.clone(),
                        (true, None) => String::new(),
                    },
                    progress: o.fraction(),
                    // Walks count objects, not bytes.
                    bytes: matches!(
                        o.kind,
                        crate::ops::OpKind::Upload
                            | crate::ops::OpKind::Download
                            | crate::ops::OpKind::Update
                    )
                    .then_some(o.done),
                    started: o.started,
                    state: match o.state {
                        OpState::Running => OperationState::Running,
                        OpState::Done => OperationState::Done,
                        OpState::Failed(_) => OperationState::Failed,
                    },
                })
                .collect(),
            now: now(),
        }
    }

    pub fn any_active(&self) -> bool {
        self.operations
            .iter()
            .any(|o| o.state == OperationState::Running)
    }
}

/// Now, as Unix seconds (0 if the clock is before 1970).
pub(crate) fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `/uri/$CAP`, with a trailing slash for directories (so relative links
/// inside a listing resolve below it).
fn cap_url(cap: &str, dir: bool) -> String {
    format!("/uri/{}{}", encode_segment(cap), if dir { "/" } else { "" })
}

impl WelcomeModel {
    /// From the API's view of the node.
    pub fn from_view(v: &view::WelcomeView, now: f64) -> Self {
        WelcomeModel {
            nickname: v.nickname.clone(),
            node_id: v.node_id.clone(),
            versions: vec![
                ("Version".to_string(), v.version.clone()),
                (
                    "Compatible with".to_string(),
                    "Tahoe-LAFS 1.20 (HTTPS storage protocol)".to_string(),
                ),
            ],
            introducers: v
                .introducers
                .iter()
                .map(|i| IntroducerModel {
                    address: i.address.clone(),
                    connected: i.connected,
                    since: i.since,
                })
                .collect(),
            servers: v
                .servers
                .iter()
                .map(|s| {
                    let (id, nick) = split_id(&s.id, &s.nickname);
                    ServerModel {
                        nickname: nick,
                        server_id: id,
                        address: s.address.clone(),
                        connected: s.connected,
                        status: s.summary.clone(),
                        since: s.since,
                        last_seen: s.last_seen,
                        available_space: s.available_space,
                    }
                })
                .collect(),
            storage: v.storage.as_ref().map(|s| StorageUsage {
                used: s.used,
                available: s.available,
            }),
            needed: v.needed,
            total: v.total,
            now,
        }
    }
}

/// The broker names servers "v0-… (nickname)" when servers.yaml gives a
/// nickname; show the two apart when the view has no separate nickname.
fn split_id(id: &str, nickname: &str) -> (String, String) {
    if nickname.is_empty() {
        if let Some((a, b)) = id.split_once(" (") {
            if let Some(n) = b.strip_suffix(')') {
                return (a.to_string(), n.to_string());
            }
        }
    }
    (id.to_string(), nickname.to_string())
}

impl DirectoryModel {
    /// From the API's listing.
    pub fn from_view(v: &view::DirectoryView, now: f64) -> Self {
        DirectoryModel {
            root_cap: v.root_cap.clone(),
            path: v.path.clone(),
            writable: v.writable,
            readonly_url: cap_url(&v.readonly_cap, true),
            children: v
                .children
                .iter()
                .map(|c| {
                    let kind = match c.kind {
                        view::ChildKind::Dir => ChildKind::Dir,
                        view::ChildKind::File if c.mutable => ChildKind::MutableFile,
                        view::ChildKind::File => ChildKind::File,
                        _ => ChildKind::Unknown,
                    };
                    ChildModel {
                        name: c.name.clone(),
                        kind,
                        size: c.size,
                        writable: !c.readonly_cap.is_empty() && c.cap != c.readonly_cap,
                        readonly_url: (!c.readonly_cap.is_empty())
                            .then(|| cap_url(&c.readonly_cap, kind.is_dir())),
                        mtime: c.modified,
                    }
                })
                .collect(),
            now,
        }
    }
}

impl FileInfoModel {
    /// From the API's `t=info` view.
    pub fn from_view(v: &view::FileInfoView) -> Self {
        let kind = if v.is_dir {
            ChildKind::Dir
        } else if v.mutable {
            ChildKind::MutableFile
        } else {
            ChildKind::File
        };
        let mut caps = Vec::new();
        if v.cap != v.readonly_cap {
            caps.push(("Read-write cap".to_string(), v.cap.clone()));
        }
        if !v.readonly_cap.is_empty() {
            caps.push(("Read-only cap".to_string(), v.readonly_cap.clone()));
        }
        if !v.verify_cap.is_empty() {
            caps.push(("Verify cap".to_string(), v.verify_cap.clone()));
        }
        let name = match (v.is_dir, v.mutable) {
            (true, _) => "Directory",
            (false, true) => "Mutable file",
            (false, false) => "File",
        };
        FileInfoModel {
            name: name.to_string(),
            kind,
            format: (!v.format.is_empty()).then(|| v.format.clone()),
            size: v.size,
            storage_index: (!v.storage_index.is_empty()).then(|| v.storage_index.clone()),
            caps,
            download_url: (!v.is_dir).then(|| cap_url(&v.cap, false)),
            open_url: v.is_dir.then(|| cap_url(&v.cap, true)),
            parent_url: None,
            // LIT files have no shares to check.
            check_url: (!v.storage_index.is_empty())
                .then(|| format!("{}?t=check", cap_url(&v.cap, false))),
        }
    }
}
