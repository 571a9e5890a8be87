//! curl's own test suite as a differential: curl 7.88.1 is built from
//! Debian's source package (fetched by scripts/install-test-deps), and its
//! `runtests.pl` runs the suite's http(s) subset (see `http_subset`) three
//! times at once, each in its own copy of `tests/`: with the real curl, and
//! with the shim (the static release binary, named `curl`) in two modes, a
//! cache host that misses everything and one that is dead (refuses
//! connections). Every test's result must equal the direct run's, except the
//! ones listed in `INHERENT` with the reason each differs. A difference is
//! run again (the test alone, direct and through the shim, one after the
//! other) before it counts, so a test that is slow under load does not fail
//! the comparison.

mod common;

use common::servers::{Reply, TestServer, free_port, which};
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// (mode, test): results that differ by the nature of the mode, and why.
const INHERENT: &[(&str, u32, &str)] = &[
    (
        "miss",
        256,
        "the command's proxy (-x, with -U credentials) is the test's own server, which answers \
         every request with the test's reply and records it: the probe goes through the \
         command's proxy, as it must, so the proxy's log holds the probe's HEAD (and, as the \
         fake proxy answered it 200, the origin check's HEAD) before curl's GET; a real proxy \
         would have forwarded the probe to the cache host's 404",
    ),
    (
        "dead",
        256,
        "as in the miss mode: the probe reaches the test's fake proxy, which answers instead \
         of the dead cache host",
    ),
];

/// Bounds on one runtests.pl run (the whole subset takes about five and a
/// half minutes on the 2-core CI machine; runtests.pl has no per-test
/// bound, so a shim that lost a test's stdin would hang it).
const SUITE_LIMIT: Duration = Duration::from_secs(900);
const RERUN_LIMIT: Duration = Duration::from_secs(300);
/// More differences than this are a broken shim, not slow tests: reported
/// without re-running them.
const RERUN_AT_MOST: usize = 25;

fn sh(dir: &Path, script: &str) -> std::process::Output {
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("bash")
}

/// curl built once per source tree (a copy, so the fetched tree stays
/// clean): the tool, the suite's servers and the one helper program the
/// subset's prechecks use. The libcurl test programs are not needed: tests
/// that run them are not in the subset.
fn build(src: &Path) -> PathBuf {
    let build = Path::new(env!("CARGO_TARGET_TMPDIR")).join("curl-suite");
    if build.join(".built").exists() {
        return build;
    }
    let _ = std::fs::remove_dir_all(&build);
    let make = "make -j2 -s ACLOCAL=true AUTOCONF=true AUTOMAKE=true AUTOHEADER=true";
    let out = sh(
        Path::new("/"),
        &format!("cp -a '{}' '{}'", src.display(), build.display()),
    );
    assert!(out.status.success(), "copying curl's source failed");
    bind_loopback_only(&build);
    let out = sh(
        Path::new("/"),
        &format!(
            "cd '{build}' \
             && ./configure -q --disable-shared --with-openssl --without-libpsl --disable-ldap \
                --without-librtmp >/dev/null \
             && {make} >/dev/null && {make} -C tests/server >/dev/null \
             && {make} -C tests/libtest chkhostname >/dev/null",
            build = build.display(),
        ),
    );
    assert!(
        out.status.success(),
        "building curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(build.join(".built"), "").unwrap();
    build
}

/// curl's test servers listen on every interface (`INADDR_ANY`, stunnel's
/// `accept = PORT`); ours listen on loopback only, so the copy is changed to
/// bind 127.0.0.1 and ::1. Every change must apply: a source that moved on
/// fails here rather than listening wider.
fn bind_loopback_only(build: &Path) {
    let edits: &[(&str, &[(&str, &str)])] = &[
        ("sws.c", &[V4_ANY, V6_ANY]),
        ("sockfilt.c", &[V4_ANY, V6_ANY]),
        ("socksd.c", &[V4_ANY, V6_ANY]),
        ("mqttd.c", &[V4_ANY, V6_ANY]),
        ("rtspd.c", &[V4_ANY, V6_ANY]),
        ("tftpd.c", &[V4_ANY, V6_ANY]),
        (
            "../secureserver.pl",
            &[(
                r#"print STUNCONF "accept = $accept_port\n";"#,
                r#"print STUNCONF "accept = " . ($ipvnum == 6 ? "::1" : "127.0.0.1") . ":$accept_port\n";"#,
            )],
        ),
    ];
    for (file, changes) in edits {
        let path = build.join("tests/server").join(file);
        let mut text = std::fs::read_to_string(&path).unwrap();
        for (from, to) in *changes {
            assert!(text.contains(from), "{file}: no `{from}` to change");
            text = text.replace(from, to);
        }
        std::fs::write(&path, text).unwrap();
    }
}
const V4_ANY: (&str, &str) = (".s_addr = INADDR_ANY;", ".s_addr = htonl(INADDR_LOOPBACK);");
const V6_ANY: (&str, &str) = ("_addr = in6addr_any;", "_addr = in6addr_loopback;");

/// The text of `<name ...>…</name>` in a test file, if present.
fn section<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let start = text.find(&format!("<{name}"))?;
    let rest = &text[start..];
    let end = rest.find(&format!("</{name}>"))?;
    Some(&rest[..end])
}

/// The subset: every test that runs the curl tool itself (not a libcurl
/// test program, not a unit test) with an http:// or https:// URL on its
/// command line, the only URLs the shim probes. Left out: the tests that
/// need the HTTP/2 or HTTP/3 test servers (nghttpx, not packaged with the
/// build dependencies: they would only wait for a server that cannot start).
fn http_subset(tests: &Path) -> Vec<u32> {
    let mut subset = Vec::new();
    for e in std::fs::read_dir(tests.join("data")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(num) = name.strip_prefix("test").and_then(|n| n.parse().ok()) else {
            continue;
        };
        // Test files are mostly ASCII, some carry Latin-1 bytes.
        let text = String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned();
        let runs_curl = section(&text, "tool").is_none()
            && !section(&text, "keywords").is_some_and(|k| k.contains("unittest"));
        let http = section(&text, "command").is_some_and(|c| {
            let c = c.to_ascii_lowercase();
            c.contains("http://") || c.contains("https://")
        });
        let servers = section(&text, "server").unwrap_or("");
        let h2_or_h3 = servers.contains("http/2") || servers.contains("http/3");
        if runs_curl && http && !h2_or_h3 {
            subset.push(num);
        }
    }
    subset.sort_unstable();
    subset
}

/// A fresh copy of the suite's `tests/` directory for one run (beside the
/// original, so its `../src` and `../lib` paths hold).
fn suite_copy(build: &Path, name: &str) -> PathBuf {
    let dir = build.join(format!("tests-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    let out = sh(
        build,
        &format!(
            "cp -a tests '{}' && rm -rf '{}/log'",
            dir.display(),
            dir.display()
        ),
    );
    assert!(out.status.success(), "copying tests/ failed");
    dir
}

/// Starts runtests.pl on `tests` with `curl` as the curl under test (the
/// real curl verifies the servers), its results in automake style.
fn start_runtests(
    dir: &Path,
    curl: &Path,
    real: &Path,
    env: &[(&str, String)],
    tests: &[u32],
) -> SuiteRun {
    let mut cmd = Command::new("perl");
    cmd.arg("./runtests.pl")
        .args(["-a", "-n", "-am", "-c"])
        .arg(curl)
        .arg("-vc")
        .arg(real)
        .args(tests.iter().map(u32::to_string))
        .current_dir(dir)
        // Its own process group, so a run over its bound is stopped with
        // the servers and tools it started.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // runtests.pl puts the user's name in some tests' expectations.
    if std::env::var_os("USER").is_none() {
        cmd.env("USER", "cacheshim");
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    SuiteRun(cmd.spawn().expect("perl runtests.pl"))
}

/// A runtests.pl run; stopped with everything it started if it is dropped
/// unfinished (a bound ran out, or another run's did).
struct SuiteRun(std::process::Child);

impl Drop for SuiteRun {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let group = nix::unistd::Pid::from_raw(self.0.id() as i32);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            let _ = self.0.wait();
        }
    }
}

/// Waits for a runtests.pl run (bounded), returns test -> result: PASS or
/// FAIL from its own report; tests it skipped are absent.
fn results(mut run: SuiteRun, limit: Duration) -> BTreeMap<u32, String> {
    let mut stdout = run.0.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut bytes).ok();
        String::from_utf8_lossy(&bytes).into_owned()
    });
    let deadline = Instant::now() + limit;
    loop {
        if run.0.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            drop(run);
            panic!("runtests.pl ran over {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let text = reader.join().unwrap();
    let mut results = BTreeMap::new();
    for line in text.lines() {
        for verdict in ["PASS", "FAIL"] {
            if let Some(rest) = line.strip_prefix(&format!("{verdict}: "))
                && let Some(num) = rest.split_whitespace().next().and_then(|n| n.parse().ok())
            {
                results.insert(num, verdict.to_string());
            }
        }
    }
    results
}

fn verdict(results: &BTreeMap<u32, String>, test: u32) -> &str {
    results.get(&test).map(String::as_str).unwrap_or("skipped")
}

fn differences(
    direct: &BTreeMap<u32, String>,
    through: &BTreeMap<u32, String>,
    tests: &[u32],
) -> Vec<u32> {
    tests
        .iter()
        .copied()
        .filter(|t| verdict(direct, *t) != verdict(through, *t))
        .collect()
}

#[test]
fn curls_own_suite_gives_the_same_results_through_the_shim() {
    let Some(src) = curl_source() else {
        missing_part("curl's Debian source (scripts/install-test-deps fetches it)");
        return;
    };
    if which("perl").is_none() || which("make").is_none() || which("stunnel4").is_none() {
        missing_part("perl, make and stunnel4");
        return;
    }
    let Some(shim) = release_binary() else { return };
    let build = build(&src);
    let real = build.join("src/curl");
    let subset = http_subset(&build.join("tests"));
    assert!(subset.len() > 600, "{} tests in the subset", subset.len());

    // The shim is dispatched by its name: a symlink named curl.
    let bin = tempfile::tempdir().unwrap();
    let shim_curl = bin.path().join("curl");
    std::os::unix::fs::symlink(&shim, &shim_curl).unwrap();

    let misses = TestServer::start(|_| Reply::Http {
        status: 404,
        headers: vec![],
        body: vec![],
    });
    let dead = format!("http://127.0.0.1:{}", free_port());
    let modes = [("miss", misses.url()), ("dead", dead)];
    let mode_env = |server: &str, runtime: &Path| {
        vec![
            ("WITHCACHE_SERVER", server.to_string()),
            ("REAL_CURL", real.display().to_string()),
            ("XDG_RUNTIME_DIR", runtime.display().to_string()),
            ("WITHCACHE_PROBE_TIMEOUT", "1".to_string()),
            // (The decision log outside the suite's directories.)
            ("XDG_STATE_HOME", STATE_HOME.to_string()),
        ]
    };
    let runtimes: Vec<_> = modes.iter().map(|_| tempfile::tempdir().unwrap()).collect();

    // The three runs at once: they mostly wait (on servers and timeouts).
    let direct_dir = suite_copy(&build, "direct");
    let direct_run = start_runtests(&direct_dir, &real, &real, &[], &subset);
    let mode_runs: Vec<_> = modes
        .iter()
        .zip(&runtimes)
        .map(|((mode, server), runtime)| {
            let dir = suite_copy(&build, mode);
            let child = start_runtests(
                &dir,
                &shim_curl,
                &real,
                &mode_env(server, runtime.path()),
                &subset,
            );
            (dir, child)
        })
        .collect();
    let direct = results(direct_run, SUITE_LIMIT);
    let through: Vec<_> = mode_runs
        .into_iter()
        .map(|(dir, child)| (dir, results(child, SUITE_LIMIT)))
        .collect();

    let passed = direct.values().filter(|r| *r == "PASS").count();
    assert!(passed > 500, "only {passed} tests pass directly");
    // Not vacuous: the shim probed the cache host (tests that do not ask
    // for the origin's headers with --include reach the probe).
    let probes = misses.requests().len();
    eprintln!(
        "{} tests in the subset, {passed} pass directly, {probes} probes in the miss mode",
        subset.len()
    );

    let mut report = Vec::new();
    for (((mode, server), runtime), (dir, got)) in modes.iter().zip(&runtimes).zip(&through) {
        let mut differ = differences(&direct, got, &subset);
        // Run each difference again, alone and without load, twice at most.
        for _ in 0..2 {
            if differ.is_empty() || differ.len() > RERUN_AT_MOST {
                break;
            }
            let again_direct = results(
                start_runtests(&direct_dir, &real, &real, &[], &differ),
                RERUN_LIMIT,
            );
            let again = results(
                start_runtests(
                    dir,
                    &shim_curl,
                    &real,
                    &mode_env(server, runtime.path()),
                    &differ,
                ),
                RERUN_LIMIT,
            );
            differ = differences(&again_direct, &again, &differ);
        }
        let differ: BTreeSet<u32> = differ.into_iter().collect();
        for t in &differ {
            if !INHERENT.iter().any(|(m, n, _)| m == mode && n == t) {
                report.push(format!(
                    "{mode}: test {t}: direct {}, through the shim {}",
                    verdict(&direct, *t),
                    verdict(got, *t)
                ));
            }
        }
        // The list stays honest: an inherent difference that is gone is
        // taken off it.
        for (m, n, _) in INHERENT {
            if m == mode && !differ.contains(n) {
                report.push(format!(
                    "{mode}: test {n} is listed as differing but gives the direct result"
                ));
            }
        }
    }
    if probes < 10 {
        report.push(format!("the miss-mode cache host saw {probes} probes"));
    }
    assert!(
        report.is_empty(),
        "{} differences:\n{}",
        report.len(),
        report.join("\n")
    );
}
