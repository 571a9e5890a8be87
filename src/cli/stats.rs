//! `cacheshim stats`: what the cache did, from the decision log
//! (`decision_log`): hits, misses and pass-throughs, the hit rate, the bytes
//! the cache hosts served, the pass-through reasons ranked with an example
//! origin each, the most-missed origins (what to seed next), per cache host.

use super::{Usage, usage};
use crate::decision_log::{self, Entry};
use crate::env_view::ProcessEnv;
use serde_json::json;
use std::collections::BTreeMap;
use std::ffi::OsString;

const HELP: &str = "\
Usage: cacheshim stats [--since WHEN] [--json | --misses] [--zero]

What the cache did for the commands the shim planned (a cache host set),
from the decision log in $XDG_STATE_HOME/cacheshim (else
~/.local/state/cacheshim; WITHCACHE_LOG=off writes none).

  --since WHEN  only since WHEN: YYYY-MM-DD (UTC), or Nd / Nh ago
  --json        the figures as JSON
  --misses      the missed origins, most missed first, one per line
                (for cacheshim seed --from -)
  --zero        start over (the log is removed)
";

pub fn run(args: &[OsString]) -> Result<i32, Usage> {
    let (mut since, mut json_out, mut misses, mut zero) = (None, false, false, false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.to_str() {
            Some("--help" | "-h") => {
                out!("{HELP}");
                return Ok(0);
            }
            Some("--json") => json_out = true,
            Some("--misses") => misses = true,
            Some("--zero") => zero = true,
            Some("--since") => {
                let v = it.next().and_then(|v| v.to_str()).unwrap_or_default();
                since = Some(parse_since(v, now()).ok_or_else(|| {
                    Usage(format!("stats: --since '{v}' is not YYYY-MM-DD, Nd or Nh"))
                })?);
            }
            _ => {
                return usage(format!(
                    "stats: unknown argument '{}' (cacheshim stats --help)",
                    a.to_string_lossy()
                ));
            }
        }
    }
    if json_out && misses {
        return usage("stats: --json and --misses do not go together");
    }
    let env = ProcessEnv;
    let Some(dir) = decision_log::dir(&env) else {
        return usage("stats: no HOME or XDG_STATE_HOME to find the log in");
    };
    if zero {
        for f in [decision_log::OLD_FILE, decision_log::FILE] {
            let _ = std::fs::remove_file(dir.join(f));
        }
        outln!("stats: zeroed ({})", dir.display());
        return Ok(0);
    }
    let mut entries = Vec::new();
    for f in [decision_log::OLD_FILE, decision_log::FILE] {
        if let Ok(text) = std::fs::read_to_string(dir.join(f)) {
            entries.extend(text.lines().filter_map(Entry::parse));
        }
    }
    if let Some(t) = since {
        entries.retain(|e| e.time >= t);
    }
    let s = Summary::of(&entries);
    if misses {
        for (origin, _) in &s.missed {
            outln!("{origin}");
        }
    } else if json_out {
        outln!(
            "{}",
            serde_json::to_string_pretty(&s.json()).expect("a JSON value always serializes")
        );
    } else {
        s.print(nix::unistd::isatty(std::io::stdout()).unwrap_or(false));
    }
    Ok(0)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `YYYY-MM-DD` (UTC midnight), `Nd`, `Nh`.
fn parse_since(v: &str, now: u64) -> Option<u64> {
    if let Some(n) = v.strip_suffix('d') {
        return Some(now.saturating_sub(n.parse::<u64>().ok()? * 86_400));
    }
    if let Some(n) = v.strip_suffix('h') {
        return Some(now.saturating_sub(n.parse::<u64>().ok()? * 3600));
    }
    let f: Vec<&str> = v.split('-').collect();
    if f.len() != 3 {
        return None;
    }
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month: usize = f[1].parse().ok()?;
    let date = format!(
        "Mon, {} {} {} 00:00:00 GMT",
        f[2],
        months.get(month.checked_sub(1)?)?,
        f[0]
    );
    crate::planner::http_date(&date)
}

#[derive(Default)]
struct Counts {
    hits: usize,
    misses: usize,
    passes: usize,
    bytes: u64,
}

impl Counts {
    fn add(&mut self, e: &Entry) {
        match e.decision.as_str() {
            "hit" => {
                self.hits += 1;
                self.bytes += e.bytes;
            }
            "miss" => self.misses += 1,
            _ => self.passes += 1,
        }
    }

    fn total(&self) -> usize {
        self.hits + self.misses + self.passes
    }

    fn hit_rate(&self) -> f64 {
        if self.total() == 0 {
            0.0
        } else {
            self.hits as f64 / self.total() as f64
        }
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "commands": self.total(),
            "hits": self.hits,
            "misses": self.misses,
            "pass_throughs": self.passes,
            "hit_rate": self.hit_rate(),
            "bytes_served": self.bytes,
        })
    }
}

#[derive(Default)]
struct Summary {
    all: Counts,
    /// reason -> (count, an example origin)
    reasons: Vec<(String, usize, String)>,
    /// origin -> misses, most first
    missed: Vec<(String, usize)>,
    hosts: BTreeMap<String, Counts>,
}

impl Summary {
    fn of(entries: &[Entry]) -> Summary {
        let mut s = Summary::default();
        let mut reasons: BTreeMap<String, (usize, String)> = BTreeMap::new();
        let mut missed: BTreeMap<String, usize> = BTreeMap::new();
        for e in entries {
            s.all.add(e);
            s.hosts.entry(e.host.clone()).or_default().add(e);
            if e.decision == "pass" {
                let r = reasons.entry(e.reason.clone()).or_default();
                r.0 += 1;
                if r.1.is_empty() || r.1 == "-" {
                    r.1 = e.origin.clone();
                }
            }
            if e.decision == "miss" && e.origin != "-" {
                *missed.entry(e.origin.clone()).or_default() += 1;
            }
        }
        s.reasons = reasons.into_iter().map(|(k, (n, o))| (k, n, o)).collect();
        s.reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        s.missed = missed.into_iter().collect();
        s.missed.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        s
    }

    fn json(&self) -> serde_json::Value {
        let mut v = self.all.json();
        v["pass_through_reasons"] = self
            .reasons
            .iter()
            .map(|(r, n, o)| json!({"reason": r, "commands": n, "example": o}))
            .collect();
        v["most_missed"] = self
            .missed
            .iter()
            .map(|(o, n)| json!({"origin": o, "misses": n}))
            .collect();
        v["cache_hosts"] = self
            .hosts
            .iter()
            .map(|(h, c)| {
                let mut one = c.json();
                one["host"] = h.as_str().into();
                one
            })
            .collect();
        v
    }

    fn print(&self, terminal: bool) {
        let a = &self.all;
        outln!(
            "commands {:>7}   hits {:>7}   misses {:>7}   pass-throughs {:>7}",
            a.total(),
            a.hits,
            a.misses,
            a.passes
        );
        // (Integer arithmetic: float formatting would cost the binary ~10 KB.)
        let permille = (a.hits * 1000).checked_div(a.total()).unwrap_or(0);
        outln!(
            "hit rate {:>5}.{}%   bytes served by the cache host(s): {}",
            permille / 10,
            permille % 10,
            a.bytes
        );
        if !self.reasons.is_empty() {
            outln!();
            outln!("pass-through reasons:");
            let width = self.reasons.iter().map(|r| r.0.len()).max().unwrap_or(0);
            let top = self.reasons.first().map_or(1, |r| r.1.max(1));
            for (reason, n, example) in &self.reasons {
                let bar = if terminal {
                    format!(" {}", "█".repeat((n * 30).div_ceil(top)))
                } else {
                    String::new()
                };
                outln!("  {reason:<width$} {n:>7}{bar}  e.g. {example}");
            }
        }
        if !self.missed.is_empty() {
            outln!();
            outln!("most missed (cacheshim stats --misses | cacheshim seed --from -):");
            for (origin, n) in self.missed.iter().take(10) {
                outln!("  {n:>7}  {origin}");
            }
        }
        if self.hosts.len() > 1 {
            outln!();
            outln!("per cache host:");
            for (h, c) in &self.hosts {
                outln!(
                    "  {h}: {} commands, {} hits, {} misses, {} pass-throughs, {} bytes",
                    c.total(),
                    c.hits,
                    c.misses,
                    c.passes,
                    c.bytes
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_forms() {
        assert_eq!(parse_since("2024-01-01", 0), Some(1_704_067_200));
        assert_eq!(parse_since("2d", 200_000), Some(200_000 - 172_800));
        assert_eq!(parse_since("3h", 100_000), Some(100_000 - 10_800));
        assert_eq!(parse_since("yesterday", 0), None);
        assert_eq!(parse_since("2024-13-01", 0), None);
    }
}
