//! `lafs check` and `lafs deep-check`: Tahoe's `tahoe check` /
//! `tahoe deep-check` (scripts/tahoe_check.py), output line for line,
//! over `lafs_client::check` instead of a web API round trip.
//!
//! `--raw` prints the JSON Tahoe's web API would have returned: the
//! check(-and-repair) results for `check`, the `t=stream-deep-check` lines
//! for `deep-check`. Exit status 0 whenever the check ran, healthy or not
//! (as Tahoe); a repair that failed says why on stderr.

use crate::create_client::ClientSource;
use crate::grid_cli::Session;
use anyhow::Result;
use lafs_client::check::{self, CheckOptions, CheckOutcome, CheckResults, DeepCheckResults};
use lafs_format::cap::Cap;
use serde::Serialize;
use serde_json::Value;
use std::io::Write;

/// Arguments of `lafs check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub src: ClientSource,
    /// Read and verify every share, not just count them.
    #[arg(long)]
    pub verify: bool,
    /// Repair the object if it is not healthy.
    #[arg(long)]
    pub repair: bool,
    /// Add or renew this client's lease on every share.
    #[arg(long)]
    pub add_lease: bool,
    /// Print the JSON results.
    #[arg(long)]
    pub raw: bool,
    /// The objects to check: caps, `ALIAS:path`, or paths in `tahoe:`
    /// (the `tahoe:` alias itself when none is given).
    pub locations: Vec<String>,
}

/// Arguments of `lafs deep-check`.
#[derive(Debug, clap::Args)]
pub struct DeepCheckArgs {
    #[command(flatten)]
    pub src: ClientSource,
    /// Read and verify every share, not just count them.
    #[arg(long)]
    pub verify: bool,
    /// Repair every object that is not healthy.
    #[arg(long)]
    pub repair: bool,
    /// Add or renew this client's lease on every share.
    #[arg(long)]
    pub add_lease: bool,
    /// One line per object.
    #[arg(short, long)]
    pub verbose: bool,
    /// Print the stream of JSON results, one object per line.
    #[arg(long)]
    pub raw: bool,
    /// The directories to walk: caps, `ALIAS:path`, or paths in `tahoe:`
    /// (the `tahoe:` alias itself when none is given).
    pub locations: Vec<String>,
}

/// The locations given, or the default alias.
fn locations(given: &[String]) -> Vec<String> {
    if given.is_empty() {
        vec![String::new()]
    } else {
        given.to_vec()
    }
}

/// The session and the objects named on the command line (the default
/// alias when none is), resolved to caps.
fn open(src: &ClientSource, given: &[String]) -> Result<(Session, Vec<String>, Vec<Cap>)> {
    let s = Session::open(src)?;
    let locs = locations(given);
    let caps = resolve(&s, &locs)?;
    Ok((s, locs, caps))
}

/// Resolve each location to the cap of the object it names.
fn resolve(s: &Session, locs: &[String]) -> Result<Vec<Cap>> {
    locs.iter()
        .map(|l| {
            let place = s.place(l)?;
            Ok(s.block_on(s.client.resolve(&place.root, &place.path))?.cap)
        })
        .collect()
}

/// Python's `json.dumps(x, indent=1)`.
fn dumps(v: &Value) -> Result<String> {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    v.serialize(&mut ser)?;
    Ok(String::from_utf8(out)?)
}

fn corrupt_line(server: &str, si: &str, shnum: u16) -> String {
    format!("server {server}, SI {si}, shnum {shnum}")
}

/// `tahoe check`'s text for one result.
pub fn render_check(outcome: &CheckOutcome) -> String {
    let mut s = String::new();
    let counts = |s: &mut String, r: &CheckResults| {
        s.push_str(&format!(" storage index: {}\n", r.storage_index_string()));
        if !r.is_literal() {
            s.push_str(&format!(
                " good-shares: {} (encoding is {}-of-{})\n wrong-shares: {}\n",
                r.count_shares_good,
                r.count_shares_needed,
                r.count_shares_expected,
                r.count_wrong_shares
            ));
        }
        if !r.list_corrupt_shares.is_empty() {
            s.push_str(" corrupt shares:\n");
            let si = r.storage_index_string();
            for (server, n) in &r.list_corrupt_shares {
                s.push_str(&format!("  {}\n", corrupt_line(server, &si, *n)));
            }
        }
    };
    match outcome {
        CheckOutcome::Checked(r) => {
            s.push_str(&format!("Summary: {}\n", r.summary));
            counts(&mut s, r);
        }
        CheckOutcome::Repaired(rr) => {
            let h = if rr.pre.healthy {
                "healthy"
            } else {
                "not healthy"
            };
            s.push_str(&format!("Summary: {h}\n"));
            counts(&mut s, &rr.pre);
            if rr.repair_attempted {
                s.push_str(if rr.repair_successful {
                    " repair successful\n"
                } else {
                    " repair failed\n"
                });
            }
        }
    }
    s
}

/// Python's `quote_output` of a path (single-quoted).
fn quote_path(path: &[String]) -> String {
    if path.is_empty() {
        "'<root>'".into()
    } else {
        format!("'{}'", path.join("/"))
    }
}

/// `tahoe deep-check`'s text (the CLI counts literal objects too).
pub fn render_deep(d: &DeepCheckResults, verbose: bool) -> String {
    let mut s = String::new();
    let (mut healthy, mut unhealthy) = (0usize, 0usize);
    let (mut post_healthy, mut post_unhealthy) = (0usize, 0usize);
    let (mut attempted, mut ok) = (0usize, 0usize);
    for (i, e) in d.entries.iter().enumerate() {
        if (i + 1) % 100 == 0 {
            s.push_str(&format!("{} objects checked..\n", i + 1));
        }
        let pre = e.outcome.pre();
        if pre.healthy {
            healthy += 1;
        } else {
            unhealthy += 1;
        }
        if e.outcome.post().healthy {
            post_healthy += 1;
        } else {
            post_unhealthy += 1;
        }
        if verbose {
            let summary = match &e.outcome {
                CheckOutcome::Checked(r) => r.summary.clone(),
                CheckOutcome::Repaired(_) if pre.healthy => "healthy".into(),
                CheckOutcome::Repaired(_) => "not healthy".into(),
            };
            s.push_str(&format!("{}: {summary}\n", quote_path(&e.path)));
        }
        let si = pre.storage_index_string();
        for (server, n) in &pre.list_corrupt_shares {
            s.push_str(&format!(" corrupt: {}\n", corrupt_line(server, &si, *n)));
        }
        if let CheckOutcome::Repaired(rr) = &e.outcome {
            if rr.repair_attempted {
                attempted += 1;
                ok += usize::from(rr.repair_successful);
                s.push_str(if rr.repair_successful {
                    " repair successful\n"
                } else {
                    " repair failed\n"
                });
            }
        }
    }
    let n = d.entries.len();
    if d.repair {
        s.push_str(&format!(
            "done: {n} objects checked\n pre-repair: {healthy} healthy, {unhealthy} unhealthy\n \
             {attempted} repairs attempted, {ok} successful, {} failed\n \
             post-repair: {post_healthy} healthy, {post_unhealthy} unhealthy\n",
            attempted - ok
        ));
    } else {
        s.push_str(&format!(
            "done: {n} objects checked, {healthy} healthy, {unhealthy} unhealthy\n"
        ));
    }
    s
}

fn repair_errors(path: &str, outcome: &CheckOutcome) {
    if let CheckOutcome::Repaired(rr) = outcome {
        if let Some(e) = &rr.repair_error {
            eprintln!("lafs: {path}: repair: {e}");
        }
    }
}

/// `lafs check`.
pub fn run_check(a: CheckArgs) -> Result<()> {
    let (s, locs, caps) = open(&a.src, &a.locations)?;
    let grid = s.client.grid();
    let opts = CheckOptions {
        verify: a.verify,
        repair: a.repair,
        add_lease: a.add_lease,
    };
    let mut out = std::io::stdout().lock();
    for (loc, cap) in locs.iter().zip(&caps) {
        let outcome = s.block_on(check::run(&grid, cap, opts));
        repair_errors(loc, &outcome);
        if a.raw {
            writeln!(out, "{}\n", dumps(&outcome.to_tahoe_json())?)?;
        } else {
            out.write_all(render_check(&outcome).as_bytes())?;
        }
    }
    Ok(())
}

/// `lafs deep-check`.
pub fn run_deep(a: DeepCheckArgs) -> Result<()> {
    let (s, locs, caps) = open(&a.src, &a.locations)?;
    let grid = s.client.grid();
    let opts = CheckOptions {
        verify: a.verify,
        repair: a.repair,
        add_lease: a.add_lease,
    };
    let mut out = std::io::stdout().lock();
    for (loc, cap) in locs.iter().zip(&caps) {
        let d = s.block_on(check::deep_check(&grid, cap, opts));
        for (path, e) in &d.errors {
            eprintln!("lafs: {loc}: cannot list {}: {e}", quote_path(path));
        }
        for e in &d.entries {
            repair_errors(&quote_path(&e.path), &e.outcome);
        }
        if a.raw {
            for line in d.to_stream_lines() {
                writeln!(out, "{}", serde_json::to_string(&line)?)?;
            }
        } else {
            out.write_all(render_deep(&d, a.verbose).as_bytes())?;
        }
    }
    Ok(())
}
