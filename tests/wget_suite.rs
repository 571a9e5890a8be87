//! GNU Wget's own test suite as a differential: wget 1.21.3 is built from
//! Debian's source package (fetched by scripts/install-test-deps), its Perl
//! (`tests/`) and Python (`testenv/`) suites run once with the real wget,
//! then with the shim (the static release binary) as `src/wget` in three
//! modes: a cache host that misses everything, one that is dead (refuses
//! connections), and a mirror that holds what a plain GET of each origin
//! returns. Every test's result must equal the direct run's, except the
//! ones listed in `INHERENT` with the reason each differs.

mod common;

use common::servers::{Reply, TestServer, free_port, which};
use common::*;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// (mode, test): results that differ by the nature of the mode, and why.
const INHERENT: &[(&str, &str, &str)] = &[(
    "mirror",
    "tests/Test-auth-basic",
    "the mirror fetches from the origin itself, while the test runs: its plain GET is the \
     origin's first request, this origin sends its Basic challenge once and answers a second \
     request without credentials with 400, so wget's own first request fails; a real cache \
     host fetched long before, and the miss passes through",
)];

fn sh(dir: &Path, script: &str, env: &[(&str, String)]) -> std::process::Output {
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(script).current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("bash")
}

/// wget built once per source tree (a copy, so the fetched tree stays clean).
fn build(src: &Path) -> Option<PathBuf> {
    let build = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wget-suite");
    if build.join(".built").exists() {
        return Some(build);
    }
    let _ = std::fs::remove_dir_all(&build);
    let no_autotools = "ACLOCAL=true AUTOCONF=true AUTOMAKE=true AUTOHEADER=true";
    let out = sh(
        Path::new("/"),
        &format!(
            "cp -a '{}' '{}' && cd '{}' && ./configure -q >/dev/null && make -j2 -s {no_autotools} >/dev/null",
            src.display(),
            build.display(),
            build.display()
        ),
        &[],
    );
    if !out.status.success() {
        panic!(
            "building wget failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::rename(build.join("src/wget"), build.join("src/wget.real")).unwrap();
    std::fs::write(build.join(".built"), "").unwrap();
    Some(build)
}

/// Runs both suites with `src/wget` as `wget`, returns test -> result.
fn run_suites(build: &Path, wget: &Path, env: &[(&str, String)]) -> BTreeMap<String, String> {
    let link = build.join("src/wget");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(wget, &link).unwrap();
    let no_autotools = "ACLOCAL=true AUTOCONF=true AUTOMAKE=true AUTOHEADER=true";
    let mut results = BTreeMap::new();
    for suite in ["tests", "testenv"] {
        let dir = build.join(suite);
        let _ = sh(&dir, "rm -f *.log *.trs", &[]);
        let _ = sh(
            &dir,
            &format!("make -j2 -s check {no_autotools} >/dev/null 2>&1"),
            env,
        );
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "trs") {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                let result = text
                    .lines()
                    .find_map(|l| l.strip_prefix(":test-result: "))
                    .unwrap_or("?")
                    .to_string();
                let name = p.file_stem().unwrap().to_string_lossy().into_owned();
                results.insert(format!("{suite}/{name}"), result);
            }
        }
    }
    results
}

/// A plain GET of `url` (HTTP/1.0): status and body.
fn plain_get(url: &str) -> Option<(u16, Vec<u8>)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut s = std::net::TcpStream::connect(authority).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n").ok()?;
    let mut all = Vec::new();
    s.read_to_end(&mut all).ok()?;
    let end = all.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&all[..end]);
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, all[end + 4..].to_vec()))
}

/// A cache host that holds what a plain GET of each origin returns.
fn mirror() -> TestServer {
    use base64::Engine as _;
    TestServer::start(|req| {
        let origin = req
            .target
            .strip_prefix("/b/")
            .and_then(|t| t.split('/').next())
            .and_then(|t| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(t)
                    .ok()
            })
            .and_then(|b| String::from_utf8(b).ok());
        match origin.and_then(|o| plain_get(&o)) {
            Some((200, body)) => Reply::Http {
                status: 200,
                headers: vec![],
                body,
            },
            _ => Reply::Http {
                status: 404,
                headers: vec![],
                body: vec![],
            },
        }
    })
}

#[test]
fn wgets_own_suite_gives_the_same_results_through_the_shim() {
    let Some(src) = wget_source() else {
        missing_part("wget's Debian source (scripts/install-test-deps fetches it)");
        return;
    };
    if which("perl").is_none() || which("python3").is_none() || which("make").is_none() {
        missing_part("perl, python3 and make");
        return;
    }
    let Some(shim) = release_binary() else { return };
    let Some(build) = build(&src) else { return };
    let real = build.join("src/wget.real");
    let direct = run_suites(&build, &real, &[]);
    assert!(direct.len() > 100, "{} tests ran", direct.len());
    let passed = direct.values().filter(|r| *r == "PASS").count();
    assert!(
        passed > 100,
        "only {passed} tests pass directly: {direct:?}"
    );

    let misses = TestServer::start(|_| Reply::Http {
        status: 404,
        headers: vec![],
        body: vec![],
    });
    let mirror = mirror();
    let runtime = tempfile::tempdir().unwrap();
    let mut report = Vec::new();
    for (mode, server) in [
        ("miss", misses.url()),
        ("dead", format!("http://127.0.0.1:{}", free_port())),
        ("mirror", mirror.url()),
    ] {
        let env = [
            ("WITHCACHE_SERVER", server),
            ("REAL_WGET", real.display().to_string()),
            ("XDG_RUNTIME_DIR", runtime.path().display().to_string()),
            ("WITHCACHE_PROBE_TIMEOUT", "1".to_string()),
            // (The decision log outside the suite's directories.)
            ("XDG_STATE_HOME", STATE_HOME.to_string()),
        ];
        let through = run_suites(&build, &shim, &env);
        for (test, want) in &direct {
            let got = through.get(test).map(String::as_str).unwrap_or("missing");
            if got != want && !INHERENT.iter().any(|(m, t, _)| *m == mode && t == test) {
                report.push(format!(
                    "{mode}: {test}: direct {want}, through the shim {got}"
                ));
            }
        }
    }
    // Leave the build with the real wget as src/wget.
    let _ = std::fs::remove_file(build.join("src/wget"));
    let _ = std::os::unix::fs::symlink(&real, build.join("src/wget"));
    assert!(
        report.is_empty(),
        "{} differences:\n{}",
        report.len(),
        report.join("\n")
    );
}
