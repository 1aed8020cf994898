//! Finding the loopback ports of local nodes: which process listens on a
//! port (from Linux's /proc), and the web port a node wrote to node.url.
//! Shared by `lafs bench grid` and the integration tests (which include
//! this file), both of which start Tahoe and lafs nodes on this machine.

use std::process::Child;
use std::time::{Duration, Instant};

/// Whether process `pid` has a socket listening on 127.0.0.1:`port`, from
/// /proc/net/tcp and /proc/PID/fd. Storage ports are picked free before a
/// node starts (Tahoe refuses port 0), so another process can take one in
/// between; a connect() alone would then reach that other process.
///
/// Reading /proc/net/tcp walks the kernel's whole connection table (6 ms
/// on a 24 GiB machine), so it is skipped while connections to the port
/// are refused: then nothing listens there. (A listener whose backlog is
/// full lets a connect time out instead; that case is looked up.)
pub fn listens(pid: u32, port: u16) -> bool {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let timeout = Duration::from_millis(200);
    if std::net::TcpStream::connect_timeout(&addr, timeout)
        .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
    {
        return false;
    }
    let Ok(tcp) = std::fs::read_to_string("/proc/net/tcp") else {
        return false;
    };
    let local = format!("0100007F:{port:04X}");
    let sockets: Vec<String> = tcp
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // local_address is field 1, the state field 3 (0A: LISTEN),
            // the inode field 9.
            (f.len() > 9 && f[1] == local && f[3] == "0A").then(|| format!("socket:[{}]", f[9]))
        })
        .collect();
    if sockets.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|e| {
        std::fs::read_link(e.path())
            .is_ok_and(|l| sockets.iter().any(|s| l.as_os_str() == s.as_str()))
    })
}

/// The web port in a node's `node.url` (`http://127.0.0.1:PORT/`), once
/// the node has written it.
pub fn node_url_port(nd: &std::path::Path) -> Option<u16> {
    let url = std::fs::read_to_string(nd.join("node.url")).ok()?;
    url.trim()
        .trim_end_matches('/')
        .rsplit(':')
        .next()?
        .parse()
        .ok()
}

/// How a node started on a pre-picked port came up.
pub enum Start {
    /// Its own process listens on the port.
    Listening,
    /// It lost the port (the reason): it exited (`lafs run` does when it
    /// cannot bind), or it was ready for 15 s without listening (Tahoe
    /// runs on without its listener and writes its furl all the same).
    Lost(String),
    /// Neither within the time limit.
    TimedOut,
}

/// Wait (at most `limit`) until `child` listens on its pre-picked `port`
/// with `ready()` holding (Tahoe: its furl is written).
pub fn wait_listening(
    child: &mut Child,
    port: u16,
    limit: Duration,
    mut ready: impl FnMut() -> bool,
) -> std::io::Result<Start> {
    let t = Instant::now();
    let mut ready_since: Option<Instant> = None;
    loop {
        let is_ready = ready();
        if is_ready && listens(child.id(), port) {
            return Ok(Start::Listening);
        }
        if let Some(status) = child.try_wait()? {
            return Ok(Start::Lost(format!("exited ({status})")));
        }
        if is_ready && ready_since.is_none() {
            ready_since = Some(Instant::now());
        }
        if ready_since.is_some_and(|r| r.elapsed() > Duration::from_secs(15)) {
            return Ok(Start::Lost(format!("not listening on port {port}")));
        }
        if t.elapsed() > limit {
            return Ok(Start::TimedOut);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
