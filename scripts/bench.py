#!/usr/bin/env python3
"""The engine of ./scripts/bench (issue 8): lafs against Tahoe-LAFS 1.20,
tar | nc, rsync and scp -r, side by side, with the machine's own limits.

./scripts/bench builds `lafs` in release mode, installs the tools and the
Tahoe venv, and then runs this file with the standard library only. It:

1. measures the machine's single-core limits with `lafs bench limits`;
2. sends a generated tree of files of mixed sizes over loopback with
   `tar | nc`, rsync (daemon), rsync over ssh and `scp -r`, against an
   sshd it starts on a free loopback port with a throwaway host key and
   user key;
3. starts ten `lafs run` storage nodes (3-of-10, happy 7, HTTPS) and copies
   the tree into that grid and back with `lafs cp -r`, then measures what
   the idle grid costs;
4. runs `lafs bench grid` (the upload, download, small-file, directory and
   mutable workloads on a lafs and a Tahoe grid) several times, when this
   `lafs` has that verb;
5. starts ten Python Tahoe 1.20 storage nodes and a Python client node
   (same parameters, HTTPS storage protocol) and does the same with
   `tahoe cp -r` -- last, because it is by far the slowest part;
6. prints Markdown tables (median of the runs, min-max, lafs/Tahoe ratio,
   fraction of the bounding limit) and writes the same figures as JSON:
   {"rows": [{"metric", "lafs", "tahoe", "unit", ...}], ...}.

What is counted, for every transfer:
- time: wall clock from the first process started to the last one done;
- MB/s: 10^6 bytes of file content per second;
- client peak RSS: the largest process of the client side (ru_maxrss from
  wait4, which covers its children), plus, for Tahoe, the peak of the
  client node that does the work behind `tahoe cp` (their sum);
- storage peak RSS: the largest storage process (VmHWM, reset before each
  transfer through /proc/PID/clear_refs, sampled over forked children);
- CPU s per 100 MiB: user + system seconds of every process on both sides
  (including children they reaped), per 100 MiB of file content.

A workload that cannot run (a verb missing from this build, no Tahoe venv,
no sshd) gives null figures and a note; the script then still succeeds.
Nothing here asserts on timing.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import hashlib
import json
import math
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

MIB = 1 << 20
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Every bounded wait in this file gives up after this many seconds.
START_TIMEOUT = 180

NOTES: list[str] = []
# Failures of lafs itself (not of the machine or of another tool): the
# smoke run in scripts/test fails on any, so that the benchmark cannot rot
# into a table of nulls.
LAFS_FAILURES: list[str] = []


def note(msg: str) -> None:
    """A line for the report's notes (and stderr now)."""
    NOTES.append(msg)
    log(f"note: {msg}")


def lafs_failed(msg: str) -> None:
    LAFS_FAILURES.append(msg)
    note(msg)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Process accounting through /proc (Linux).


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of `pid` and of the children it reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # Fields after the parenthesised command name; utime is field 14.
    f = stat.rsplit(")", 1)[1].split()
    return sum(int(x) for x in f[11:15]) / CLK_TCK


def proc_hwm_mib(pid: int) -> float | None:
    """Peak resident set (VmHWM) of `pid` in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def reset_hwm(pid: int) -> None:
    """Start a new VmHWM period (`5` resets the peak RSS, Linux >= 4.0)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass


def descendants(roots: list[int]) -> set[int]:
    """`roots` and every live process below them."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d))
    seen, todo = set(), list(roots)
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo.extend(children.get(p, []))
    return seen


class PeakSampler:
    """The largest VmHWM among `roots` and their descendants while running:
    long-lived servers are reset at the start and read at the end; forked
    children (sshd's and rsync --daemon's per-connection processes, the
    stages of a pipeline) are sampled every 50 ms while they live.

    Not ru_maxrss: Linux charges a child the peak of the memory it was
    forked with, so every command started from this Python process would
    report at least this process's own RSS."""

    def __init__(self, roots: list[int], reset: bool = True):
        self.roots = roots
        self.reset = reset
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "PeakSampler":
        for p in self.roots if self.reset else []:
            reset_hwm(p)
        if self.roots:
            self._thread.start()
        return self

    def _sample(self) -> None:
        for p in descendants(self.roots):
            h = proc_hwm_mib(p)
            if h is not None:
                self.peak = max(self.peak, h)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self._sample()

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self.roots:
            self._thread.join()
            self._sample()


# Process groups we started and have not reaped: killed when this script
# exits, however it exits (an error, SIGTERM, ^C), so nothing is left running.
LIVE: set[int] = set()


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


@atexit.register
def _kill_live() -> None:
    for pgid in list(LIVE):
        kill_group(pgid)


class Oneshot:
    """A command started now and reaped with wait4, for its CPU time
    (which covers the children it reaped); its peak RSS is sampled."""

    def __init__(self, argv: list[str], log_path: Path, cwd: Path | None = None, env=None):
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "ab")
        # Its own process group, so that a timeout (or our own exit) stops
        # everything it started too.
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, cwd=cwd, env=env,
            start_new_session=True,
        )
        LIVE.add(self.proc.pid)
        self.rc: int | None = None
        self.cpu = 0.0
        self.end = 0.0
        self._peak = PeakSampler([self.proc.pid], reset=False).__enter__()

    @property
    def maxrss_mib(self) -> float:
        """Peak RSS of the largest process of this command's tree."""
        return self._peak.peak

    def wait(self, timeout: float) -> "Oneshot":
        deadline = time.monotonic() + timeout
        while True:
            pid, status, ru = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                kill_group(self.proc.pid)
                pid, status, ru = os.wait4(self.proc.pid, 0)
                break
            time.sleep(0.02)
        LIVE.discard(self.proc.pid)
        self.end = time.monotonic()
        self._peak.__exit__(None, None, None)
        self.proc.returncode = self.rc = os.waitstatus_to_exitcode(status)
        self.cpu = ru.ru_utime + ru.ru_stime
        self._log.close()
        return self

    def check(self) -> "Oneshot":
        if self.rc != 0:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{' '.join(self.argv)} exited {self.rc}:\n{tail}")
        return self


class Daemon:
    """A long-running process we started; stopped with SIGTERM then SIGKILL."""

    def __init__(self, argv: list[str], log_path: Path, cwd: Path | None = None):
        self.argv = argv
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, cwd=cwd,
            start_new_session=True,
        )
        LIVE.add(self.proc.pid)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                kill_group(self.proc.pid)
                self.proc.wait()
        LIVE.discard(self.proc.pid)
        self.log.close()


def run_ok(argv: list[str], **kw) -> str:
    """Run a setup command; raise with its output when it fails."""
    r = subprocess.run(argv, capture_output=True, text=True, timeout=START_TIMEOUT, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} exited {r.returncode}: {r.stderr[-2000:]}")
    return r.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what: str, ok, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def listen_sockets(port: int) -> set[str]:
    """The `socket:[INODE]` names of the sockets listening on `port`."""
    want = f":{port:04X}"
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            for line in Path(table).read_text().splitlines()[1:]:
                f = line.split()
                if len(f) > 9 and f[1].endswith(want) and f[3] == "0A":
                    found.add(f"socket:[{f[9]}]")
        except OSError:
            pass
    return found


def listening(port: int) -> bool:
    """True when something listens on 127.0.0.1:`port`, without connecting
    (a connection would be the one `nc -l` accepts)."""
    return bool(listen_sockets(port))


def listening_pid(pid: int, port: int) -> bool:
    """True when process `pid` itself listens on `port`. Ports are picked
    free before a node starts (Tahoe refuses port 0), and another process
    may take one in between: Tahoe then runs on without listening and
    writes its furl all the same, and a connect would reach the other
    process. /proc/net/tcp is slow to read, so only after a connect."""
    if not port_open(port):
        return False
    sockets = listen_sockets(port)
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(fd) in sockets:
                return True
        except OSError:
            pass
    return False


START_ATTEMPTS = 5


# ---------------------------------------------------------------------------
# One transfer and what it cost.


class Sample:
    """What one transfer cost; `set_tree` says what it moved."""

    def __init__(self, wall, client_cpu, server_cpu, client_rss, server_rss):
        self.wall = wall
        self.nbytes = 0
        self.nfiles = 0
        self.client_cpu = client_cpu
        self.server_cpu = server_cpu
        self.client_rss = client_rss
        self.server_rss = server_rss

    def set_tree(self, tree: "Tree") -> None:
        self.nbytes, self.nfiles = tree.nbytes, tree.nfiles

    def figures(self) -> dict[str, float | None]:
        per100 = self.nbytes / (100 * MIB)
        return {
            "s": self.wall,
            "mbps": self.nbytes / self.wall / 1e6 if self.wall > 0 else None,
            "files_per_s": self.nfiles / self.wall if self.wall > 0 else None,
            "client_rss_mib": self.client_rss or None,
            "server_rss_mib": self.server_rss or None,
            "cpu_s_per_100mib": (self.client_cpu + self.server_cpu) / per100 if per100 else None,
        }


def transfer(
    clients: list[list[str]],
    servers: list[int],
    logdir: Path,
    name: str,
    client_daemons: list[int] = (),
    settle: float = 0.0,
) -> Sample:
    """Time `clients` (one-shot commands, run together) against the
    long-running `servers` and `client_daemons` (long-running processes on
    the client side, such as Tahoe's client node). `settle` gives forking
    servers (sshd, rsync --daemon) time to reap their per-connection child,
    whose CPU time then shows in the parent's."""
    daemons = list(servers) + list(client_daemons)
    cpu0 = sum(proc_cpu(p) for p in daemons)
    for p in client_daemons:
        reset_hwm(p)
    with PeakSampler(list(servers)) as peak:
        t0 = time.monotonic()
        procs = [Oneshot(c, logdir / f"{name}.log") for c in clients]
        for p in procs:
            p.wait(3600).check()
        t1 = max(p.end for p in procs)
        if settle:
            time.sleep(settle)
    cpu1 = sum(proc_cpu(p) for p in daemons)
    client_rss = max(p.maxrss_mib for p in procs)
    client_rss += sum(proc_hwm_mib(p) or 0.0 for p in client_daemons)
    return Sample(
        wall=t1 - t0,
        client_cpu=sum(p.cpu for p in procs),
        server_cpu=cpu1 - cpu0,
        client_rss=client_rss,
        server_rss=peak.peak,
    )


def tar_nc(src: Path, dst: Path, logdir: Path, name: str, client_sends: bool) -> Sample:
    """`tar c | nc -N` into `nc -l | tar x`: the receiver listens first and
    the clock starts when the sender does. Both ends are one-shot, so both
    are accounted through wait4; `client_sends` says which end is the
    client's."""
    port = free_port()
    receiver = ["bash", "-c", f"nc -l 127.0.0.1 {port} | tar -C {dst} -xf -"]
    sender = ["bash", "-c", f"tar -C {src.parent} -cf - {src.name} | nc -N 127.0.0.1 {port}"]
    r = Oneshot(receiver, logdir / f"{name}.receiver.log")
    wait_until(f"{name} receiver", lambda: listening(port), 30)
    t0 = time.monotonic()
    s = Oneshot(sender, logdir / f"{name}.sender.log")
    s.wait(3600).check()
    r.wait(600).check()
    client, server = (s, r) if client_sends else (r, s)
    return Sample(max(r.end, s.end) - t0, client.cpu, server.cpu, client.maxrss_mib,
                  server.maxrss_mib)


# ---------------------------------------------------------------------------
# The generated tree.


class Tree:
    """`nfiles` files of mixed sizes (log-uniform from 100 B to 4 MiB,
    scaled to about `total` bytes) in directories two levels deep. The
    sizes and layout are fixed; the contents are fresh random bytes every
    time, so that a grid never finds a file it already holds (convergent
    encryption would make a repeated upload nearly free) and nothing can
    compress them."""

    def __init__(self, root: Path, nfiles: int, total: int):
        self.root = root
        rng = random.Random(8)
        raw = [math.exp(rng.uniform(math.log(100), math.log(4 * MIB))) for _ in range(nfiles)]
        scale = total / sum(raw)
        self.sizes = [max(1, int(s * scale)) for s in raw]
        # About 20 files per directory, as in a real tree (and not one
        # directory per file, which would measure directory creation only):
        # one top-level directory per 100 files, each with 5 subdirectories.
        top = max(1, round(nfiles / 100))
        self.paths = [
            Path(f"d{i % top}") / f"s{(i // top) % 5}" / f"f{i:04d}.bin" for i in range(nfiles)
        ]
        root.mkdir(parents=True)
        for p, size in zip(self.paths, self.sizes):
            (root / p).parent.mkdir(parents=True, exist_ok=True)
            (root / p).write_bytes(os.urandom(size))
        self.nbytes = sum(self.sizes)
        self.nfiles = nfiles
        self.digest = self.tree_digest(root)

    def tree_digest(self, root: Path) -> str:
        h = hashlib.sha256()
        for p in sorted(self.paths):
            h.update(str(p).encode() + b"\0")
            h.update(hashlib.sha256((root / p).read_bytes()).digest())
        return h.hexdigest()

    def verify(self, root: Path, what: str) -> None:
        """Raise unless `root` holds exactly this tree."""
        got = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        want = sorted(str(p) for p in self.paths)
        if got != want:
            raise RuntimeError(f"{what}: {len(got)} files arrived, {len(want)} expected")
        if self.tree_digest(root) != self.digest:
            raise RuntimeError(f"{what}: contents differ")


# ---------------------------------------------------------------------------
# The grids.


class LafsGrid:
    """Ten `lafs run` storage nodes (disk backend, as Tahoe's) and a client
    node directory for `lafs cp`."""

    def __init__(self, lafs: str, work: Path, n: int):
        self.lafs = lafs
        self.nodes: list[Daemon] = []
        work.mkdir(parents=True)
        anns = []
        for i in range(n):
            nd = work / f"s{i}"
            for attempt in range(START_ATTEMPTS):
                shutil.rmtree(nd, ignore_errors=True)
                run_ok([lafs, "create-node", "--hostname", "127.0.0.1", "--nickname", f"s{i}",
                        str(nd)])
                ann = run_ok([lafs, "admin", "announcement", str(nd)])
                port = int(ann.split("@127.0.0.1:")[1].split("/")[0])
                d = Daemon([lafs, "run", str(nd)], work / f"s{i}.log")
                wait_until(f"lafs node on {port}",
                           lambda: not d.alive() or listening_pid(d.pid, port))
                if d.alive():
                    break
                # `lafs run` exits when another process took its port.
                d.stop()
                print(f"[bench] lafs node s{i} could not listen on {port}; again", file=sys.stderr)
            else:
                raise RuntimeError(f"lafs node s{i} could not listen in {START_ATTEMPTS} attempts")
            anns.append(ann)
            self.nodes.append(d)
        yaml = work / "servers.yaml"
        yaml.write_text("storage:\n" + "".join(anns))
        self.client = work / "client"
        run_ok([lafs, "create-client", "--needed", "3", "--happy", "7", "--total", "10",
                "--servers", str(yaml), str(self.client)])

    def server_pids(self) -> list[int]:
        return [d.pid for d in self.nodes]

    def stop(self) -> None:
        for d in self.nodes:
            d.stop()


def der_items(b: bytes):
    """The (tag, whole element) pairs of a DER sequence's contents."""
    i = 0
    while i < len(b):
        tag, n = b[i], b[i + 1]
        hdr = 2
        if n & 0x80:
            k = n & 0x7F
            n, hdr = int.from_bytes(b[i + 2:i + 2 + k], "big"), 2 + k
        yield tag, b[i:i + hdr + n], b[i + hdr:i + hdr + n]
        i += hdr + n


def spki_pin(pem: Path) -> str:
    """The NURL pin of a Python node's certificate (spec §9.4):
    base64url(SHA-256(DER SubjectPublicKeyInfo)), unpadded. The SPKI is the
    7th field of TBSCertificate, or the 6th in a v1 certificate without the
    explicit [0] version (Tahoe 1.20's node.pem is v1)."""
    text = pem.read_text()
    b64 = text.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    der = base64.b64decode("".join(b64.split()))
    (_, _, cert), = list(der_items(der))[:1]
    _, _, tbs = next(der_items(cert))
    fields = list(der_items(tbs))
    if fields[0][0] == 0xA0:
        fields = fields[1:]
    spki = fields[5][1]
    return base64.urlsafe_b64encode(hashlib.sha256(spki).digest()).decode().rstrip("=")


class TahoeGrid:
    """Ten Python Tahoe 1.20 storage nodes and one Python client node on
    their HTTPS storage protocol (servers.yaml with NURLs, spec §9.2)."""

    def __init__(self, venv: Path, shim: Path, work: Path, n: int):
        self.venv = venv
        self.python = str(venv / "bin/python")
        self.shim = shim
        self.nodes: list[Daemon] = []
        work.mkdir(parents=True)
        dirs, ports = [work / f"py{i}" for i in range(n)], [free_port() for _ in range(n)]
        self.client = work / "client"
        self.web_port = 0
        # Python start-up is slow (seconds on a busy machine), so `tahoe
        # create-node` runs once, beside `create-client`; the other nodes
        # get a copy of its tahoe.cfg with their own port and nickname.
        # Keys, certificates and the storage FURL are made by `tahoe run`.
        creates = [
            Oneshot(self.tahoe("create-node", "--nickname", "py0",
                               f"--port=tcp:{ports[0]}:interface=127.0.0.1",
                               f"--location=tcp:127.0.0.1:{ports[0]}", "--webport=none",
                               str(dirs[0])), work / "create-node.log"),
            Oneshot(self.tahoe("create-client", "--nickname", "client",
                               "--webport=tcp:0:interface=127.0.0.1",
                               "--shares-needed=3", "--shares-happy=7", "--shares-total=10",
                               str(self.client)), work / "create-client.log"),
        ]
        for c in creates:
            c.wait(START_TIMEOUT).check()
        template = (dirs[0] / "tahoe.cfg").read_text()
        for i, (d, p) in enumerate(zip(dirs, ports)):
            if i > 0:
                shutil.copytree(dirs[0], d)
                (d / "tahoe.cfg").write_text(
                    template.replace(f":{ports[0]}", f":{p}").replace("nickname = py0", f"nickname = py{i}"))
        for i, d in enumerate(dirs):
            self.nodes.append(self.run_node(d, work / f"py{i}.log"))
        yaml = "storage:\n"
        for i, d in enumerate(dirs):
            for attempt in range(START_ATTEMPTS):
                if self.node_listens(i, d, ports[i]):
                    break
                # It lost its port: the same node again on a new one.
                self.nodes[i].stop()
                print(f"[bench] Tahoe node py{i} could not listen on {ports[i]}; again",
                      file=sys.stderr)
                new = free_port()
                cfg = d / "tahoe.cfg"
                cfg.write_text(cfg.read_text().replace(f":{ports[i]}", f":{new}"))
                ports[i] = new
                self.nodes[i] = self.run_node(d, work / f"py{i}.log")
            else:
                raise RuntimeError(f"Tahoe node py{i} could not listen in {START_ATTEMPTS} attempts")
            yaml += self.announcement(d, f"py{i}", ports[i])
        (work / "servers.yaml").write_text(yaml)
        shutil.copy(work / "servers.yaml", self.client / "private/servers.yaml")
        (self.client / "node.url").unlink(missing_ok=True)
        self.client_node = self.run_node(self.client, work / "client.log")
        url = self.client / "node.url"
        wait_until("the Tahoe client's web port", url.exists)
        self.web_port = int(url.read_text().strip().rstrip("/").rsplit(":", 1)[1])
        wait_until("the Tahoe client to connect to every server", lambda: self.connected() == n)

    def node_listens(self, i: int, d: Path, port: int) -> bool:
        """Wait for storage node `i` to write its furl and listen on `port`;
        False when it does not (15 s after the furl) or exits."""
        furl, node = d / "private/storage.furl", self.nodes[i]
        wait_until(f"Tahoe storage node py{i}", lambda: furl.exists() or not node.alive())
        deadline = time.monotonic() + 15
        while node.alive() and time.monotonic() < deadline:
            if listening_pid(node.pid, port):
                return True
            time.sleep(0.1)
        return False

    def tahoe(self, *args: str) -> list[str]:
        return [str(self.venv / "bin/tahoe"), *args]

    def run_node(self, nodedir: Path, log_path: Path) -> Daemon:
        # The shim keeps Tahoe's log port on 127.0.0.1 (shared/tahoe/README.md).
        return Daemon([self.python, str(self.shim), "run", "--allow-stdin-close", str(nodedir)],
                      log_path, cwd=self.shim.parent)

    def announcement(self, nd: Path, nick: str, port: int) -> str:
        furl = (nd / "private/storage.furl").read_text().strip()
        tubid = furl.removeprefix("pb://").split("@")[0]
        swissnum = furl.rsplit("/", 1)[1]
        pin = spki_pin(nd / "private/node.pem")
        server_id = (nd / "node.pubkey").read_text().strip().removeprefix("pub-")
        return (
            f"  {server_id}:\n    ann:\n      nickname: \"{nick}\"\n"
            f"      anonymous-storage-FURL: \"pb://{tubid}@tcp:127.0.0.1:{port}/{swissnum}\"\n"
            f"      anonymous-storage-NURLs:\n"
            f"        - \"pb://{pin}@127.0.0.1:{port}/{swissnum}#v=1\"\n"
        )

    def connected(self) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/?t=json", timeout=5) as r:
                servers = json.load(r).get("servers", [])
        except (OSError, ValueError):
            return 0
        return sum(1 for s in servers if s.get("connection_status") == "connected")

    def server_pids(self) -> list[int]:
        return [d.pid for d in self.nodes]

    def stop(self) -> None:
        for d in [self.client_node, *self.nodes]:
            d.stop()


def idle_cpu_cores(pids: list[int], seconds: float) -> float:
    """CPU cores the processes use while nobody asks anything of them."""
    c0, t0 = sum(proc_cpu(p) for p in pids), time.monotonic()
    time.sleep(seconds)
    return (sum(proc_cpu(p) for p in pids) - c0) / (time.monotonic() - t0)


# ---------------------------------------------------------------------------
# The copy tools over loopback.


class Sshd:
    """An sshd on a free loopback port that lets only a throwaway key in."""

    def __init__(self, work: Path):
        work.mkdir(parents=True)
        self.port = free_port()
        self.key = work / "user_key"
        run_ok(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / "host_key")])
        run_ok(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.key)])
        shutil.copy(work / "user_key.pub", work / "authorized_keys")
        sftp = next((p for p in ("/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server")
                     if Path(p).exists()), "internal-sftp")
        conf = work / "sshd_config"
        conf.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {work / 'host_key'}\n"
            f"PidFile {work / 'sshd.pid'}\nAuthorizedKeysFile {work / 'authorized_keys'}\n"
            "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nLogLevel ERROR\n"
            f"Subsystem sftp {sftp}\n"
        )
        if os.geteuid() == 0:
            # sshd refuses to start without its privilege-separation directory.
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        self.daemon = Daemon([sshd, "-D", "-e", "-f", str(conf)], work / "sshd.log")
        wait_until("sshd", lambda: port_open(self.port) or not self.daemon.alive(), 30)
        if not self.daemon.alive():
            raise RuntimeError(f"sshd exited: {(work / 'sshd.log').read_text()[-1000:]}")
        self.user = os.environ.get("USER") or subprocess.run(
            ["id", "-un"], capture_output=True, text=True).stdout.strip()
        # aes128-ctr: the cipher whose single-core speed `lafs bench limits`
        # measures (and the one Tahoe uses), so the fraction is meaningful.
        self.opts = [
            "-i", str(self.key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-c", "aes128-ctr",
        ]
        run_ok(["ssh", "-p", str(self.port), *self.opts, f"{self.user}@127.0.0.1", "true"])

    def ssh_command(self) -> str:
        return " ".join(["ssh", "-p", str(self.port), *self.opts])

    def stop(self) -> None:
        self.daemon.stop()


class RsyncDaemon:
    """`rsync --daemon` on a free loopback port with one writable module."""

    def __init__(self, work: Path, path: Path):
        work.mkdir(parents=True)
        self.port = free_port()
        conf = work / "rsyncd.conf"
        ids = "uid = root\ngid = root\n" if os.geteuid() == 0 else ""
        conf.write_text(
            f"port = {self.port}\naddress = 127.0.0.1\nuse chroot = no\npid file = {work}/pid\n"
            f"{ids}[bench]\n    path = {path}\n    read only = no\n"
        )
        self.daemon = Daemon(["rsync", "--daemon", "--no-detach", f"--config={conf}"],
                             work / "rsyncd.log")
        wait_until("rsync daemon", lambda: port_open(self.port) or not self.daemon.alive(), 30)
        if not self.daemon.alive():
            raise RuntimeError("rsync --daemon exited at start")

    def stop(self) -> None:
        self.daemon.stop()


# ---------------------------------------------------------------------------
# Figures: samples per (metric, side), aggregated into rows.

SIDES = ["lafs", "tahoe", "tar_nc", "rsync", "rsync_ssh", "scp"]
SIDE_LABEL = {"lafs": "lafs", "tahoe": "Tahoe 1.20", "tar_nc": "tar | nc", "rsync": "rsync (daemon)",
              "rsync_ssh": "rsync over ssh", "scp": "scp -r"}
# The limit that bounds each side's tree transfers (`lafs bench limits` keys).
TREE_BOUND = {
    ("lafs", "up"): "chk_upload_limit_mbps", ("lafs", "down"): "chk_download_limit_mbps",
    ("tahoe", "up"): "chk_upload_limit_mbps", ("tahoe", "down"): "chk_download_limit_mbps",
    ("tar_nc", "up"): "loopback_tcp_mbps", ("tar_nc", "down"): "loopback_tcp_mbps",
    ("rsync", "up"): "loopback_tcp_mbps", ("rsync", "down"): "loopback_tcp_mbps",
    ("rsync_ssh", "up"): "aes128_ctr_mbps", ("rsync_ssh", "down"): "aes128_ctr_mbps",
    ("scp", "up"): "aes128_ctr_mbps", ("scp", "down"): "aes128_ctr_mbps",
}


class Figures:
    """Every sample of every metric, per side ("lafs", "tahoe", a copy tool,
    or "machine" for the limits), in the order first seen; `rows` turns
    them into the report's rows (median, min, max, ratio, fraction of the
    bounding limit)."""

    def __init__(self):
        self.samples: dict[str, dict[str, list[float]]] = {}
        self.units: dict[str, str] = {}
        self.order: list[str] = []
        self.group: dict[str, str] = {}
        self.bound: dict[str, dict[str, str]] = {}

    def add(self, group: str, metric: str, side: str, value, unit: str) -> None:
        if metric not in self.samples:
            self.samples[metric] = {}
            self.order.append(metric)
            self.group[metric] = group
        self.units.setdefault(metric, unit)
        if value is not None:
            self.samples[metric].setdefault(side, []).append(float(value))
        else:
            self.samples[metric].setdefault(side, [])

    def add_sample(self, direction: str, side: str, s: Sample) -> None:
        f = s.figures()
        self.add("tree", f"tree_{direction}_s", side, f["s"], "s")
        self.add("tree", f"tree_{direction}_mbps", side, f["mbps"], "MB/s")
        self.add("tree", f"tree_{direction}_files_per_s", side, f["files_per_s"], "files/s")
        self.add("tree", f"client_peak_rss_tree_{direction}_mib", side, f["client_rss_mib"], "MiB")
        self.add("tree", f"server_peak_rss_tree_{direction}_mib", side, f["server_rss_mib"], "MiB")
        self.add("tree", f"cpu_s_per_100mib_tree_{direction}", side, f["cpu_s_per_100mib"], "s")
        self.bound.setdefault(f"tree_{direction}_mbps", {})[side] = TREE_BOUND[(side, direction)]

    def median(self, metric: str, side: str) -> float | None:
        v = self.samples.get(metric, {}).get(side) or []
        return statistics.median(v) if v else None

    def rows(self, limits: dict[str, float]) -> list[dict]:
        out = []
        for m in self.order:
            row: dict = {"metric": m, "group": self.group[m]}
            sides = self.samples[m]
            for side in ["lafs", "tahoe"] + [s for s in sides if s not in ("lafs", "tahoe", "machine")]:
                row[side] = rnd(self.median(m, side))
            if "machine" in sides:
                row["machine"] = rnd(self.median(m, "machine"))
            row["unit"] = self.units[m]
            lafs, tahoe = row.get("lafs"), row.get("tahoe")
            row["ratio"] = rnd(lafs / tahoe) if lafs is not None and tahoe else None
            for side, v in sides.items():
                if v:
                    row[f"{side}_min"], row[f"{side}_max"] = rnd(min(v)), rnd(max(v))
            row["runs"] = {side: len(v) for side, v in sides.items()}
            bounds = self.bound.get(m, {})
            if bounds:
                row["limit"] = bounds
                row["of_limit"] = {
                    side: rnd(row[side] / limits[b])
                    for side, b in bounds.items()
                    if row.get(side) is not None and limits.get(b)
                }
            out.append(row)
        return out


def rnd(x):
    """Four significant digits (one decimal from 1000 up): enough for
    figures that vary by more than that from run to run."""
    if x is None:
        return None
    return round(x, 1) if abs(x) >= 1000 else float(f"{x:.4g}")


# ---------------------------------------------------------------------------
# The workloads.


def measure_limits(lafs: str, runs: int, seconds: float, fig: Figures) -> dict[str, float]:
    for i in range(runs):
        log(f"limits: run {i + 1}/{runs}")
        v = json.loads(run_ok([lafs, "bench", "limits", "--json", "--seconds", str(seconds)]))
        for k, x in v.items():
            if k.endswith("_mbps"):
                fig.add("limits", k, "machine", x, "MB/s")
    return {m: fig.median(m, "machine") for m in fig.order if fig.group[m] == "limits"}


def has_verb(lafs: str, *verb: str) -> bool:
    r = subprocess.run([lafs, *verb, "--help"], capture_output=True, timeout=60)
    return r.returncode == 0


def run_grid(lafs: str, venv: str | None, quick: bool, runs: int, budget: float, work: Path,
             fig: Figures) -> None:
    """`lafs bench grid` (wip-perf, coord.md contract 4), `runs` times or
    until `budget` seconds would be exceeded."""
    if not has_verb(lafs, "bench", "grid"):
        note("`lafs bench grid` is not in this build: the grid workload rows are null")
        return
    work.mkdir(parents=True, exist_ok=True)
    t_start, durations = time.monotonic(), []
    for i in range(runs):
        spent = time.monotonic() - t_start
        if durations and spent + max(durations) > budget:
            note(f"lafs bench grid: {i} run(s) of {runs} fit the time budget")
            break
        log(f"grid: run {i + 1}/{runs}")
        out = work / f"grid-{i}.json"
        t = time.monotonic()
        cmd = [lafs, "bench", "grid", "--json", str(out)] + (["--quick"] if quick else [])
        cmd += ["--tahoe-venv", venv] if venv else ["--no-tahoe"]
        # The budget only decides whether another run starts; a run that
        # does not end within two hours is hung.
        r = Oneshot(cmd, work / f"grid-{i}.log").wait(7200)
        durations.append(time.monotonic() - t)
        if r.rc != 0 or not out.exists():
            lafs_failed(f"lafs bench grid run {i + 1} failed (exit {r.rc}); see {work}/grid-{i}.log")
            continue
        for row in json.loads(out.read_text()).get("rows", []):
            for side in ("lafs", "tahoe"):
                fig.add("grid", row["metric"], side, row.get(side), row.get("unit", ""))
    for m in fig.order:
        if fig.group[m] == "grid" and m.endswith("_mbps"):
            kind = "chk_download_limit_mbps" if "download" in m else "chk_upload_limit_mbps"
            if "upload" in m or "download" in m:
                fig.bound[m] = {"lafs": kind, "tahoe": kind}


def tree_copies(args, tree_of, runs: int, work: Path, fig: Figures) -> None:
    """The tree over loopback by tar | nc, rsync (daemon), rsync over ssh
    and scp -r: up (tree/ into the server's dest/) and back down (into a
    fresh directory), each verified. A tool that fails is noted and
    dropped; the others go on."""
    tools = work / "tools"
    dest = tools / "dest"
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    sshd = rsyncd = None
    try:
        sshd = Sshd(tools / "sshd")
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        note(f"sshd could not start ({e}); the scp and rsync-over-ssh rows are null")
    try:
        dest.mkdir(parents=True, exist_ok=True)
        rsyncd = RsyncDaemon(tools / "rsyncd", dest)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        note(f"rsync --daemon could not start ({e}); the rsync rows are null")

    # side -> (up(src) -> Sample, down(name, back) -> Sample)
    tools_up_down = {
        "tar_nc": (
            lambda src: tar_nc(src, dest, logs, "tar-up", client_sends=True),
            lambda name, back: tar_nc(dest / name, back, logs, "tar-down", client_sends=False),
        ),
    }
    if rsyncd:
        url = f"rsync://127.0.0.1:{rsyncd.port}/bench"
        rsync_pid = [rsyncd.daemon.pid]
        tools_up_down["rsync"] = (
            lambda src: transfer([["rsync", "-a", str(src), f"{url}/"]], rsync_pid, logs, "rsync-up",
                                 settle=0.3),
            lambda name, back: transfer([["rsync", "-a", f"{url}/{name}", f"{back}/"]], rsync_pid, logs,
                                        "rsync-down", settle=0.3),
        )
    if sshd:
        remote = f"{sshd.user}@127.0.0.1"
        ssh_pid = [sshd.daemon.pid]
        rsh = ["rsync", "-a", "-e", sshd.ssh_command()]
        scp = ["scp", "-r", "-q", "-P", str(sshd.port), *sshd.opts]
        tools_up_down["rsync_ssh"] = (
            lambda src: transfer([[*rsh, str(src), f"{remote}:{dest}/"]], ssh_pid, logs,
                                 "rsync-ssh-up", settle=0.3),
            lambda name, back: transfer([[*rsh, f"{remote}:{dest}/{name}", f"{back}/"]], ssh_pid,
                                        logs, "rsync-ssh-down", settle=0.3),
        )
        tools_up_down["scp"] = (
            lambda src: transfer([[*scp, str(src), f"{remote}:{dest}/"]], ssh_pid, logs, "scp-up",
                                 settle=0.3),
            lambda name, back: transfer([[*scp, f"{remote}:{dest}/{name}", f"{back}/"]], ssh_pid,
                                        logs, "scp-down", settle=0.3),
        )

    failed: set[str] = set()
    for i in range(runs):
        tree = tree_of(i)
        log(f"tools: run {i + 1}/{runs} ({tree.nfiles} files, {tree.nbytes / MIB:.0f} MiB)")
        for side, (up, down) in tools_up_down.items():
            if side in failed:
                continue
            back = work / "back" / side
            try:
                shutil.rmtree(dest, ignore_errors=True)
                dest.mkdir(parents=True)
                s_up = up(tree.root)
                tree.verify(dest / tree.root.name, f"{side} up")
                shutil.rmtree(back, ignore_errors=True)
                back.mkdir(parents=True)
                s_down = down(tree.root.name, back)
                tree.verify(back / tree.root.name, f"{side} down")
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                note(f"{SIDE_LABEL[side]} failed, its rows are dropped: {e}")
                failed.add(side)
                continue
            finally:
                shutil.rmtree(back, ignore_errors=True)
            s_up.set_tree(tree)
            s_down.set_tree(tree)
            fig.add_sample("up", side, s_up)
            fig.add_sample("down", side, s_down)
    shutil.rmtree(dest, ignore_errors=True)
    for d in (sshd, rsyncd):
        if d:
            d.stop()


def locate(back: Path, name: str) -> Path:
    """Where a fetched tree landed: `back/name`, or `back` itself when a
    tool copied the directory's contents rather than the directory."""
    return back / name if (back / name).is_dir() else back


def lafs_copies(args, tree_of, runs: int, budget: float, work: Path, fig: Figures) -> None:
    """`lafs cp -r` into the lafs grid and back, then the idle grid's CPU."""
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    if not has_verb(args.lafs, "cp"):
        note("`lafs cp` is not in this build: the lafs tree rows are null")
        return
    grid = None
    try:
        log("lafs grid: starting 10 storage nodes")
        grid = LafsGrid(args.lafs, work / "lafs-grid", 10)
        lafs = [args.lafs, "-d", str(grid.client)]
        run_ok([*lafs, "create-alias", "bench"])
        copy_runs(fig, "lafs", runs, budget, tree_of, work, logs, grid.server_pids(), [],
                  up=lambda src: [*lafs, "cp", "-r", str(src), "bench:"],
                  down=lambda name, back: [*lafs, "cp", "-r", f"bench:{name}", f"{back}/"])
        time.sleep(1)
        fig.add("grid", "idle_grid_cpu_cores", "lafs",
                idle_cpu_cores(grid.server_pids(), idle_seconds(args)), "cores")
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        lafs_failed(f"lafs cp -r failed: {e}")
    finally:
        if grid:
            grid.stop()
        shutil.rmtree(work / "lafs-grid", ignore_errors=True)


def tahoe_copies(args, tree_of, runs: int, budget: float, work: Path, fig: Figures) -> None:
    """`tahoe cp -r` into the Tahoe grid and back, then the idle grid's CPU
    (storage nodes and the client node, which polls every server)."""
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    if not args.tahoe_venv:
        note("no Tahoe 1.20 venv: the Tahoe tree rows are null")
        return
    grid = None
    try:
        log("Tahoe grid: starting 10 storage nodes and a client node")
        grid = TahoeGrid(Path(args.tahoe_venv), Path(args.shim), work / "tahoe-grid", 10)
        tahoe = grid.tahoe("-d", str(grid.client))
        run_ok([*tahoe, "create-alias", "bench"])
        copy_runs(fig, "tahoe", runs, budget, tree_of, work, logs, grid.server_pids(),
                  [grid.client_node.pid],
                  up=lambda src: [*tahoe, "cp", "-r", str(src), "bench:"],
                  down=lambda name, back: [*tahoe, "cp", "-r", f"bench:{name}", f"{back}/"])
        time.sleep(1)
        pids = grid.server_pids() + [grid.client_node.pid]
        fig.add("grid", "idle_grid_cpu_cores", "tahoe", idle_cpu_cores(pids, idle_seconds(args)),
                "cores")
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        note(f"tahoe cp -r failed: {e}")
    finally:
        if grid:
            grid.stop()
        shutil.rmtree(work / "tahoe-grid", ignore_errors=True)


def idle_seconds(args) -> float:
    return 2.0 if args.quick else 10.0


def copy_runs(fig, side, runs, budget, tree_of, work, logs, servers, client_daemons, up, down):
    """`runs` round trips of the tree through one grid, fewer when the
    next one would overrun `budget` seconds."""
    t_start, durations = time.monotonic(), []
    for i in range(runs):
        if durations and time.monotonic() - t_start + max(durations) > budget:
            note(f"{side} cp -r: {i} run(s) of {runs} fit the time budget")
            break
        t = time.monotonic()
        tree = tree_of(i)
        log(f"{side} cp -r: run {i + 1}/{runs}")
        s_up = transfer([up(tree.root)], servers, logs, f"{side}-cp-up", client_daemons)
        back = work / "back" / side
        shutil.rmtree(back, ignore_errors=True)
        back.mkdir(parents=True)
        s_down = transfer([down(tree.root.name, back)], servers, logs, f"{side}-cp-down",
                          client_daemons)
        tree.verify(locate(back, tree.root.name), f"{side} cp -r down")
        for direction, s in (("up", s_up), ("down", s_down)):
            s.set_tree(tree)
            fig.add_sample(direction, side, s)
        shutil.rmtree(back)
        durations.append(time.monotonic() - t)


# ---------------------------------------------------------------------------
# The report.

# The rows every report has (issue 8), null when their workload did not run.
REQUIRED = [
    ("upload_100mib_mbps", "MB/s"), ("download_100mib_mbps", "MB/s"),
    ("small_1kib_files_per_s", "files/s"), ("add_child_ms", "ms"),
    ("list_200_children_s", "s"), ("mutable_create_1mib_s", "s"),
    ("client_peak_rss_upload_mib", "MiB"), ("cpu_s_per_100mib_upload", "s"),
    ("idle_grid_cpu_cores", "cores"),
]


def fmt(x) -> str:
    if x is None:
        return "–"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}" if abs(x) >= 0.1 else f"{x:.2g}"


def cell(row: dict, side: str) -> str:
    if row.get(side) is None:
        return "–"
    lo, hi = row.get(f"{side}_min"), row.get(f"{side}_max")
    if lo is None or lo == hi:
        return fmt(row[side])
    return f"{fmt(row[side])} ({fmt(lo)}–{fmt(hi)})"


def markdown(rows: list[dict], meta: dict) -> str:
    out = [f"## lafs benchmark ({meta['mode']}, {meta['date']})", ""]
    out.append(f"Machine: {meta['cpu']}, {meta['cores']} cores, load average "
               f"{meta['load']} at start. Median of the runs, (min–max) when they differ.")
    out.append("")

    out += ["### Machine limits (one core)", "", "| limit | MB/s |", "|---|---|"]
    for r in rows:
        if r["group"] == "limits":
            out.append(f"| {r['metric']} | {cell(r, 'machine')} |")

    out += ["", "### lafs vs Tahoe-LAFS 1.20 (10 servers, 3-of-10, happy 7, HTTPS)", "",
            "| metric | unit | lafs | Tahoe 1.20 | lafs/Tahoe | lafs of limit | Tahoe of limit |",
            "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["group"] == "grid":
            of = r.get("of_limit", {})
            out.append(
                f"| {r['metric']} | {r['unit']} | {cell(r, 'lafs')} | {cell(r, 'tahoe')} | "
                f"{fmt(r['ratio'])} | {pct(of.get('lafs'))} | {pct(of.get('tahoe'))} |"
            )

    tree = meta.get("tree")
    if tree:
        out += ["", f"### A tree of {tree['files']} files ({tree['mib']:.0f} MiB, mixed sizes) "
                "into each grid and back, and over loopback", "",
                "| metric | unit | " + " | ".join(SIDE_LABEL[s].replace("|", "\\|") for s in SIDES)
                + " | lafs/Tahoe |",
                "|---|---|" + "---|" * (len(SIDES) + 1)]
        for r in rows:
            if r["group"] == "tree":
                out.append(f"| {r['metric']} | {r['unit']} | "
                           + " | ".join(cell(r, s) for s in SIDES) + f" | {fmt(r['ratio'])} |")
                if "of_limit" in r:
                    out.append(f"| {r['metric']} of limit | | "
                               + " | ".join(pct(r["of_limit"].get(s)) for s in SIDES) + " | |")
        out += ["", "Limits: lafs and Tahoe against the one-core CHK pipeline "
                "(chk_upload/download_limit_mbps), tar \\| nc and rsync against loopback TCP, "
                "scp and rsync over ssh (cipher aes128-ctr) against AES-128-CTR. "
                "Client RSS for Tahoe is the `tahoe cp` process plus the client node."]
    if meta["notes"]:
        out += ["", "Notes:"] + [f"- {n}" for n in meta["notes"]]
    return "\n".join(out) + "\n"


def pct(x) -> str:
    if x is None:
        return "–"
    return f"{100 * x:.0f}%" if x >= 0.1 else f"{100 * x:.2g}%"


def machine() -> dict:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "load": " ".join(f"{x:.1f}" for x in os.getloadavg())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lafs", required=True, help="the release lafs binary")
    ap.add_argument("--tahoe-venv", help="Tahoe 1.20 venv (Tahoe rows are null without it)")
    ap.add_argument("--shim", required=True, help="shared/tahoe/tahoe_loopback.py")
    ap.add_argument("--quick", action="store_true", help="a smoke run of under 3 minutes")
    ap.add_argument("--json", help="also write the rows to this file")
    ap.add_argument("--runs", type=int, help="runs per workload (default 3, 1 with --quick)")
    ap.add_argument("--work", required=True, help="scratch directory (emptied first)")
    ap.add_argument("--only", default="limits,tools,lafs-cp,grid,tahoe-cp",
                    help="comma-separated parts to run (default: all of "
                    "limits,tools,lafs-cp,grid,tahoe-cp)")
    args = ap.parse_args()
    # SIGTERM unwinds like an error: every grid and daemon is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Nodes run from the shim's directory: every path must be absolute.
    args.lafs = str(Path(args.lafs).resolve())
    args.shim = str(Path(args.shim).resolve())
    if args.tahoe_venv:
        args.tahoe_venv = str(Path(args.tahoe_venv).resolve())
    parts = set(args.only.split(","))
    runs = args.runs or (1 if args.quick else 3)
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    meta = {"mode": "quick" if args.quick else "full", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            **machine()}
    t0 = time.monotonic()
    fig = Figures()

    limits = {}
    if "limits" in parts:
        limits = measure_limits(args.lafs, 3, 0.2 if args.quick else 1.0, fig)

    # The tree: about 200 MiB in 1,000 files; 3 MiB in 30 with --quick
    # (Tahoe spends most of a second of CPU on each file).
    nfiles, total = (30, 3 * MIB) if args.quick else (1000, 200 * MIB)
    trees: dict[int, Tree] = {}

    def tree_of(i: int) -> Tree:
        if i not in trees:
            for old in list(trees):
                shutil.rmtree(trees.pop(old).root.parent)
            trees[i] = Tree(work / "src" / f"run{i}" / f"tree{i}", nfiles, total)
        return trees[i]

    def emit(final: bool) -> None:
        """Write the JSON (and the tables beside it) now, so that a run
        stopped half-way still leaves what it measured; print at the end."""
        if trees:
            meta["tree"] = {"files": nfiles, "mib": next(iter(trees.values())).nbytes / MIB}
        for m, unit in REQUIRED if final else []:
            if m not in fig.samples:
                fig.add("grid", m, "lafs", None, unit)
        rows = fig.rows(limits)
        meta["notes"] = NOTES
        meta["lafs_failures"] = LAFS_FAILURES
        meta["seconds"] = round(time.monotonic() - t0)
        meta["complete"] = final
        report = markdown(rows, meta) + f"\nTotal time: {meta['seconds']} s.\n"
        if args.json:
            Path(args.json).write_text(json.dumps({"rows": rows, "limits": limits, "meta": meta},
                                                  indent=1) + "\n")
            Path(args.json).with_suffix(".md").write_text(report)
        if final:
            print(report)
            if args.json:
                log(f"wrote {args.json} and {Path(args.json).with_suffix('.md')}")

    if "tools" in parts:
        tree_copies(args, tree_of, runs, work, fig)
        emit(False)
    if "lafs-cp" in parts:
        lafs_copies(args, tree_of, runs, 90 if args.quick else 300, work, fig)
        emit(False)
    if "grid" in parts:
        run_grid(args.lafs, args.tahoe_venv, args.quick, runs, 150 if args.quick else 540,
                 work / "grid", fig)
        emit(False)
    if "tahoe-cp" in parts:
        # Tahoe copies small files slowly (about 7 per second; one round
        # trip of the 200 MiB tree takes about 3 minutes here): fewer runs
        # when the budget says so, never fewer than one. Last, so that a
        # run stopped early on a slow machine has the rest. The budget keeps
        # the full run inside 20 minutes.
        tahoe_copies(args, tree_of, runs, 90 if args.quick else 180, work, fig)
    emit(True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
