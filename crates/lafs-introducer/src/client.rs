//! The node side of the introducer: where the introducers are
//! (`[client] introducer.furl`, `private/introducers.yaml`), subscribing
//! to them, the announcement cache, and publishing our own announcement.
//!
//! Several introducers: every one gets its own subscription task and its
//! own cache file, `private/introducer_<petname>_cache.yaml` (Tahoe 1.20's
//! name; the `tahoe.cfg` one is petname `default`). Their announcements
//! merge into one map, key → newest announcement (by `seqnum`), so any one
//! introducer that is up is enough and none is a single point of failure.
//!
//! Like Tahoe, a subscriber never forgets a server: losing the introducer
//! (or getting an empty set from a restarted one) changes nothing the
//! client already knows. Reconnects back off exponentially, bounded by
//! [`Backoff::max`].
//!
//! Cache file format (Tahoe's `_save_announcements`), a YAML list:
//!
//! ```yaml
//! - ann: {anonymous-storage-FURL: …, anonymous-storage-NURLs: [...], nickname: …, seqnum: 3, …}
//!   key_s: v0-…
//! ```
//!
//! It holds the verified announcement dicts (not the signatures), read at
//! start so a client can work before any introducer answers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};
use lafs_http::client::{Connection, StorageClient as Endpoint};
use lafs_http::{Nurl, NurlError, Secrets};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::ann::{Announcement, SignedAnnouncement};
use crate::wire::{self, AnnouncementsResponse, PublishResponse, ANNOUNCEMENTS_PATH, PUBLISH_PATH};

/// Why talking to an introducer or reading its configuration failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntroError {
    /// Connecting, TLS (including a wrong pin) or HTTP.
    #[error("introducer transport: {0}")]
    Transport(#[from] lafs_http::client::ClientError),
    /// An answer other than 200.
    #[error("introducer answered {0}")]
    Status(StatusCode),
    /// A body that does not match the schema.
    #[error("introducer: {0}")]
    Wire(#[from] wire::WireError),
    /// No answer in time.
    #[error("introducer did not answer in time")]
    Timeout,
    /// An introducer URL that is not `pb://PIN@HOST:PORT/SWISSNUM#v=1`
    /// (a Foolscap fURL of a Python introducer lands here).
    #[error("introducer {petname}: {error} (lafs introducers are pb://PIN@HOST:PORT/SWISSNUM#v=1; Foolscap introducers are not supported)")]
    Url {
        /// The introducer's petname.
        petname: String,
        /// What was wrong.
        error: NurlError,
    },
    /// `private/introducers.yaml` is unreadable or of the wrong shape.
    #[error("introducers.yaml: {0}")]
    Config(String),
    /// Both tahoe.cfg and introducers.yaml define `default` (Tahoe refuses
    /// this too).
    #[error("'default' introducer is given in both tahoe.cfg and introducers.yaml")]
    DuplicateDefault,
}

/// One configured introducer.
#[derive(Clone, Debug)]
pub struct IntroducerEntry {
    /// Its petname (`default` for `[client] introducer.furl`).
    pub petname: String,
    /// Where it is.
    pub url: Nurl,
    /// `private/introducer_<petname>_cache.yaml`, if caching.
    pub cache: Option<PathBuf>,
}

#[derive(Deserialize)]
struct IntroducersYaml {
    #[serde(default)]
    introducers: BTreeMap<String, IntroducerYamlEntry>,
}

#[derive(Deserialize)]
struct IntroducerYamlEntry {
    furl: String,
}

/// The introducers of a node: `tahoe_cfg_furl` is `[client]
/// introducer.furl` (empty = none), plus `NODEDIR/private/introducers.yaml`
/// (`introducers: {PETNAME: {furl: URL}}`) if it exists.
pub fn introducers_of_node(
    nodedir: &Path,
    tahoe_cfg_furl: Option<&str>,
) -> Result<Vec<IntroducerEntry>, IntroError> {
    let private = nodedir.join("private");
    let mut furls: BTreeMap<String, String> = BTreeMap::new();
    match std::fs::read_to_string(private.join("introducers.yaml")) {
        Ok(y) => {
            let f: IntroducersYaml =
                serde_saphyr::from_str(&y).map_err(|e| IntroError::Config(e.to_string()))?;
            furls.extend(f.introducers.into_iter().map(|(k, v)| (k, v.furl)));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(IntroError::Config(e.to_string())),
    }
    if let Some(f) = tahoe_cfg_furl.map(str::trim).filter(|f| !f.is_empty()) {
        if furls.insert("default".into(), f.to_string()).is_some() {
            return Err(IntroError::DuplicateDefault);
        }
    }
    // A Foolscap fURL (a Python introducer) is skipped with a warning, not
    // refused: a Tahoe node directory that names one must still start
    // (with its static servers.yaml).
    Ok(furls
        .into_iter()
        .filter_map(|(petname, furl)| match Nurl::parse(furl.trim()) {
            Ok(url) => {
                let cache = Some(private.join(format!("introducer_{petname}_cache.yaml")));
                Some(IntroducerEntry {
                    petname,
                    url,
                    cache,
                })
            }
            Err(error) => {
                tracing::warn!("{}", IntroError::Url { petname, error });
                None
            }
        })
        .collect())
}

/// Tahoe's sequencer: bump `NODEDIR/announcement-seqnum` and make a
/// fresh nonce; every start of a node publishes a newer announcement.
pub fn next_seqnum(nodedir: &Path) -> std::io::Result<(u64, String)> {
    let p = nodedir.join("announcement-seqnum");
    let old = match std::fs::read_to_string(&p) {
        Ok(s) => s.trim().parse::<u64>().unwrap_or(0),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e),
    };
    let seqnum = old.saturating_add(1);
    std::fs::write(&p, format!("{seqnum}\n"))?;
    let mut n = [0u8; 32];
    aws_lc_rs::rand::fill(&mut n).map_err(|_| std::io::Error::other("no randomness"))?;
    Ok((seqnum, lafs_format::base32::encode(&n)))
}

/// Reconnect policy.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    /// First delay after a failure.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
}

/// How subscriptions and publishers behave.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Reconnect policy.
    pub backoff: Backoff,
    /// How long each long poll may be held by the introducer.
    pub poll_wait: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            backoff: Backoff {
                initial: Duration::from_millis(500),
                max: Duration::from_secs(30),
            },
            poll_wait: Duration::from_secs(30),
        }
    }
}

/// A connection to one introducer (reopened after any failure).
struct Link {
    endpoint: Endpoint,
    conn: Option<Connection>,
}

impl Link {
    fn new(url: &Nurl) -> Result<Link, IntroError> {
        Ok(Link {
            endpoint: Endpoint::new(url.clone())?,
            conn: None,
        })
    }

    async fn request(
        &mut self,
        method: Method,
        path: &str,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, IntroError> {
        let r = tokio::time::timeout(timeout, async {
            let mut conn = match self.conn.take() {
                Some(c) => c,
                None => self.endpoint.connect().await?,
            };
            let headers = [("content-type", "application/cbor".to_string())];
            let r = conn
                .request(method, path, &Secrets::default(), &headers, body)
                .await?;
            self.conn = Some(conn);
            Ok::<_, IntroError>(r)
        })
        .await
        .map_err(|_| IntroError::Timeout)??;
        if r.0 != StatusCode::OK {
            return Err(IntroError::Status(r.0));
        }
        Ok(r.2)
    }

    async fn poll(
        &mut self,
        service: &str,
        epoch: &str,
        since: u64,
        wait: Duration,
    ) -> Result<AnnouncementsResponse, IntroError> {
        let path = format!(
            "{ANNOUNCEMENTS_PATH}?service={service}&epoch={epoch}&since={since}&wait={}",
            wait.as_secs()
        );
        let b = self
            .request(
                Method::GET,
                &path,
                Bytes::new(),
                wait + Duration::from_secs(20),
            )
            .await?;
        Ok(wire::decode(&b)?)
    }

    async fn publish(&mut self, s: &SignedAnnouncement) -> Result<PublishResponse, IntroError> {
        let b = self
            .request(
                Method::POST,
                PUBLISH_PATH,
                Bytes::from(wire::encode(s)),
                Duration::from_secs(30),
            )
            .await?;
        Ok(wire::decode(&b)?)
    }
}

/// Every storage server known, `key_s` → its newest announcement.
pub type ServerAnns = BTreeMap<String, Announcement>;

#[derive(Serialize, Deserialize)]
struct CacheEntry {
    ann: Map<String, Value>,
    key_s: String,
}

/// Read a cache file (missing or unreadable → nothing, with a warning
/// for the latter: the cache is only a head start).
pub fn read_cache(path: &Path) -> Vec<Announcement> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), error = %e, "cannot read introducer cache");
            }
            return Vec::new();
        }
    };
    match serde_saphyr::from_str::<Option<Vec<CacheEntry>>>(&text) {
        Ok(v) => v
            .unwrap_or_default()
            .into_iter()
            .map(|e| Announcement {
                key_s: e.key_s,
                ann: e.ann,
            })
            .collect(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "ignoring malformed introducer cache");
            Vec::new()
        }
    }
}

/// Write a cache file atomically (temporary file, then rename).
pub fn write_cache<'a>(
    path: &Path,
    anns: impl Iterator<Item = &'a Announcement>,
) -> std::io::Result<()> {
    let list: Vec<CacheEntry> = anns
        .map(|a| CacheEntry {
            ann: a.ann.clone(),
            key_s: a.key_s.clone(),
        })
        .collect();
    let text = serde_saphyr::to_string(&list).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("yaml.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Merge `a` into `known` if it is new or newer (by `seqnum`); true if
/// `known` changed.
fn merge(known: &mut ServerAnns, a: &Announcement) -> bool {
    match known.get(&a.key_s) {
        Some(old) if old.ann == a.ann => false,
        Some(old) if old.seqnum() >= a.seqnum() && old.seqnum().is_some() => false,
        _ => {
            known.insert(a.key_s.clone(), a.clone());
            true
        }
    }
}

/// How one subscription's connection stands, for a node's welcome page
/// (Tahoe's `introducer_connection_statuses`).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct IntroducerStatus {
    /// The introducer's petname.
    pub petname: String,
    /// `host:port` (never the swissnum).
    pub address: String,
    /// Whether its last poll succeeded.
    pub connected: bool,
    /// When the connection last came up or went down (Unix seconds).
    pub since: Option<f64>,
    /// When it last answered (Unix seconds).
    pub last_received: Option<f64>,
    /// Why the last attempt failed, while not connected.
    pub last_error: Option<String>,
}

impl IntroducerStatus {
    /// Tahoe's one-line summary (`ConnectionStatus.summary`).
    pub fn summary(&self) -> String {
        match (self.connected, &self.last_error) {
            (true, _) => format!("Connected to {} via HTTPS", self.address),
            (false, Some(e)) => format!("Reconnecting (last attempt failed: {e})"),
            (false, None) => "Trying to connect".to_string(),
        }
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The connection state of every introducer of a [`Subscription`],
/// shared with its tasks; clone it to read it from elsewhere (a web page).
#[derive(Clone, Debug, Default)]
pub struct StatusBoard(Arc<Mutex<Vec<IntroducerStatus>>>);

impl StatusBoard {
    fn new(entries: &[IntroducerEntry]) -> StatusBoard {
        StatusBoard(Arc::new(Mutex::new(
            entries
                .iter()
                .map(|e| IntroducerStatus {
                    petname: e.petname.clone(),
                    address: format!("{}:{}", e.url.host, e.url.port),
                    connected: false,
                    since: None,
                    last_received: None,
                    last_error: None,
                })
                .collect(),
        )))
    }

    /// Every introducer's status, in configuration order.
    pub fn snapshot(&self) -> Vec<IntroducerStatus> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }

    fn update(&self, i: usize, ok: Result<(), String>) {
        let Ok(mut v) = self.0.lock() else { return };
        let Some(s) = v.get_mut(i) else { return };
        let now = unix_now();
        let up = ok.is_ok();
        if up != s.connected || s.since.is_none() {
            s.since = Some(now);
        }
        s.connected = up;
        match ok {
            Ok(()) => {
                s.last_received = Some(now);
                s.last_error = None;
            }
            Err(e) => s.last_error = Some(e),
        }
    }
}

/// Live subscriptions to every configured introducer. Dropping it stops
/// them.
#[derive(Debug)]
pub struct Subscription {
    rx: watch::Receiver<Arc<ServerAnns>>,
    board: StatusBoard,
    /// How many introducers have answered at least once.
    answered: watch::Receiver<usize>,
    introducers: usize,
    _tasks: Tasks,
}

/// Background tasks that stop when their owner is dropped.
#[derive(Debug)]
struct Tasks(Vec<JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

impl Subscription {
    /// Load every introducer's cache, then subscribe to each for `service`
    /// announcements (needs a tokio runtime).
    pub fn start(entries: &[IntroducerEntry], service: &str, opts: Options) -> Subscription {
        let mut known = ServerAnns::new();
        for e in entries {
            if let Some(c) = &e.cache {
                for a in read_cache(c) {
                    if a.service_name() == service || a.service_name().is_empty() {
                        merge(&mut known, &a);
                    }
                }
            }
        }
        let (tx, rx) = watch::channel(Arc::new(known));
        let shared = Arc::new(Mutex::new(tx));
        let (answered_tx, answered) = watch::channel(0usize);
        let answered_tx = Arc::new(answered_tx);
        let board = StatusBoard::new(entries);
        let tasks = entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                tokio::spawn(subscribe_loop(
                    e.clone(),
                    service.to_string(),
                    opts,
                    shared.clone(),
                    answered_tx.clone(),
                    (board.clone(), i),
                ))
            })
            .collect();
        Subscription {
            rx,
            board,
            answered,
            introducers: entries.len(),
            _tasks: Tasks(tasks),
        }
    }

    /// Wait until every introducer has answered once, or `timeout` (for
    /// short-lived commands that need the grid now); true if all did.
    pub async fn wait_answered(&self, timeout: Duration) -> bool {
        let mut rx = self.answered.clone();
        let want = self.introducers;
        tokio::time::timeout(timeout, rx.wait_for(|n| *n >= want))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// A receiver of the merged announcement map; it changes whenever a
    /// server appears or re-announces differently.
    pub fn watch(&self) -> watch::Receiver<Arc<ServerAnns>> {
        self.rx.clone()
    }

    /// The current merged map.
    pub fn current(&self) -> Arc<ServerAnns> {
        self.rx.borrow().clone()
    }

    /// Each introducer's connection state (a shared, live view).
    pub fn statuses(&self) -> StatusBoard {
        self.board.clone()
    }
}

async fn subscribe_loop(
    entry: IntroducerEntry,
    service: String,
    opts: Options,
    shared: Arc<Mutex<watch::Sender<Arc<ServerAnns>>>>,
    answered: Arc<watch::Sender<usize>>,
    (board, index): (StatusBoard, usize),
) {
    let mut link = match Link::new(&entry.url) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(introducer = %entry.petname, error = %e, "cannot use introducer");
            return;
        }
    };
    // What this introducer told us, for its own cache file.
    let mut mine: ServerAnns = entry
        .cache
        .as_deref()
        .map(read_cache)
        .unwrap_or_default()
        .into_iter()
        .map(|a| (a.key_s.clone(), a))
        .collect();
    let (mut epoch, mut since) = (String::new(), 0u64);
    let mut delay = opts.backoff.initial;
    let mut connected = false;
    loop {
        match link.poll(&service, &epoch, since, opts.poll_wait).await {
            Ok(r) => {
                board.update(index, Ok(()));
                if !connected {
                    tracing::info!(introducer = %entry.petname, "connected to introducer");
                    connected = true;
                }
                let first_answer = epoch.is_empty();
                delay = opts.backoff.initial;
                epoch = r.epoch;
                since = r.generation;
                let mut mine_changed = false;
                let mut verified = Vec::new();
                for s in &r.announcements {
                    match s.verify() {
                        // The introducer is not trusted to filter services.
                        Ok(a) if a.service_name() == service => {
                            mine_changed |= merge(&mut mine, &a);
                            verified.push(a);
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(introducer = %entry.petname, key = %s.key, error = %e, "rejected announcement")
                        }
                    }
                }
                if mine_changed {
                    if let Some(c) = &entry.cache {
                        if let Err(e) = write_cache(c, mine.values()) {
                            tracing::warn!(path = %c.display(), error = %e, "cannot write introducer cache");
                        }
                    }
                }
                if let Ok(tx) = shared.lock() {
                    tx.send_if_modified(|known| {
                        let mut next = (**known).clone();
                        let changed = verified
                            .iter()
                            .fold(false, |ch, a| merge(&mut next, a) | ch);
                        if changed {
                            *known = Arc::new(next);
                        }
                        changed
                    });
                }
                if first_answer {
                    answered.send_modify(|n| *n += 1);
                }
            }
            Err(e) => {
                board.update(index, Err(e.to_string()));
                if connected {
                    tracing::warn!(introducer = %entry.petname, error = %e, "lost introducer; reconnecting");
                    connected = false;
                } else {
                    tracing::debug!(introducer = %entry.petname, error = %e, "introducer unreachable");
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(opts.backoff.max);
            }
        }
    }
}

/// For a short-lived command: the servers a node knows — its caches plus
/// one answer from every introducer that answers within `timeout`.
pub async fn fetch_once(
    entries: &[IntroducerEntry],
    service: &str,
    timeout: Duration,
) -> Arc<ServerAnns> {
    let sub = Subscription::start(entries, service, Options::default());
    if !sub.wait_answered(timeout).await {
        tracing::warn!("not every introducer answered; using what is known");
    }
    sub.current()
}

/// Our announcement kept published on every configured introducer.
/// Dropping it stops publishing (introducers keep what they have).
#[derive(Debug)]
pub struct Publisher {
    _tasks: Tasks,
}

impl Publisher {
    /// Publish `signed` to every introducer, and again whenever one no
    /// longer holds it (restarted) — found by watching our own service.
    pub fn start(entries: &[IntroducerEntry], signed: SignedAnnouncement, opts: Options) -> Self {
        let signed = Arc::new(signed);
        let tasks = entries
            .iter()
            .map(|e| tokio::spawn(publish_loop(e.clone(), signed.clone(), opts)))
            .collect();
        Publisher {
            _tasks: Tasks(tasks),
        }
    }
}

async fn publish_loop(entry: IntroducerEntry, signed: Arc<SignedAnnouncement>, opts: Options) {
    let service = signed
        .verify()
        .map(|a| a.service_name().to_string())
        .unwrap_or_default();
    let mut link = match Link::new(&entry.url) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(introducer = %entry.petname, error = %e, "cannot use introducer");
            return;
        }
    };
    let mut delay = opts.backoff.initial;
    let (mut epoch, mut since) = (String::new(), 0u64);
    let mut published = false;
    loop {
        let step = async {
            if !published {
                let r = link.publish(&signed).await?;
                tracing::info!(introducer = %entry.petname, outcome = %r.outcome, "published announcement");
                published = true;
            }
            let r = link.poll(&service, &epoch, since, opts.poll_wait).await?;
            if r.epoch != epoch && !epoch.is_empty() {
                tracing::info!(introducer = %entry.petname, "introducer restarted");
            }
            epoch = r.epoch;
            since = r.generation;
            // Republish when the introducer lost ours (a restart) or holds
            // another of ours (then the stale-seqnum rule decides).
            published = r.announcements.iter().any(|a| a.msg == signed.msg);
            Ok::<_, IntroError>(())
        };
        match step.await {
            Ok(()) => delay = opts.backoff.initial,
            Err(e) => {
                tracing::debug!(introducer = %entry.petname, error = %e, "publish/poll failed");
                published = false;
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(opts.backoff.max);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ann::{announcement_dict, SigningKey};

    #[test]
    fn cache_roundtrip_and_merge() {
        let dir = lafs_testing::scratch_dir("intro-cache");
        let (k, _) = SigningKey::generate().unwrap();
        let mut f = Map::new();
        f.insert(
            "anonymous-storage-NURLs".into(),
            Value::from(vec!["pb://x"]),
        );
        let a = k
            .sign(&announcement_dict("n", "storage", 4, "x", f))
            .verify()
            .unwrap();
        let p = dir.join("introducer_default_cache.yaml");
        write_cache(&p, [a.clone()].iter()).unwrap();
        let back = read_cache(&p);
        assert_eq!(back, vec![a.clone()]);
        let mut known = ServerAnns::new();
        assert!(merge(&mut known, &a));
        assert!(!merge(&mut known, &a));
        let older = k
            .sign(&announcement_dict("n2", "storage", 3, "y", Map::new()))
            .verify()
            .unwrap();
        assert!(!merge(&mut known, &older));
        std::fs::write(&p, "- {not: [valid").unwrap();
        assert!(read_cache(&p).is_empty());
        assert!(read_cache(&dir.join("missing.yaml")).is_empty());
    }

    #[test]
    fn introducer_config() {
        let dir = lafs_testing::scratch_dir("intro-config");
        std::fs::create_dir_all(dir.join("private")).unwrap();
        let u = "pb://zEg4mIR0CJT6hyKq-3tHXHiHknlcbQ2c9gpIrh2y6uk@127.0.0.1:8443/s4k6#v=1";
        assert!(introducers_of_node(&dir, None).unwrap().is_empty());
        let e = introducers_of_node(&dir, Some(u)).unwrap();
        assert_eq!(e[0].petname, "default");
        assert!(e[0]
            .cache
            .as_ref()
            .unwrap()
            .ends_with("private/introducer_default_cache.yaml"));
        std::fs::write(
            dir.join("private/introducers.yaml"),
            format!("introducers:\n  second:\n    furl: \"{u}\"\n"),
        )
        .unwrap();
        assert_eq!(introducers_of_node(&dir, Some(u)).unwrap().len(), 2);
        std::fs::write(
            dir.join("private/introducers.yaml"),
            format!("introducers:\n  default:\n    furl: \"{u}\"\n"),
        )
        .unwrap();
        assert!(matches!(
            introducers_of_node(&dir, Some(u)),
            Err(IntroError::DuplicateDefault)
        ));
        std::fs::remove_file(dir.join("private/introducers.yaml")).unwrap();
        // A Foolscap introducer (Python's) is skipped, not fatal.
        assert!(
            introducers_of_node(&dir, Some("pb://tubid@tcp:host:1/swiss"))
                .unwrap()
                .is_empty()
        );
    }
}
