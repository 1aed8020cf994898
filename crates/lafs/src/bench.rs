//! `lafs bench`: throughput measurements against the reference
//! implementations, in the same run so the ratios are fair.
//!
//! `lafs bench fec` times single-threaded erasure coding (lafs-fec) on two
//! workloads — Tahoe's default k=3/N=10 on 1 MiB segments, and the widest
//! usual code k=101/N=256 on 1 MiB segments — and runs the same workload
//! through Python zfec 1.6 (the library Tahoe uses). Python zfec runs in a
//! virtualenv under `target/` that `scripts/bench-venv` creates on first use.
//!
//! Figures are MB/s (10^6 bytes) of *input*: the k primary blocks for encode,
//! the k recovered blocks for decode. Encode computes the N−k secondary
//! blocks into preallocated 64-byte aligned buffers. Decode uses a realistic
//! erasure pattern: the first ⌈k/2⌉ primary shares are lost (see
//! `Workload::decode_shares`), so secondary shares must be combined, and the
//! surviving primaries are copied. A second decode figure ("worst") starts
//! from the last k shares, so every block is computed from secondaries.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use lafs_fec::{AlignedBuf, Codec, Kernel};
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// `lafs bench …`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Erasure-code encode/decode throughput vs Python zfec 1.6.
    Fec(FecArgs),
    /// The machine's single-core limits: AES-128-CTR, SHA-256, lafs-fec.
    Limits(crate::bench_limits::LimitsArgs),
    #[command(flatten)]
    Storage(crate::bench_storage::BenchCommand),
    /// lafs vs Tahoe 1.20 on two 10-server grids on loopback: upload,
    /// download, small files, directories, mutable files, RSS, CPU.
    Grid(crate::bench_grid::GridArgs),
}

/// Options of `lafs bench fec`.
#[derive(Debug, Args)]
pub struct FecArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Kernel to measure (default: $LAFS_FEC_KERNEL, else the fastest).
    #[arg(long)]
    kernel: Option<String>,
    /// Measure every kernel this CPU runs (the headline keys refer to the
    /// fastest).
    #[arg(long)]
    all_kernels: bool,
    /// Skip Python zfec.
    #[arg(long)]
    no_zfec: bool,
    /// Seconds spent on each measurement.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
}

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Fec(args) => fec(args),
        BenchCommand::Limits(args) => crate::bench_limits::run(args),
        BenchCommand::Storage(cmd) => crate::bench_storage::run(cmd),
        BenchCommand::Grid(args) => crate::bench_grid::run(args),
    }
}

/// One benchmark shape.
pub(crate) struct Workload {
    key: &'static str,
    pub(crate) k: usize,
    pub(crate) n: usize,
    segment: usize,
}

pub(crate) const WORKLOADS: [Workload; 2] = [
    Workload {
        key: "k3_n10",
        k: 3,
        n: 10,
        segment: 1 << 20,
    },
    Workload {
        key: "k101_n256",
        k: 101,
        n: 256,
        segment: 1 << 20,
    },
];

impl Workload {
    /// Bytes per block: Tahoe pads the segment to a multiple of k.
    fn block(&self) -> usize {
        self.segment.div_ceil(self.k)
    }

    /// Input bytes per call.
    fn input_bytes(&self) -> usize {
        self.block() * self.k
    }

    /// The shares decode starts from: primaries `0..⌈k/2⌉` are lost and
    /// replaced by the first secondaries, so about half of the output is
    /// computed from a mix of primary and secondary shares (for 3-of-10:
    /// shares 2, 3, 4, recovering blocks 0 and 1).
    fn decode_shares(&self) -> Vec<usize> {
        let lost = self.k.div_ceil(2).min(self.n - self.k);
        (lost..lost + self.k).collect()
    }

    /// The worst case: the last k shares, as many secondaries as possible
    /// (for 3-of-10: shares 7, 8, 9, recovering every block).
    fn worst_shares(&self) -> Vec<usize> {
        (self.n - self.k..self.n).collect()
    }

    fn label(&self) -> String {
        format!("k={} N={} {} KiB", self.k, self.n, self.segment / 1024)
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Rates {
    pub(crate) encode: f64,
    /// From [`Workload::decode_shares`].
    pub(crate) decode: f64,
    /// From [`Workload::worst_shares`].
    pub(crate) decode_worst: f64,
}

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (Linux),
/// or `None` where that is unavailable.
pub(crate) fn thread_cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Call `f` (after one warm-up call) until `seconds` of wall time have
/// passed and at least three calls were made; return MB/s for `bytes` per
/// call. The rate is per second of this thread's CPU time when the OS tells
/// it (so other processes on a shared machine do not count against us), else
/// per wall-clock second. `zfec-bench.py` measures the same way.
pub(crate) fn rate(seconds: f64, bytes: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?;
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let cpu_start = thread_cpu_time();
    let mut calls = 0u64;
    loop {
        f()?;
        calls += 1;
        let elapsed = start.elapsed();
        if elapsed >= budget && calls >= 3 {
            let spent = match (cpu_start, thread_cpu_time()) {
                (Some(a), Some(b)) if b > a => b - a,
                _ => elapsed,
            };
            return Ok(calls as f64 * bytes as f64 / spent.as_secs_f64() / 1e6);
        }
    }
}

/// Time lafs-fec with `kernel` on `w`.
pub(crate) fn measure(w: &Workload, kernel: Kernel, seconds: f64) -> Result<Rates> {
    let codec = Codec::with_kernel(w.k, w.n, kernel)?;
    let bs = w.block();
    // Pseudo-random input (xorshift) in aligned buffers, as a real
    // uploader would keep them.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let inputs: Vec<AlignedBuf> = (0..w.k)
        .map(|_| {
            let mut b = AlignedBuf::new(bs);
            for byte in b.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *byte = x as u8;
            }
            b
        })
        .collect();
    let ins: Vec<&[u8]> = inputs.iter().map(|b| &b[..]).collect();
    let mut secondary: Vec<AlignedBuf> = (w.k..w.n).map(|_| AlignedBuf::new(bs)).collect();

    let encode = {
        let mut outs: Vec<&mut [u8]> = secondary.iter_mut().map(|b| &mut b[..]).collect();
        rate(seconds, w.input_bytes(), || {
            codec.encode(&ins, &mut outs)?;
            Ok(())
        })?
    };

    let mut decoded: Vec<AlignedBuf> = (0..w.k).map(|_| AlignedBuf::new(bs)).collect();
    let mut decode_from = |shnums: Vec<usize>| -> Result<f64> {
        let shares: Vec<(usize, &[u8])> = shnums
            .into_iter()
            .map(|s| {
                let block: &[u8] = if s < w.k { ins[s] } else { &secondary[s - w.k] };
                (s, block)
            })
            .collect();
        let mut outs: Vec<&mut [u8]> = decoded.iter_mut().map(|b| &mut b[..]).collect();
        let r = rate(seconds, w.input_bytes(), || {
            codec.decode(&shares, &mut outs)?;
            Ok(())
        })?;
        if decoded.iter().zip(&inputs).any(|(d, i)| d != i) {
            bail!("{} decode with kernel {kernel} gave wrong bytes", w.label());
        }
        Ok(r)
    };
    let decode = decode_from(w.decode_shares())?;
    let decode_worst = decode_from(w.worst_shares())?;
    Ok(Rates {
        encode,
        decode,
        decode_worst,
    })
}

/// `scripts/` of the source tree this binary was built from, or
/// `$LAFS_SCRIPTS_DIR`.
fn scripts_dir() -> PathBuf {
    match std::env::var_os("LAFS_SCRIPTS_DIR") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts")),
    }
}

/// Create the zfec virtualenv if needed and return its python.
fn zfec_python() -> Result<PathBuf> {
    let script = scripts_dir().join("bench-venv");
    let out = Command::new(&script)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed; run it by hand to see why (it needs python3 and PyPI)",
            script.display()
        );
    }
    let path = String::from_utf8(out.stdout).context("venv path is not UTF-8")?;
    Ok(PathBuf::from(path.trim()))
}

/// Time Python zfec on `w`.
fn measure_zfec(python: &PathBuf, w: &Workload, seconds: f64) -> Result<Rates> {
    let list = |s: Vec<usize>| {
        s.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let out = Command::new(python)
        .arg(scripts_dir().join("zfec-bench.py"))
        .args([
            w.k.to_string(),
            w.n.to_string(),
            w.block().to_string(),
            seconds.to_string(),
            list(w.decode_shares()),
            list(w.worst_shares()),
        ])
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running zfec-bench.py")?;
    if !out.status.success() {
        bail!("zfec-bench.py failed");
    }
    let v: Value = serde_json::from_slice(&out.stdout).context("zfec-bench.py output")?;
    let get = |k: &str| {
        v[k].as_f64()
            .with_context(|| format!("zfec-bench.py: no {k}"))
    };
    Ok(Rates {
        encode: get("encode_mbps")?,
        decode: get("decode_mbps")?,
        decode_worst: get("decode_worst_mbps")?,
    })
}

fn fec(args: FecArgs) -> Result<()> {
    let kernels: Vec<Kernel> = if args.all_kernels {
        Kernel::available()
    } else if let Some(name) = &args.kernel {
        let k = Kernel::from_name(name).with_context(|| format!("unknown kernel {name}"))?;
        if !k.is_available() {
            bail!("kernel {k} does not run on this CPU");
        }
        vec![k]
    } else {
        vec![Kernel::active()]
    };
    let headline = kernels.first().copied().unwrap_or(Kernel::Scalar);

    // ours[kernel][workload]
    let mut ours: Vec<Vec<Rates>> = Vec::new();
    for &kernel in &kernels {
        let mut per = Vec::new();
        for w in &WORKLOADS {
            per.push(measure(w, kernel, args.seconds)?);
        }
        ours.push(per);
    }
    let zfec: Option<Vec<Rates>> = if args.no_zfec {
        None
    } else {
        match zfec_python() {
            Ok(py) => WORKLOADS
                .iter()
                .map(|w| measure_zfec(&py, w, args.seconds))
                .collect::<Result<Vec<_>>>()
                .map_err(|e| eprintln!("lafs bench fec: Python zfec not measured: {e:#}"))
                .ok(),
            Err(e) => {
                eprintln!("lafs bench fec: Python zfec not measured: {e:#}");
                None
            }
        }
    };

    if args.json {
        println!(
            "{}",
            json_report(headline, &kernels, &ours, zfec.as_deref())
        );
    } else {
        print_table(&kernels, &ours, zfec.as_deref());
    }
    Ok(())
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The keys of one kernel's figures: `encode_mbps`, … for k=3/N=10 and the
/// same with a `_k101_n256` suffix.
fn figures(rates: &[Rates], zfec: Option<&[Rates]>, out: &mut Map<String, Value>) {
    for (i, (w, r)) in WORKLOADS.iter().zip(rates).enumerate() {
        let suffix = if i == 0 {
            String::new()
        } else {
            format!("_{}", w.key)
        };
        out.insert(format!("encode_mbps{suffix}"), json!(round1(r.encode)));
        out.insert(format!("decode_mbps{suffix}"), json!(round1(r.decode)));
        out.insert(
            format!("decode_worst_mbps{suffix}"),
            json!(round1(r.decode_worst)),
        );
        if let Some(z) = zfec.and_then(|z| z.get(i)) {
            out.insert(
                format!("encode_ratio{suffix}"),
                json!(round1(ratio(r.encode, z.encode))),
            );
            out.insert(
                format!("decode_ratio{suffix}"),
                json!(round1(ratio(r.decode, z.decode))),
            );
            out.insert(
                format!("decode_worst_ratio{suffix}"),
                json!(round1(ratio(r.decode_worst, z.decode_worst))),
            );
        }
    }
}

/// The `--json` report: the headline kernel's k=3/N=10 figures under the
/// keys `encode_mbps`, `decode_mbps`, `zfec_encode_mbps`,
/// `zfec_decode_mbps` (null when zfec was not measured), `kernel`; the
/// k=101/N=256 figures under the same keys suffixed `_k101_n256`; and with
/// several kernels, every kernel's figures under `kernels`.
fn json_report(
    headline: Kernel,
    kernels: &[Kernel],
    ours: &[Vec<Rates>],
    zfec: Option<&[Rates]>,
) -> Value {
    let mut top = Map::new();
    top.insert("kernel".into(), json!(headline.name()));
    top.insert(
        "timing".into(),
        json!(if thread_cpu_time().is_some() {
            "thread-cpu"
        } else {
            "wall"
        }),
    );
    if let Some(first) = ours.first() {
        figures(first, zfec, &mut top);
    }
    for (i, w) in WORKLOADS.iter().enumerate() {
        let suffix = if i == 0 {
            String::new()
        } else {
            format!("_{}", w.key)
        };
        let z = zfec.and_then(|z| z.get(i));
        top.insert(
            format!("zfec_encode_mbps{suffix}"),
            z.map_or(Value::Null, |z| json!(round1(z.encode))),
        );
        top.insert(
            format!("zfec_decode_mbps{suffix}"),
            z.map_or(Value::Null, |z| json!(round1(z.decode))),
        );
        top.insert(
            format!("zfec_decode_worst_mbps{suffix}"),
            z.map_or(Value::Null, |z| json!(round1(z.decode_worst))),
        );
    }
    top.insert(
        "workloads".into(),
        json!(WORKLOADS
            .iter()
            .map(|w| json!({
                "key": w.key, "k": w.k, "n": w.n, "segment_bytes": w.segment,
                "block_bytes": w.block(), "decode_shares": w.decode_shares(),
                "decode_worst_shares": w.worst_shares(),
            }))
            .collect::<Vec<_>>()),
    );
    if kernels.len() > 1 {
        let mut all = Map::new();
        for (k, r) in kernels.iter().zip(ours) {
            let mut m = Map::new();
            figures(r, zfec, &mut m);
            all.insert(k.name().into(), Value::Object(m));
        }
        top.insert("kernels".into(), Value::Object(all));
    }
    Value::Object(top)
}

fn print_table(kernels: &[Kernel], ours: &[Vec<Rates>], zfec: Option<&[Rates]>) {
    println!(
        "lafs bench fec: one thread, MB/s (10^6 B) of input per CPU-second; \
         ×zfec = ratio to Python zfec in this run"
    );
    println!(
        "{:<22} {:<12} {:>8} {:>6} {:>8} {:>6} {:>8} {:>6}",
        "workload", "kernel", "encode", "×zfec", "decode", "×zfec", "worst", "×zfec"
    );
    let cell = |ours: f64, z: Option<f64>| match z {
        Some(z) => format!("{ours:>8.0} {:>6.1}", ratio(ours, z)),
        None => format!("{ours:>8.0} {:>6}", "-"),
    };
    for (i, w) in WORKLOADS.iter().enumerate() {
        let z = zfec.and_then(|z| z.get(i));
        for (k, r) in kernels.iter().zip(ours) {
            let r = r[i];
            println!(
                "{:<22} {:<12} {} {} {}",
                w.label(),
                k.name(),
                cell(r.encode, z.map(|z| z.encode)),
                cell(r.decode, z.map(|z| z.decode)),
                cell(r.decode_worst, z.map(|z| z.decode_worst)),
            );
        }
        match z {
            Some(z) => println!(
                "{:<22} {:<12} {:>8.0} {:>6} {:>8.0} {:>6} {:>8.0}",
                w.label(),
                "zfec 1.6",
                z.encode,
                "",
                z.decode,
                "",
                z.decode_worst
            ),
            None => println!("{:<22} {:<12} (not measured)", w.label(), "zfec 1.6"),
        }
        println!(
            "{:<22} decode from shares {}, worst from {}",
            "",
            short(&w.decode_shares()),
            short(&w.worst_shares())
        );
    }
}

/// `[2, 3, 4]`, or `50..151` for a long run.
fn short(s: &[usize]) -> String {
    match (s.first(), s.last()) {
        (Some(a), Some(b)) if s.len() > 6 => format!("{a}..={b}"),
        _ => format!("{s:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_report_has_the_documented_keys() {
        let w = Workload {
            key: "small",
            k: 3,
            n: 10,
            segment: 3000,
        };
        let r = measure(&w, Kernel::active(), 0.0).expect("measure");
        assert!(r.encode > 0.0 && r.decode > 0.0);
        let ours = vec![vec![r, r]; 2];
        let zfec = [Rates {
            encode: 1.0,
            decode: 2.0,
            decode_worst: 3.0,
        }; 2];
        let kernels = [Kernel::active(), Kernel::Scalar];
        let v = json_report(kernels[0], &kernels, &ours, Some(&zfec));
        for key in [
            "encode_mbps",
            "decode_mbps",
            "zfec_encode_mbps",
            "zfec_decode_mbps",
            "encode_mbps_k101_n256",
            "zfec_decode_mbps_k101_n256",
            "encode_ratio",
            "decode_worst_mbps",
            "zfec_decode_worst_mbps_k101_n256",
        ] {
            assert!(v[key].is_number(), "{key} in {v}");
        }
        assert_eq!(v["kernel"], Kernel::active().name());
        assert!(v["kernels"]["scalar"]["decode_mbps"].is_number());
        let v = json_report(kernels[0], &kernels[..1], &ours[..1], None);
        assert!(v["zfec_encode_mbps"].is_null());
        assert!(v.get("kernels").is_none());
    }

    #[test]
    fn decode_pattern_needs_secondary_shares() {
        for w in &WORKLOADS {
            let s = w.decode_shares();
            assert_eq!(s.len(), w.k);
            assert!(s.iter().any(|&x| x >= w.k) && s.iter().all(|&x| x < w.n));
        }
    }
}
