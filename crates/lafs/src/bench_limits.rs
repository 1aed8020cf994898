//! `lafs bench limits`: the machine's own ceilings, measured in the same run
//! as the grid benchmarks so that every throughput can be stated as a
//! fraction of the limit that bounds it (issue 8, `scripts/bench`).
//!
//! One thread each, MB/s (10^6 bytes) per CPU-second of that thread (the
//! same clock as `lafs bench fec`, so other processes on a shared machine do
//! not count against us):
//!
//! - `aes128_ctr_mbps`: [`lafs_format::aes::AesCtr`] over 1 MiB buffers;
//! - `sha256_mbps`: [`lafs_format::hash::sha256`] over 1 MiB buffers;
//! - `fec_encode_3of10_mbps` / `fec_decode_3of10_mbps`: lafs-fec on Tahoe's
//!   default 3-of-10 code, 1 MiB segments (the `lafs bench fec` workload).
//!
//! Two derived figures are what one core could do if it did nothing but the
//! cryptography and coding of a CHK file, summing the time per plaintext
//! byte of each pass the lafs encoder and decoder make (see
//! `lafs_format::chk::{encode, decode}`):
//!
//! - upload: AES once, SHA-256 over the plaintext (convergent key), over the
//!   ciphertext twice (the flat crypttext hash and the segment hashes of the
//!   crypttext tree) and over every block (N/k bytes per plaintext byte),
//!   plus one FEC encode: `1/aes + (3 + N/k)/sha + 1/fec_encode`;
//! - download: AES once, SHA-256 over the ciphertext twice and over k
//!   blocks (one byte per plaintext byte), one FEC decode:
//!   `1/aes + 3/sha + 1/fec_decode`.
//!
//! A pipelined client on several cores can beat these; they are the
//! single-core yardstick, not a hard ceiling. `loopback_tcp_mbps` (one
//! writer and one reader thread over 127.0.0.1, wall clock) bounds the plain
//! copy tools (`tar | nc`, rsync) that do no cryptography.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use lafs_fec::Kernel;
use serde_json::{json, Value};

use crate::bench::{measure, rate, thread_cpu_time, WORKLOADS};

/// Options of `lafs bench limits`.
#[derive(Debug, Args)]
pub struct LimitsArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Seconds spent on each measurement.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
}

/// Bytes per call of the AES and SHA-256 measurements: one Tahoe-sized
/// segment buffer, large enough that per-call overhead vanishes.
const BUF: usize = 1 << 20;

/// What one run measured.
#[derive(Debug, Clone, Copy)]
struct Limits {
    aes: f64,
    sha: f64,
    fec_encode: f64,
    fec_decode: f64,
    loopback_tcp: f64,
}

impl Limits {
    /// Single-core CHK upload limit for a k-of-n code (module docs).
    fn chk_upload(&self, k: usize, n: usize) -> f64 {
        let sha_passes = 3.0 + n as f64 / k as f64;
        harmonic(&[
            (1.0, self.aes),
            (sha_passes, self.sha),
            (1.0, self.fec_encode),
        ])
    }

    /// Single-core CHK download limit (module docs).
    fn chk_download(&self) -> f64 {
        harmonic(&[(1.0, self.aes), (3.0, self.sha), (1.0, self.fec_decode)])
    }
}

/// The rate of a pipeline that runs each `(passes, rate)` stage in turn on
/// one core: 1 / Σ passes/rate. Zero when any rate is not positive.
fn harmonic(stages: &[(f64, f64)]) -> f64 {
    if stages.iter().any(|&(_, r)| r <= 0.0) {
        return 0.0;
    }
    1.0 / stages.iter().map(|&(p, r)| p / r).sum::<f64>()
}

/// Deterministic non-constant bytes (xorshift), so that nothing downstream
/// can take a shortcut on zeros.
fn noise(len: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn aes(seconds: f64) -> Result<f64> {
    let mut buf = noise(BUF);
    let mut ctr = lafs_format::aes::AesCtr::new(&[7u8; 16]);
    rate(seconds, BUF, || {
        ctr.apply(&mut buf);
        Ok(())
    })
}

fn sha(seconds: f64) -> Result<f64> {
    let buf = noise(BUF);
    let mut sink = 0u8;
    let r = rate(seconds, BUF, || {
        // Feed each digest back so the work cannot be optimised away.
        sink ^= lafs_format::hash::sha256(&buf)[0];
        Ok(())
    })?;
    std::hint::black_box(sink);
    Ok(r)
}

/// One writer thread streams 1 MiB writes to one reader thread over
/// 127.0.0.1 for `seconds` of wall time; MB/s received.
fn loopback_tcp(seconds: f64) -> Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let budget = Duration::from_secs_f64(seconds.max(0.01));
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut s = TcpStream::connect(addr)?;
        let buf = noise(BUF);
        let start = Instant::now();
        while start.elapsed() < budget {
            s.write_all(&buf)?;
        }
        Ok(())
    });
    let (mut conn, _) = listener.accept().context("accepting the writer")?;
    let mut buf = vec![0u8; BUF];
    let mut got = 0u64;
    let start = Instant::now();
    loop {
        let n = conn.read(&mut buf).context("reading from the writer")?;
        if n == 0 {
            break;
        }
        got += n as u64;
    }
    let elapsed = start.elapsed().as_secs_f64();
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("loopback writer thread panicked"))?
        .context("loopback writer")?;
    Ok(got as f64 / elapsed / 1e6)
}

fn measure_all(seconds: f64) -> Result<Limits> {
    let w = &WORKLOADS[0];
    let fec = measure(w, Kernel::active(), seconds)?;
    Ok(Limits {
        aes: aes(seconds)?,
        sha: sha(seconds)?,
        fec_encode: fec.encode,
        fec_decode: fec.decode,
        loopback_tcp: loopback_tcp(seconds)?,
    })
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The `--json` object (keys documented in the module docs).
fn report(l: &Limits) -> Value {
    let w = &WORKLOADS[0];
    json!({
        "aes128_ctr_mbps": round1(l.aes),
        "sha256_mbps": round1(l.sha),
        "fec_encode_3of10_mbps": round1(l.fec_encode),
        "fec_decode_3of10_mbps": round1(l.fec_decode),
        "chk_upload_limit_mbps": round1(l.chk_upload(w.k, w.n)),
        "chk_download_limit_mbps": round1(l.chk_download()),
        "loopback_tcp_mbps": round1(l.loopback_tcp),
        "fec_kernel": Kernel::active().name(),
        "timing": if thread_cpu_time().is_some() { "thread-cpu" } else { "wall" },
    })
}

/// Run `lafs bench limits`.
pub fn run(args: LimitsArgs) -> Result<()> {
    let l = measure_all(args.seconds)?;
    let v = report(&l);
    if args.json {
        println!("{v}");
        return Ok(());
    }
    println!("lafs bench limits: one core, MB/s (10^6 B) per CPU-second");
    let rows = [
        ("AES-128-CTR", "aes128_ctr_mbps"),
        ("SHA-256", "sha256_mbps"),
        ("lafs-fec encode 3-of-10", "fec_encode_3of10_mbps"),
        ("lafs-fec decode 3-of-10", "fec_decode_3of10_mbps"),
        ("CHK upload, one core", "chk_upload_limit_mbps"),
        ("CHK download, one core", "chk_download_limit_mbps"),
        ("loopback TCP (2 threads, wall)", "loopback_tcp_mbps"),
    ];
    for (label, key) in rows {
        println!("{label:<32} {:>10.1}", v[key].as_f64().unwrap_or(0.0));
    }
    println!("fec kernel: {}", Kernel::active().name());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_has_every_key_and_positive_rates() {
        let l = measure_all(0.0).expect("measure");
        let v = report(&l);
        for key in [
            "aes128_ctr_mbps",
            "sha256_mbps",
            "fec_encode_3of10_mbps",
            "fec_decode_3of10_mbps",
            "chk_upload_limit_mbps",
            "chk_download_limit_mbps",
            "loopback_tcp_mbps",
        ] {
            assert!(v[key].as_f64().is_some_and(|x| x > 0.0), "{key} in {v}");
        }
    }

    #[test]
    fn pipeline_limit_sums_time_per_byte() {
        let l = Limits {
            aes: 1000.0,
            sha: 1000.0,
            fec_encode: 1000.0,
            fec_decode: 1000.0,
            loopback_tcp: 1.0,
        };
        // 3-of-9: 1 + (3 + 3) + 1 = 8 passes at 1000 MB/s.
        assert!((l.chk_upload(3, 9) - 125.0).abs() < 1e-9);
        // 1 + 3 + 1 = 5 passes.
        assert!((l.chk_download() - 200.0).abs() < 1e-9);
        assert_eq!(harmonic(&[(1.0, 0.0)]), 0.0);
    }
}
