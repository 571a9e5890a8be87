//! The real-world corpus (`fixtures/real-world/corpus.json`): curl and wget
//! lines from public scripts, Dockerfiles and install docs, each with its
//! source, the decision we expect and why. Every line is replayed through
//! the pure planner, and run as a differential: the real tool directly and
//! through the shim, against a loopback internet that behaves like the hosts
//! (`common::world`) and a cache host (nginx) filled by a plain GET of every
//! URL. Exit status, stdout and the files (names and bytes) must be the same;
//! the cache host's log must hold no credential.

mod common;

use cacheshim::config_files::NoFiles;
use cacheshim::env_view::MapEnv;
use cacheshim::planner::{self, Outcome, PlanInput, Preparation, ProbeAnswer};
use cacheshim::tool::Tool;
use common::servers::*;
use common::world::{self, Runner};
use common::*;
use serde_json::Value;
use std::ffi::OsString;

struct Line {
    tool: String,
    argv: Vec<String>,
    source: String,
    expect: String,
    origin_check: bool,
    why: String,
}

fn corpus() -> Vec<Line> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/real-world/corpus.json"
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| Line {
            tool: l["tool"].as_str().unwrap().to_string(),
            argv: l["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect(),
            source: l["source"].as_str().unwrap().to_string(),
            expect: l["expect"].as_str().unwrap().to_string(),
            origin_check: l["origin_check"].as_bool().unwrap_or(false),
            why: l["why"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

fn tool_of(name: &str) -> Tool {
    Tool::from_name(name).expect("curl or wget")
}

#[test]
fn corpus_has_at_least_150_lines_each_with_a_source_and_a_reason() {
    let lines = corpus();
    assert!(lines.len() >= 150, "only {} lines", lines.len());
    let mut seen = std::collections::HashSet::new();
    for l in &lines {
        assert!(
            l.source.contains('/') && l.source.contains(':'),
            "source must be repo:path: {}",
            l.source
        );
        assert!(!l.why.is_empty(), "no reason: {:?}", l.argv);
        assert!(
            seen.insert((l.tool.clone(), l.argv.clone())),
            "duplicate {:?}",
            l.argv
        );
    }
}

/// Every line through the pure planner, the cache holding everything (with
/// byte ranges): the decision and whether the origin is asked first.
#[test]
fn every_line_plans_as_expected() {
    let env = MapEnv::from_pairs(&[
        ("WITHCACHE_SERVER", "http://cache.lab:8081"),
        ("HOME", "/nonexistent"),
    ]);
    let mut failures = Vec::new();
    for l in corpus() {
        let args: Vec<OsString> = l.argv.iter().map(OsString::from).collect();
        let input = PlanInput {
            tool: tool_of(&l.tool),
            args: &args,
            env: &env,
            config: &NoFiles,
            busybox: false,
        };
        let (got, origin_check) = match planner::prepare(&input) {
            Preparation::PassThrough(p) => (format!("pass:{}", p.reason.code()), false),
            Preparation::Probe(prepared) => {
                let hits = vec![
                    ProbeAnswer::Hit {
                        accepts_ranges: true
                    };
                    prepared.candidates.len()
                ];
                let got = match planner::finish(&args, &prepared, &hits) {
                    Outcome::PassThrough(p) => format!("pass:{}", p.reason.code()),
                    Outcome::Rewrite(_) => "rewrite".to_string(),
                };
                (got, prepared.origin_check)
            }
        };
        if got != l.expect || (got == "rewrite" && origin_check != l.origin_check) {
            failures.push(format!(
                "{} {:?} ({}): planned {got} (origin check {origin_check}), expected {} (origin check {}): {}",
                l.tool, l.argv, l.source, l.expect, l.origin_check, l.why
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} lines differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Options that choose their own route to the network: such lines are
/// planned above but not run here (they would bypass the loopback internet).
const OWN_ROUTE: &[&str] = &[
    "-x",
    "--proxy",
    "--noproxy",
    "--no-proxy",
    "--resolve",
    "--connect-to",
    "--unix-socket",
    "--preproxy",
    "--socks5",
    "--socks5-hostname",
    "--interface",
    "--doh-url",
    "--dns-servers",
];

#[test]
fn every_line_gives_the_direct_result_through_the_shim() {
    let (Some(curl), Some(wget)) = (which("curl"), which("wget")) else {
        missing_part("curl and wget (Debian packages)");
        return;
    };
    let Some(nginx) = Nginx::start() else { return };
    let internet = world::internet();
    let runner = Runner::new(&internet);
    let lines = corpus();
    // The cache host holds what a plain GET of each URL gives.
    for l in &lines {
        for a in world::localized(&l.tool, &l.argv) {
            // (A token over 255 bytes cannot be a directory name on a
            // static host: such URLs stay misses here.)
            let token_fits = cache_path(&a)
                .split('/')
                .nth(2)
                .is_some_and(|t| t.len() <= 255);
            if a.starts_with("http://")
                && token_fits
                && !cache_path(&a).ends_with('/')
                && let Some(bytes) = world::plain_get(&a)
            {
                nginx.put(&a, &bytes);
            }
        }
    }
    let server = nginx.url();
    let mut failures = Vec::new();
    let (mut ran, mut served, mut served_after_check) = (0, 0, 0);
    for l in &lines {
        if l.argv.iter().any(|a| {
            OWN_ROUTE
                .iter()
                .any(|o| a == o || a.starts_with(&format!("{o}=")))
        }) {
            continue;
        }
        ran += 1;
        let args: Vec<OsString> = world::localized(&l.tool, &l.argv)
            .into_iter()
            .map(OsString::from)
            .collect();
        let real = if l.tool == "curl" { &curl } else { &wget };
        let direct = runner.run(real, &args, &[]);
        let before = cache_gets(&nginx);
        let shim = runner.run(
            &runner.shim(&l.tool),
            &args,
            &[("WITHCACHE_SERVER", &server)],
        );
        if cache_gets(&nginx) > before {
            served += 1;
            served_after_check += usize::from(l.origin_check);
        }
        let label = format!("{} {:?} ({})", l.tool, l.argv, l.source);
        if direct.code != shim.code {
            failures.push(format!(
                "{label}: exit {:?} direct, {:?} through the shim",
                direct.code, shim.code
            ));
        }
        if direct.stdout != shim.stdout {
            failures.push(format!("{label}: stdout differs"));
        }
        if direct.files != shim.files {
            failures.push(format!(
                "{label}: files differ: {:?} vs {:?}",
                direct.files.keys().collect::<Vec<_>>(),
                shim.files.keys().collect::<Vec<_>>()
            ));
        }
    }
    println!(
        "real-world differential: {ran} of {} lines run, {served} served from the cache host \
         ({served_after_check} of them curl without -L, after the origin answered 2xx; {} such lines)",
        lines.len(),
        lines.iter().filter(|l| l.origin_check).count()
    );
    for line in nginx.access_log().lines() {
        if line.contains("auth=\"-\"") && line.contains("cookie=\"-\"") && !has_secret(line) {
            continue;
        }
        failures.push(format!("a credential reached the cache host: {line}"));
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(served > 0, "nothing was served from the cache host");
}

fn cache_gets(nginx: &Nginx) -> usize {
    nginx
        .access_log()
        .lines()
        .filter(|l| l.starts_with("GET /b/"))
        .count()
}

/// The corpus's fake secrets are spelled so they can be found: in the log
/// line itself or inside a cache URL's token.
fn has_secret(line: &str) -> bool {
    use base64::Engine as _;
    let markers = ["FAKE", "s3cret", "SECRET"];
    let token = line
        .split("/b/")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|t| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t)
                .ok()
        })
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    markers
        .iter()
        .any(|m| line.contains(m) || token.contains(m))
}

/// Every URL of the corpus with what `revalidate::classify` makes of it
/// (`fixtures/real-world/freshness.json`, reviewed: a URL that may move is
/// revalidated under `auto`, one that names a release is trusted).
/// `CACHESHIM_WRITE_FIXTURES=1` writes the file anew.
#[test]
fn every_corpus_url_is_classified_for_freshness() {
    use cacheshim::revalidate::{Stability, classify};
    let mut rows = Vec::new();
    for line in corpus() {
        for arg in &line.argv {
            if arg.starts_with("http://") || arg.starts_with("https://") {
                let (verdict, why) = match classify(arg) {
                    Stability::Release(w) => ("trusted", w),
                    Stability::Moving(w) => ("revalidated", w),
                };
                rows.push(serde_json::json!({"url": arg, "auto": verdict, "why": why}));
            }
        }
    }
    rows.dedup();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/real-world/freshness.json"
    );
    let text = {
        let mut t = String::from(
            "{\n  \"about\": \"every http(s) URL of corpus.json, classified for revalidation under WITHCACHE_REVALIDATE=auto (src/revalidate.rs)\",\n  \"urls\": [\n",
        );
        let lines: Vec<String> = rows.iter().map(|r| format!("    {r}")).collect();
        t.push_str(&lines.join(",\n"));
        t.push_str("\n  ]\n}\n");
        t
    };
    if std::env::var("CACHESHIM_WRITE_FIXTURES").is_ok_and(|v| v == "1") {
        std::fs::write(path, &text).unwrap();
    }
    let recorded = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        recorded == text,
        "fixtures/real-world/freshness.json differs from the classification (CACHESHIM_WRITE_FIXTURES=1 to rewrite, then review)"
    );
}
