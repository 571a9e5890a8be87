//! Shared helpers for integration tests: the fake real tool, bounded process
//! runs, and the "skip locally, fail in CI" rule. Servers are in `servers`,
//! the argv fixture loader in `fixtures`.
#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The binary under test; `CACHESHIM_TEST_BINARY` points the suites at
/// another build (an older one, to show a test fails without its fix).
pub fn shim_binary() -> PathBuf {
    std::env::var_os("CACHESHIM_TEST_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_cacheshim")))
}

/// The static release binary (dist/, from scripts/release): what users
/// install, for the tests whose behaviour depends on the build (panics,
/// allocation, limits). `CACHESHIM_TEST_BINARY` points at another build.
pub fn release_binary() -> Option<PathBuf> {
    if let Some(b) = std::env::var_os("CACHESHIM_TEST_BINARY") {
        return Some(PathBuf::from(b));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let version = env!("CARGO_PKG_VERSION");
    let dist = root.join(format!(
        "dist/cacheshim-{version}-x86_64-unknown-linux-musl"
    ));
    if dist.exists() {
        return Some(dist);
    }
    missing_part("the static release binary (run scripts/release)");
    None
}

/// GNU Wget's Debian source, fetched by scripts/install-test-deps into
/// target/tool-src (its command tables and its own test suite).
pub fn wget_source() -> Option<PathBuf> {
    tool_source("wget-1.21")
}

/// curl's Debian source, fetched beside wget's (its own test suite).
pub fn curl_source() -> Option<PathBuf> {
    tool_source("curl-7.88")
}

fn tool_source(prefix: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tool-src");
    std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.is_dir()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
}

/// The static release binary, when every real tool named is on PATH (else
/// skipped locally, a failure under CI=true).
pub fn release_binary_with(tools: &[&str]) -> Option<PathBuf> {
    for tool in tools {
        if servers::which(tool).is_none() {
            missing_part(tool);
            return None;
        }
    }
    release_binary()
}

/// A required part is missing: skipped locally, a failure under CI=true.
pub fn missing_part(what: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("required test part missing in CI: {what}");
    }
    eprintln!("SKIPPED: {what} is not available");
}

/// The fake real tool (tests/support/fake_real_tool.c), compiled once.
pub fn fake_tool() -> Option<PathBuf> {
    static BUILT: OnceLock<Option<PathBuf>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fake_real_tool.c");
            let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
            let out = out_dir.join("fake_real_tool");
            // nextest runs each test in its own process: build under a private
            // name and rename, so nobody copies a half-written file.
            let private = out_dir.join(format!("fake_real_tool.{}", std::process::id()));
            let ok = Command::new("cc")
                .arg("-O")
                .arg("-o")
                .arg(&private)
                .arg(&src)
                .status()
                .is_ok_and(|s| s.success());
            (ok && std::fs::rename(&private, &out).is_ok()).then_some(out)
        })
        .clone()
}

/// What the fake real tool saw.
#[derive(Debug)]
pub struct FakeRun {
    pub argv0: OsString,
    pub args: Vec<OsString>,
    pub hops: String,
    pub chain: String,
}

pub fn parse_fake_output(stdout: &[u8]) -> Option<FakeRun> {
    let mut records: Vec<&[u8]> = stdout.split(|&b| b == 0).collect();
    if records.last() == Some(&&b""[..]) {
        records.pop();
    }
    if records.len() < 3 {
        return None;
    }
    let chain = records.pop()?;
    let hops = records.pop()?;
    let text = |r: &[u8], prefix: &str| -> Option<String> {
        Some(String::from_utf8_lossy(r.strip_prefix(prefix.as_bytes())?).into_owned())
    };
    Some(FakeRun {
        argv0: OsString::from_vec(records[0].to_vec()),
        args: records[1..]
            .iter()
            .map(|r| OsString::from_vec(r.to_vec()))
            .collect(),
        hops: text(hops, "CACHESHIM_HOPS=")?,
        chain: text(chain, "CACHESHIM_CHAIN=")?,
    })
}

/// Run with a deadline; a shim loop must never hang the suite.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    // Wait on a thread so timings are not rounded to a polling interval.
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = match rx.recv_timeout(limit.saturating_sub(start.elapsed())) {
        Ok(status) => status.expect("wait"),
        Err(_) => {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = waiter.join();
            panic!("process still running after {limit:?}: {cmd:?}");
        }
    };
    Output {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

/// A command with a clean environment: only what the test sets, and
/// `WITHCACHE_REVALIDATE=off` unless the test sets it. The suites' origins
/// serve small files without validators, which the default (`auto`) fetches
/// from the origin instead of serving them (issue 23); each suite tests its
/// own rule with hits that stand, and `tests/e2e_freshness.rs` tests
/// revalidation under `auto` and `always`.
///
/// And `XDG_STATE_HOME` outside every run's directory: the decision log
/// (issue 25) is written as it would be for a user, shared by the suites'
/// shims (built for concurrent writers), never among the files a run left.
pub fn clean_command(program: impl AsRef<OsStr>) -> Command {
    let mut c = Command::new(program);
    c.env_clear()
        .env("WITHCACHE_REVALIDATE", "off")
        .env("XDG_STATE_HOME", STATE_HOME);
    c
}

/// Where the suites' shims keep their decision log.
pub const STATE_HOME: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/state");

pub fn os(s: &str) -> OsString {
    OsString::from(s)
}

pub fn bytes_arg(b: &[u8]) -> OsString {
    OsStr::from_bytes(b).to_os_string()
}

/// `/b/<token>/<name>` for an origin: computed here independently.
pub fn cache_path(origin: &str) -> String {
    use base64::Engine as _;
    let name = origin
        .split(['?', '#'])
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    format!(
        "/b/{}/{name}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(origin)
    )
}
pub mod fixtures;
pub mod servers;
pub mod stage;
pub mod tls;
pub mod world;
