//! `lafs ls [-l] [-F] [--uri] [--readonly-uri] [--json] PATH`: Tahoe's
//! `tahoe ls` (`scripts/tahoe_ls.py`) layout — columns padded to the
//! widest cell, cap columns left-justified, everything else right — and
//! the web API's `t=json` shape for `--json`.

use crate::create_client::ClientSource;
use crate::grid_cli::Session;
use anyhow::Result;
use lafs_client::{Entry, LinkCaps};
use lafs_format::cap::{Cap, ChildCap, FileCap};
use serde_json::{json, Map, Value};

/// Arguments of `lafs ls`.
#[derive(Debug, clap::Args)]
pub struct LsArgs {
    #[command(flatten)]
    pub src: ClientSource,
    /// Long listing: type/permissions, size, link time (UTC).
    #[arg(short = 'l', long = "long")]
    pub long: bool,
    /// Append `/` to directories and `*` to mutable files.
    #[arg(short = 'F', long)]
    pub classify: bool,
    /// Show each child's cap.
    #[arg(long)]
    pub uri: bool,
    /// Show each child's read-only cap.
    #[arg(long)]
    pub readonly_uri: bool,
    /// Print the web API's `t=json` for the node.
    #[arg(long)]
    pub json: bool,
    /// The directory or file (`ALIAS:path`, a cap, or a path in `tahoe:`).
    #[arg(default_value = "")]
    pub path: String,
}

/// Python's `json.dumps(v, indent=n)`: `": "` between key and value,
/// `","` at line ends, insertion order, non-ASCII as `\uXXXX`.
pub fn python_json(v: &Value, indent: usize) -> String {
    let ind = vec![b' '; indent];
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(&ind);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    // Serializing a Value into memory cannot fail.
    let _ = serde::Serialize::serialize(v, &mut ser);
    let s = String::from_utf8_lossy(&buf);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

/// The web API's JSON for one child (`[kind, {…}]`).
pub fn child_json(caps: &LinkCaps, cap: &ChildCap, metadata: &Map<String, Value>) -> Value {
    let mut d = Map::new();
    let kind = match cap {
        ChildCap::Known(Cap::File(f)) => {
            d.insert(
                "size".into(),
                match f {
                    FileCap::Lit(l) => json!(l.data.len()),
                    FileCap::ChkRead(c) => json!(c.size),
                    // Tahoe reports a mutable child's size only when cached.
                    _ => Value::Null,
                },
            );
            d.insert("mutable".into(), json!(f.is_mutable()));
            d.insert("format".into(), json!(lafs_web::file_format(f)));
            "filenode"
        }
        ChildCap::Known(Cap::Dir(f)) => {
            d.insert("mutable".into(), json!(f.is_mutable()));
            "dirnode"
        }
        ChildCap::Unknown(_) => "unknown",
    };
    d.insert("metadata".into(), Value::Object(metadata.clone()));
    if let Some(rw) = &caps.rw {
        d.insert("rw_uri".into(), json!(String::from_utf8_lossy(rw)));
    }
    if let Some(ro) = &caps.ro {
        d.insert("ro_uri".into(), json!(String::from_utf8_lossy(ro)));
    }
    if let ChildCap::Known(c) = cap {
        if let Some(v) = c.verifier() {
            d.insert("verify_uri".into(), json!(v.to_string()));
        }
    }
    json!([kind, d])
}

/// `"Jan 02 15:04"` in UTC (Tahoe uses local time; a CLI without a
/// time-zone database keeps to UTC).
fn ls_time(t: f64, now: f64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = t.max(0.0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mon = MONTHS[usize::try_from(month - 1).unwrap_or(0).min(11)];
    if now - t > 6.0 * 30.0 * 86_400.0 {
        format!("{mon} {day:02}  {year}")
    } else {
        format!("{mon} {day:02} {:02}:{:02}", rem / 3600, rem % 3600 / 60)
    }
}

fn row(a: &LsArgs, e: &Entry, now: f64) -> Vec<String> {
    let md = &e.metadata;
    let time = |k: &str, old: &str| {
        md.get("tahoe")
            .and_then(|t| t.get(k))
            .and_then(Value::as_f64)
            .or_else(|| md.get(old).and_then(Value::as_f64))
    };
    let ctime = time("linkcrtime", "ctime");
    let (t0, size, mut classify) = match &e.cap {
        ChildCap::Known(Cap::Dir(_)) => ("d", "-".to_string(), "/"),
        ChildCap::Known(Cap::File(f)) => (
            "-",
            match f {
                FileCap::Lit(l) => l.data.len().to_string(),
                FileCap::ChkRead(c) => c.size.to_string(),
                _ => "?".into(),
            },
            if e.caps.rw.is_some() { "*" } else { "" },
        ),
        ChildCap::Unknown(_) => ("?", "?".into(), "?"),
    };
    let mut line = Vec::new();
    if a.long {
        let perm = format!(
            "{t0}{}{}{}",
            if e.caps.ro.is_some() { "r" } else { "-" },
            if e.caps.rw.is_some() { "w" } else { "-" },
            if e.is_dir() { "x" } else { "-" },
        );
        line.push(perm);
        line.push(size);
        line.push(ctime.map_or("-".into(), |t| ls_time(t, now)));
    }
    if !a.classify {
        classify = "";
    }
    line.push(format!("{}{classify}", e.name));
    let text = |b: &Option<Vec<u8>>| b.as_ref().map(|v| String::from_utf8_lossy(v).into_owned());
    if a.uri {
        line.push(text(&e.caps.rw).or(text(&e.caps.ro)).unwrap_or_default());
    }
    if a.readonly_uri {
        line.push(text(&e.caps.ro).unwrap_or("-".into()));
    }
    line
}

/// `lafs ls`.
pub fn run(a: LsArgs) -> Result<()> {
    let s = Session::open(&a.src)?;
    let place = s.place(a.path.trim_end_matches('/'))?;
    let node = s.block_on(s.client.resolve(&place.root, &place.path))?;
    let name = place.name().unwrap_or("").to_string();
    let entries: Vec<Entry> = if node.cap.is_dir() {
        s.block_on(s.client.list(&node.cap))?.entries
    } else {
        vec![Entry {
            name,
            caps: LinkCaps::of(&node.cap),
            cap: ChildCap::Known(node.cap.clone()),
            metadata: node.metadata.clone().unwrap_or_default(),
        }]
    };
    if a.json {
        let v = if node.cap.is_dir() {
            let mut kids = Map::new();
            for e in &entries {
                kids.insert(e.name.clone(), child_json(&e.caps, &e.cap, &e.metadata));
            }
            let mut d = Map::new();
            d.insert("children".into(), Value::Object(kids));
            let caps = LinkCaps::of(&node.cap);
            if let Some(ro) = &caps.ro {
                d.insert("ro_uri".into(), json!(String::from_utf8_lossy(ro)));
            }
            if let Some(rw) = &caps.rw {
                d.insert("rw_uri".into(), json!(String::from_utf8_lossy(rw)));
            }
            if let Some(v) = node.cap.verifier() {
                d.insert("verify_uri".into(), json!(v.to_string()));
            }
            d.insert("mutable".into(), json!(node.cap.is_mutable()));
            json!(["dirnode", d])
        } else {
            let e = &entries[0];
            let mut v = child_json(&e.caps, &e.cap, &e.metadata);
            // The root has no parent, hence no metadata.
            if node.metadata.is_none() {
                if let Some(o) = v.get_mut(1).and_then(Value::as_object_mut) {
                    o.remove("metadata");
                }
            }
            v
        };
        println!("{}", python_json(&v, 1));
        return Ok(());
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let rows: Vec<Vec<String>> = entries.iter().map(|e| row(&a, e, now)).collect();
    let cols = rows.first().map_or(0, Vec::len);
    let mut width = vec![0; cols];
    let mut left = vec![false; cols];
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.chars().count());
            left[i] |= c.starts_with("URI");
        }
    }
    if cols == 1 {
        left[0] = true;
    }
    let mut unknown = false;
    for (r, e) in rows.iter().zip(&entries) {
        unknown |= matches!(e.cap, ChildCap::Unknown(_));
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let w = width[i];
                if left[i] {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        println!("{}", cells.join(" ").trim_end());
    }
    if unknown {
        eprintln!(
            "\nThis listing included unknown objects. Using a webapi server that supports\n\
             a later version of Tahoe may help."
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_json_layout() {
        let v = json!(["dirnode", {"children": {}, "a": [1, "é"]}]);
        assert_eq!(
            python_json(&v, 1),
            "[\n \"dirnode\",\n {\n  \"children\": {},\n  \"a\": [\n   1,\n   \"\\u00e9\"\n  ]\n }\n]"
        );
    }

    #[test]
    fn times() {
        // 2026-11-23 16:20:00 UTC.
        let t = 1_795_450_800.0;
        assert_eq!(ls_time(t, t + 60.0), "Nov 23 16:20");
        assert_eq!(ls_time(t, t + 400.0 * 86_400.0), "Nov 23  2026");
    }
}
