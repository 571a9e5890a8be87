//! Equivalence with the real tools: each invocation runs twice in fresh
//! directories, directly against the origin and through the shim, and must
//! end with the same exit code, the same stdout bytes and the same files
//! (names and bytes). The origin's and the cache host's logs then show where
//! the bytes came from.

mod common;

use common::servers::*;
use common::*;
use std::collections::{BTreeMap, HashMap};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq)]
enum RealTool {
    Curl,
    Wget,
    BusyboxWget,
}

/// Where the bytes of a run through the shim must come from.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Via {
    Cache,
    /// Left alone by design (policy or miss): the origin serves it.
    Origin,
    /// Resume/range: the cache only if it answers `Accept-Ranges: bytes`.
    CacheIfRanges,
    /// A raw UTF-8 file name: only a cache host that can hold such an origin
    /// (withcache-server 0.13.3 fetches with urllib, which cannot).
    CacheIfUtf8,
}

/// What a cache host can do.
#[derive(Clone, Copy)]
struct Host {
    name: &'static str,
    ranges: bool,
    utf8: bool,
    cached: bool,
}

struct Inv {
    tool: RealTool,
    args: &'static [&'static str],
    /// A partial file (half of the artifact) present before the run.
    partial: Option<(&'static str, &'static str)>,
    via: Via,
}

const fn inv(tool: RealTool, args: &'static [&'static str], via: Via) -> Inv {
    Inv {
        tool,
        args,
        partial: None,
        via,
    }
}

use RealTool::*;
use Via::*;

const CORPUS: &[Inv] = &[
    inv(Curl, &["-fsSL", "-o", "out.run", "{cuda}"], Cache),
    inv(Curl, &["-fsSLO", "{cuda}"], Cache),
    inv(Curl, &["-sO", "{a}"], Cache),
    inv(Curl, &["-s", "{small}"], Cache),
    inv(Curl, &["-fsS", "{small}", "-o", "-"], Cache),
    inv(Curl, &["-sSfL", "{pct}", "-O"], Cache),
    inv(Curl, &["-sO", "{utf8}"], CacheIfUtf8),
    inv(Curl, &["-sO", "{q}"], Origin),
    inv(Curl, &["-s", "-O", "{a}", "-O", "{b}"], Cache),
    inv(
        Curl,
        &["-s", "--remote-name-all", "{a}", "{b}", "{c}"],
        Cache,
    ),
    inv(
        Curl,
        &["-s", "-o", "x.bin", "{a}", "-o", "y.bin", "{b}"],
        Cache,
    ),
    inv(Curl, &["-fsS", "-o", "x", "--", "{a}"], Cache),
    inv(Curl, &["-sf", "-O", "{missing}"], Origin),
    inv(
        Curl,
        &[
            "-s",
            "-w",
            "%{http_code} %{size_download}\\n",
            "-o",
            "f",
            "{a}",
        ],
        // Issue 16: the status and the size are not equal by construction
        // (an origin may answer 203, or encode): it was Cache.
        Origin,
    ),
    inv(
        Curl,
        &[
            "-s",
            "-w",
            "%{filename_effective} %{exitcode}\\n",
            "-O",
            "{a}",
        ],
        Cache,
    ),
    Inv {
        tool: Curl,
        args: &["-s", "-C", "-", "-o", "part.run", "{cuda}"],
        partial: Some(("part.run", "{cuda}")),
        via: CacheIfRanges,
    },
    inv(Curl, &["-s", "-r", "0-99", "{cuda}"], CacheIfRanges),
    inv(Curl, &["-fsSL", "-u", "alice:pw", "-O", "{a}"], Cache),
    // Accept may choose the representation (GitHub assets): the origin.
    inv(
        Curl,
        &["-s", "-H", "Accept: application/octet-stream", "-O", "{a}"],
        Origin,
    ),
    inv(Curl, &["-sS", "--retry", "2", "-O", "{b}"], Cache),
    inv(
        Curl,
        &["-s", "--create-dirs", "-o", "sub/dir/a.bin", "{a}"],
        Cache,
    ),
    inv(
        Curl,
        &["-s", "--output-dir", "outdir", "--create-dirs", "-O", "{a}"],
        Cache,
    ),
    inv(Curl, &["-Z", "-s", "-O", "{a}", "-O", "{b}"], Cache),
    inv(Curl, &["-s", "-OJ", "{a}"], Origin),
    inv(Curl, &["-sL", "-O", "{latest}"], Cache),
    inv(Curl, &["-s", "--compressed", "-o", "f", "{small}"], Cache),
    inv(
        Curl,
        &["-fsSL", "-H", "Authorization: Bearer t", "-o", "f", "{b}"],
        Cache,
    ),
    inv(Wget, &["-q", "{cuda}"], Cache),
    inv(Wget, &["-q", "-O", "out.run", "{cuda}"], Cache),
    inv(Wget, &["-qO-", "{small}"], Cache),
    inv(Wget, &["-q", "{pct}"], Cache),
    inv(Wget, &["-q", "{utf8}"], CacheIfUtf8),
    // withcache-server keys blobs without the query: never rewritten.
    inv(Wget, &["-q", "-O", "f", "{q}"], Origin),
    inv(Wget, &["-q", "{q}"], Origin),
    // Two URLs of one site: directly the first may set a cookie the second
    // needs (issue 22): as written.
    inv(Wget, &["-q", "{a}", "{b}"], Origin),
    inv(Wget, &["-q", "--no-cookies", "{a}", "{b}"], Cache),
    inv(Wget, &["-q", "-P", "dl", "{a}"], Cache),
    inv(Wget, &["-nv", "{a}"], Cache),
    Inv {
        tool: Wget,
        args: &["-q", "-c", "{cuda}"],
        partial: Some(("cuda_12.4.0_550.54.14_linux.run", "{cuda}")),
        via: CacheIfRanges,
    },
    inv(Wget, &["-q", "--user=alice", "--password=pw", "{a}"], Cache),
    inv(Wget, &["-q", "-nc", "{a}"], Cache),
    inv(Wget, &["-q", "--", "{a}"], Cache),
    inv(Wget, &["-q", "{missing}"], Origin),
    inv(
        Wget,
        &["-q", "--header=X-Auth-Token: t", "-O", "-", "{small}"],
        Cache,
    ),
    inv(BusyboxWget, &["-q", "{cuda}"], Cache),
    inv(BusyboxWget, &["-q", "-O", "out", "{a}"], Cache),
    inv(BusyboxWget, &["-qO-", "{small}"], Cache),
    inv(BusyboxWget, &["-q", "{pct}"], Cache),
    Inv {
        tool: BusyboxWget,
        args: &["-q", "-c", "{cuda}"],
        partial: Some(("cuda_12.4.0_550.54.14_linux.run", "{cuda}")),
        via: CacheIfRanges,
    },
    inv(BusyboxWget, &["-q", "{a}", "{b}"], Cache),
];

/// Artifacts: placeholder, path as written in URLs, decoded path, size.
const ARTIFACTS: &[(&str, &str, usize)] = &[
    ("{cuda}", "/pub/cuda_12.4.0_550.54.14_linux.run", 2 << 20),
    ("{small}", "/pub/SHA256SUMS", 300),
    ("{pct}", "/pub/foo%20bar.tgz", 40_000),
    ("{utf8}", "/pub/файл-ü.bin", 30_000),
    ("{q}", "/pub/q.bin?v=2", 20_000),
    ("{a}", "/pub/a.bin", 100_000),
    ("{b}", "/pub/b.bin", 120_000),
    ("{c}", "/pub/c.bin", 5_000),
];

struct World {
    origin: TestServer,
    urls: HashMap<&'static str, String>,
    bodies: HashMap<&'static str, Vec<u8>>,
    tools: HashMap<&'static str, PathBuf>,
    shims: tempfile::TempDir,
}

impl World {
    fn new() -> Option<World> {
        let mut tools = HashMap::new();
        for (key, name) in [("curl", "curl"), ("wget", "wget"), ("busybox", "busybox")] {
            match which(name) {
                Some(p) => tools.insert(key, p),
                None => {
                    missing_part(&format!("{name} (Debian {name})"));
                    return None;
                }
            };
        }
        let gnu = Command::new(&tools["wget"])
            .arg("--version")
            .output()
            .ok()?;
        if !String::from_utf8_lossy(&gnu.stdout).contains("GNU Wget") {
            missing_part("GNU wget as /usr/bin/wget");
            return None;
        }
        let mut files = HashMap::new();
        let mut bodies = HashMap::new();
        for (i, (key, path, len)) in ARTIFACTS.iter().enumerate() {
            let body = common::world::artifact(&format!("artifact-{i}"), *len);
            let decoded = percent_decode(path.split('?').next().unwrap());
            files.insert(decoded, body.clone());
            bodies.insert(*key, body);
        }
        let mut redirects = HashMap::new();
        redirects.insert(b"/pub/latest.bin".to_vec(), "/pub/a.bin".to_string());
        let origin = origin(files, redirects);
        let mut urls: HashMap<&'static str, String> = ARTIFACTS
            .iter()
            .map(|(k, p, _)| (*k, format!("{}{p}", origin.url())))
            .collect();
        urls.insert("{latest}", format!("{}/pub/latest.bin", origin.url()));
        urls.insert("{missing}", format!("{}/pub/missing.bin", origin.url()));
        bodies.insert("{latest}", bodies["{a}"].clone());
        let shims = tempfile::tempdir().unwrap();
        for name in ["curl", "wget"] {
            symlink(shim_binary(), shims.path().join(name)).unwrap();
        }
        Some(World {
            origin,
            urls,
            bodies,
            tools,
            shims,
        })
    }

    /// Every origin URL whose artifact a cache host should hold.
    fn cacheable(&self) -> Vec<(&'static str, String)> {
        let mut v: Vec<_> = self
            .urls
            .iter()
            .filter(|(k, _)| **k != "{missing}")
            .map(|(k, u)| (*k, u.clone()))
            .collect();
        v.sort();
        v
    }

    fn args(&self, inv: &Inv) -> Vec<String> {
        inv.args
            .iter()
            .map(|a| {
                let mut s = a.to_string();
                for (k, u) in &self.urls {
                    s = s.replace(k, u);
                }
                s
            })
            .collect()
    }

    fn command(&self, inv: &Inv, through_shim: bool, server: &str) -> Command {
        let mut cmd = match (inv.tool, through_shim) {
            (Curl, false) => Command::new(&self.tools["curl"]),
            (Wget, false) => Command::new(&self.tools["wget"]),
            (BusyboxWget, false) => {
                let mut c = Command::new(&self.tools["busybox"]);
                c.arg0("wget");
                c
            }
            (Curl, true) => Command::new(self.shims.path().join("curl")),
            (Wget | BusyboxWget, true) => Command::new(self.shims.path().join("wget")),
        };
        cmd.env_clear()
            .env("WITHCACHE_REVALIDATE", "off") // (see common::clean_command)
            .env("XDG_STATE_HOME", common::STATE_HOME)
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.shims.path().display()),
            )
            .env("LC_ALL", "C.UTF-8")
            .env("WITHCACHE_DOWN_TTL", "0");
        if through_shim {
            cmd.env("WITHCACHE_SERVER", server);
            if inv.tool == BusyboxWget {
                cmd.env("REAL_WGET", &self.tools["busybox"]);
            }
        }
        cmd.args(self.args(inv));
        cmd
    }

    fn run(&self, inv: &Inv, through_shim: bool, server: &str) -> RunResult {
        let work = tempfile::tempdir().unwrap();
        let home = work.path().join("home");
        let cwd = work.path().join("cwd");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&cwd).unwrap();
        if let Some((file, key)) = inv.partial {
            let body = &self.bodies[key];
            std::fs::write(cwd.join(file), &body[..body.len() / 2]).unwrap();
        }
        let mut cmd = self.command(inv, through_shim, server);
        cmd.current_dir(&cwd).env("HOME", &home);
        let out = run_bounded(&mut cmd, Duration::from_secs(60));
        RunResult {
            code: out.status.code(),
            stdout: out.stdout,
            files: snapshot(&cwd),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

struct RunResult {
    code: Option<i32>,
    stdout: Vec<u8>,
    files: BTreeMap<Vec<u8>, Vec<u8>>,
    stderr: String,
}

fn snapshot(dir: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().as_os_str().as_bytes().to_vec();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn describe(files: &BTreeMap<Vec<u8>, Vec<u8>>) -> Vec<(String, usize)> {
    files
        .iter()
        .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), v.len()))
        .collect()
}

/// Runs the whole corpus against one cache host; `served_from_cache` tells
/// whether the cache host logged a GET since `before` (a log length).
fn check_corpus(
    w: &World,
    server: &str,
    host: Host,
    mut cache_gets: impl FnMut() -> usize,
) -> Vec<String> {
    let mut failures = Vec::new();
    for (i, inv) in CORPUS.iter().enumerate() {
        let label = format!("[{} #{i}] {:?} {:?}", host.name, inv.tool, inv.args);
        w.origin.clear();
        let direct = w.run(inv, false, server);
        let origin_direct = w.origin.requests().len();
        w.origin.clear();
        let gets_before = cache_gets();
        let shim = w.run(inv, true, server);
        // curl without -L asks the origin with a HEAD before a hit counts;
        // what matters is where the bytes came from.
        let origin_shim = w
            .origin
            .requests()
            .iter()
            .filter(|r| r.method != "HEAD")
            .count();
        let from_cache = host.cached
            && match inv.via {
                Cache => true,
                Origin => false,
                CacheIfRanges => host.ranges,
                CacheIfUtf8 => host.utf8,
            };
        let mut served = cache_gets() - gets_before;
        // nginx logs a request once it has finished it, which may be a
        // moment after the client is gone: wait a little for the line.
        let waited = std::time::Instant::now();
        while from_cache && served == 0 && waited.elapsed() < std::time::Duration::from_secs(3) {
            std::thread::sleep(std::time::Duration::from_millis(20));
            served = cache_gets() - gets_before;
        }
        if direct.code != shim.code {
            failures.push(format!(
                "{label}: exit {:?} direct, {:?} via shim ({})",
                direct.code, shim.code, shim.stderr
            ));
        }
        if direct.stdout != shim.stdout {
            failures.push(format!(
                "{label}: stdout differs ({} vs {} bytes)",
                direct.stdout.len(),
                shim.stdout.len()
            ));
        }
        if direct.files != shim.files {
            failures.push(format!(
                "{label}: files differ: direct {:?} via shim {:?}",
                describe(&direct.files),
                describe(&shim.files)
            ));
        }
        assert!(
            origin_direct > 0,
            "{label}: the direct run never reached the origin"
        );
        if from_cache && (origin_shim != 0 || served == 0) {
            failures.push(format!(
                "{label}: expected the cache host to serve it: origin saw {origin_shim} requests, cache served {served} GETs"
            ));
        }
        if !from_cache && (origin_shim == 0 || served != 0) {
            failures.push(format!(
                "{label}: expected the origin to serve it: origin saw {origin_shim} requests, cache served {served} GETs"
            ));
        }
    }
    failures
}

fn assert_no_failures(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn count_gets(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("\"GET /b/") || l.starts_with("GET /b/"))
        .count()
}

#[test]
fn corpus_has_at_least_40_invocations() {
    assert!(CORPUS.len() >= 40, "{}", CORPUS.len());
    for t in [Curl, Wget, BusyboxWget] {
        assert!(CORPUS.iter().any(|i| i.tool == t));
    }
}

#[test]
fn equivalence_through_withcache_server_with_the_artifacts_cached() {
    let Some(w) = World::new() else { return };
    let Some(cache) = WithcacheServer::start() else {
        return;
    };
    for (i, (key, url)) in w.cacheable().iter().enumerate() {
        if *key != "{utf8}" {
            cache.seed(&format!("artifact-{i}"), url);
        }
    }
    let host = Host {
        name: "withcache-server",
        ranges: false,
        utf8: false,
        cached: true,
    };
    let failures = check_corpus(&w, &cache.url(), host, || count_gets(&cache.log()));
    assert_no_failures(&failures);
}

#[test]
fn equivalence_through_nginx_with_the_artifacts_cached() {
    let Some(w) = World::new() else { return };
    let Some(nginx) = Nginx::start() else { return };
    for (key, url) in w.cacheable() {
        nginx.put(&url, &w.bodies[key]);
    }
    let host = Host {
        name: "nginx",
        ranges: true,
        utf8: true,
        cached: true,
    };
    let failures = check_corpus(&w, &nginx.url(), host, || count_gets(&nginx.access_log()));
    assert_no_failures(&failures);
}

#[test]
fn equivalence_with_an_empty_cache_and_withcache_server_records_the_misses() {
    let Some(w) = World::new() else { return };
    let Some(cache) = WithcacheServer::start() else {
        return;
    };
    let host = Host {
        name: "empty withcache-server",
        ranges: false,
        utf8: false,
        cached: false,
    };
    let failures = check_corpus(&w, &cache.url(), host, || count_gets(&cache.log()));
    assert_no_failures(&failures);
    let page = cache.misses_page();
    for key in ["{cuda}", "{small}", "{a}", "{b}", "{c}", "{missing}"] {
        let url = &w.urls[key];
        assert!(
            page.contains(url.as_str()),
            "withcache-server does not show the miss for {url}"
        );
    }
}
