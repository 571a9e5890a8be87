//! Every way the cache host can fail ends exactly like the direct download,
//! within the probe timeout; credentials never reach the cache host; a proxy
//! carries the probe the same way it carries the real tool; a dead cache
//! costs one timeout, not one per call.

mod common;

use common::servers::*;
use common::*;
use std::collections::HashMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const PROBE_TIMEOUT: &str = "1";

struct Bench {
    origin: TestServer,
    body: Vec<u8>,
    url: String,
    shims: tempfile::TempDir,
    curl: PathBuf,
    wget: PathBuf,
}

impl Bench {
    fn new() -> Option<Bench> {
        let (Some(curl), Some(wget)) = (which("curl"), which("wget")) else {
            missing_part("curl and wget (Debian packages)");
            return None;
        };
        let body: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut files = HashMap::new();
        files.insert(b"/pub/a.bin".to_vec(), body.clone());
        files.insert(b"/pub/b.bin".to_vec(), body[..1000].to_vec());
        let origin = origin(files, HashMap::new());
        let url = format!("{}/pub/a.bin", origin.url());
        let shims = tempfile::tempdir().unwrap();
        for name in ["curl", "wget"] {
            symlink(shim_binary(), shims.path().join(name)).unwrap();
        }
        Some(Bench {
            origin,
            body,
            url,
            shims,
            curl,
            wget,
        })
    }

    /// (exit code, stdout, file "f" if any, elapsed)
    fn run(
        &self,
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> (Option<i32>, Vec<u8>, Option<Vec<u8>>, Duration) {
        let work = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("WITHCACHE_REVALIDATE", "off") // (see common::clean_command)
            .env("XDG_STATE_HOME", common::STATE_HOME)
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.shims.path().display()),
            )
            .env("HOME", work.path())
            .current_dir(work.path())
            .args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let start = Instant::now();
        let out = run_bounded(&mut cmd, Duration::from_secs(60));
        let elapsed = start.elapsed();
        (
            out.status.code(),
            out.stdout,
            std::fs::read(work.path().join("f")).ok(),
            elapsed,
        )
    }

    fn shim(&self, name: &str) -> PathBuf {
        self.shims.path().join(name)
    }
}

/// Cache hosts that are broken in every way we could think of.
/// (exit code, stdout, file "f", elapsed) of a direct run and a run through
/// the shim must agree on everything but the time.
type Run = (Option<i32>, Vec<u8>, Option<Vec<u8>>, Duration);

fn assert_same(label: &str, direct: &Run, shim: &Run) {
    assert!(
        (direct.0, &direct.1, &direct.2) == (shim.0, &shim.1, &shim.2),
        "{label}: exit {:?} direct, {:?} through the shim; stdout {} vs {} bytes; file {:?} vs {:?} bytes",
        direct.0,
        shim.0,
        direct.1.len(),
        shim.1.len(),
        direct.2.as_ref().map(Vec::len),
        shim.2.as_ref().map(Vec::len)
    );
}

fn faulty_host(kind: &str, origin_url: &str) -> Option<TestServer> {
    let origin_url = origin_url.to_string();
    Some(match kind {
        "refused" => return None,
        "blackhole" => TestServer::start(|_| Reply::Hang),
        "slow-headers" => TestServer::start(|_| {
            Reply::Delayed(
                Duration::from_secs(3),
                Box::new(Reply::Http {
                    status: 200,
                    headers: vec![],
                    body: b"late".to_vec(),
                }),
            )
        }),
        "500" => TestServer::start(|_| Reply::Http {
            status: 500,
            headers: vec![],
            body: b"internal error".to_vec(),
        }),
        "garbage" => {
            TestServer::start(|_| Reply::Raw(b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n".to_vec()))
        }
        "redirect" => TestServer::start(move |_| Reply::Http {
            status: 302,
            headers: vec![("Location".into(), origin_url.clone())],
            body: vec![],
        }),
        "oversized-headers" => TestServer::start(|_| Reply::Http {
            status: 200,
            headers: vec![("X-Padding".into(), "x".repeat(200 * 1024))],
            body: b"ok".to_vec(),
        }),
        _ => unreachable!(),
    })
}

#[test]
fn every_cache_fault_ends_like_the_direct_download_within_the_probe_timeout() {
    let Some(b) = Bench::new() else { return };
    let limit = Duration::from_secs_f64(PROBE_TIMEOUT.parse::<f64>().unwrap() + 1.5);
    let mut report = Vec::new();
    for kind in [
        "refused",
        "blackhole",
        "slow-headers",
        "500",
        "garbage",
        "redirect",
        "oversized-headers",
    ] {
        let host = faulty_host(kind, &b.url);
        let server = match &host {
            Some(h) => h.url(),
            None => format!("http://127.0.0.1:{}", free_port()),
        };
        for (tool, real, args) in [
            ("curl", &b.curl, vec!["-fsS", "-o", "f", b.url.as_str()]),
            ("wget", &b.wget, vec!["-q", "-O", "f", b.url.as_str()]),
        ] {
            let direct = b.run(real, &args, &[]);
            let env = [
                ("WITHCACHE_SERVER", server.as_str()),
                ("WITHCACHE_PROBE_TIMEOUT", PROBE_TIMEOUT),
                ("WITHCACHE_DOWN_TTL", "0"),
            ];
            let shim = b.run(&b.shim(tool), &args, &env);
            assert_eq!(direct.0, shim.0, "{kind}/{tool}: exit code");
            assert_eq!(direct.1, shim.1, "{kind}/{tool}: stdout");
            assert_eq!(
                shim.2.as_deref(),
                Some(b.body.as_slice()),
                "{kind}/{tool}: file"
            );
            assert!(
                shim.3 < limit,
                "{kind}/{tool}: took {:?} (limit {limit:?})",
                shim.3
            );
            report.push(format!(
                "{kind:>17} {tool}: direct {:>6.1} ms, shim {:>7.1} ms",
                direct.3.as_secs_f64() * 1e3,
                shim.3.as_secs_f64() * 1e3
            ));
        }
    }
    println!(
        "fault timings (probe timeout {PROBE_TIMEOUT} s):\n{}",
        report.join("\n")
    );
}

#[test]
fn a_body_cut_after_a_good_head_is_reported_by_curl_and_cannot_be_undone() {
    // The one fault no shim can fix: the HEAD was fine, the real tool has
    // been exec'd, then the cache host dies mid-transfer. curl reports a
    // partial transfer (exit 18) exactly as it would from any server; the
    // README says so.
    let Some(b) = Bench::new() else { return };
    let body = b.body.clone();
    let host = TestServer::start(move |req| {
        if req.method == "HEAD" {
            Reply::Http {
                status: 200,
                headers: vec![("Content-Length".into(), body.len().to_string())],
                body: vec![],
            }
        } else {
            Reply::CutBody {
                body: body.clone(),
                cut_at: 1000,
            }
        }
    });
    let env = [
        ("WITHCACHE_SERVER", host.url()),
        ("WITHCACHE_DOWN_TTL", "0".into()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, _, file, _) = b.run(&b.shim("curl"), &["-sS", "-o", "f", &b.url], &env);
    assert_eq!(code, Some(18), "curl: partial file");
    assert_eq!(file.map(|f| f.len()), Some(1000));
}

#[test]
fn credentials_never_reach_the_cache_host() {
    let Some(b) = Bench::new() else { return };
    let Some(nginx) = Nginx::start() else { return };
    nginx.put(&b.url, &b.body);
    let miss = format!("{}/pub/b.bin", b.origin.url());
    let in_url = b.url.replace("http://", "http://alice:SECRET8@");
    let signed = format!("{}?X-Amz-Signature=SECRET9", b.url);
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "curl",
            vec!["-fsS", "-u", "alice:SECRET1", "-o", "f", &b.url],
        ),
        (
            "curl",
            vec![
                "-fsS",
                "-H",
                "Authorization: Bearer SECRET2",
                "-o",
                "f",
                &b.url,
            ],
        ),
        (
            "curl",
            vec!["-fsS", "-b", "session=SECRET3", "-o", "f", &b.url],
        ),
        (
            "curl",
            vec!["-fsS", "-H", "Cookie: sid=SECRET4", "-o", "f", &b.url],
        ),
        (
            "wget",
            vec![
                "-q",
                "--user=alice",
                "--password=SECRET5",
                "-O",
                "f",
                &b.url,
            ],
        ),
        (
            "wget",
            vec![
                "-q",
                "--header=Authorization: Bearer SECRET6",
                "-O",
                "f",
                &b.url,
            ],
        ),
        // One URL misses: everything passes through, credentials go to the origin only.
        (
            "curl",
            vec![
                "-fsS",
                "-u",
                "alice:SECRET7",
                "-o",
                "f",
                &b.url,
                "-o",
                "g",
                &miss,
            ],
        ),
        ("curl", vec!["-fsS", "-o", "f", &in_url]),
        ("curl", vec!["-fsS", "-o", "f", &signed]),
    ];
    for (tool, args) in &cases {
        let real = if *tool == "curl" { &b.curl } else { &b.wget };
        let direct = b.run(real, args, &[]);
        let shim = b.run(
            &b.shim(tool),
            args,
            &[
                ("WITHCACHE_SERVER", &nginx.url()),
                ("WITHCACHE_DOWN_TTL", "0"),
            ],
        );
        assert_same(&format!("{tool} {args:?}"), &direct, &shim);
    }
    let log = nginx.access_log();
    // Four all-hit cases (HEAD and GET each) and the mixed one's two HEADs;
    // the cookie, URL-credential and signed cases never reach it at all.
    assert!(
        log.lines().count() >= 10,
        "the cache host saw too little:\n{log}"
    );
    for line in log.lines() {
        assert!(
            line.contains("auth=\"-\"") && line.contains("cookie=\"-\""),
            "credential header reached the cache: {line}"
        );
        assert!(!line.contains("SECRET"), "secret reached the cache: {line}");
        // Nor inside a cache URL's base64 token.
        if let Some(token) = line.split("/b/").nth(1).and_then(|r| r.split('/').next()) {
            use base64::Engine as _;
            let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token)
                .unwrap_or_default();
            assert!(
                !String::from_utf8_lossy(&decoded).contains("SECRET"),
                "secret inside a token: {line}"
            );
        }
    }
    // The hits really were served by the cache host.
    assert!(
        log.lines().filter(|l| l.starts_with("GET /b/")).count() >= 4,
        "{log}"
    );
}

#[test]
fn a_proxy_carries_the_probe_and_the_real_tool_alike() {
    let Some(b) = Bench::new() else { return };
    let Some(nginx) = Nginx::start() else { return };
    let Some(proxy) = Tinyproxy::start() else {
        return;
    };
    nginx.put(&b.url, &b.body);
    for (tool, args) in [
        ("curl", vec!["-fsS", "-o", "f", b.url.as_str()]),
        ("wget", vec!["-q", "-O", "f", b.url.as_str()]),
    ] {
        let before = nginx.access_log().lines().count();
        let env = [
            ("WITHCACHE_SERVER", nginx.url()),
            ("http_proxy", proxy.url()),
            ("WITHCACHE_DOWN_TTL", "0".into()),
        ];
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (code, _, file, _) = b.run(&b.shim(tool), &args, &env);
        assert_eq!(code, Some(0), "{tool}");
        assert_eq!(file.as_deref(), Some(b.body.as_slice()), "{tool}");
        let log = nginx.access_log();
        let lines: Vec<&str> = log.lines().skip(before).collect();
        assert_eq!(
            lines.len(),
            2,
            "{tool}: expected the probe and the download:\n{}",
            lines.join("\n")
        );
        assert!(
            lines[0].starts_with("HEAD /b/") && lines[1].starts_with("GET /b/"),
            "{lines:?}"
        );
        for l in &lines {
            assert!(
                l.contains("via=\"1.1") && l.contains("tinyproxy"),
                "{tool}: not through the proxy: {l}"
            );
        }
    }
    // With the cache host in no_proxy, both go direct.
    let before = nginx.access_log().lines().count();
    let env = [
        ("WITHCACHE_SERVER", nginx.url()),
        ("http_proxy", proxy.url()),
        ("no_proxy", "127.0.0.1".into()),
        ("WITHCACHE_DOWN_TTL", "0".into()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, ..) = b.run(&b.shim("curl"), &["-fsS", "-o", "f", &b.url], &env);
    assert_eq!(code, Some(0));
    let log = nginx.access_log();
    let lines: Vec<&str> = log.lines().skip(before).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines.iter().all(|l| l.contains("via=\"-\"")), "{lines:?}");
}

/// squid's and tinyproxy's usual setting: CONNECT only to port 443. The
/// probe sends the absolute-form request curl and wget send (never CONNECT),
/// so such a proxy carries it like the download; either way the result is
/// the direct download's.
#[test]
fn a_proxy_that_allows_connect_only_to_443_changes_nothing() {
    let Some(b) = Bench::new() else { return };
    let Some(nginx) = Nginx::start() else { return };
    let Some(proxy) = Tinyproxy::start_with("ConnectPort 443\n") else {
        return;
    };
    nginx.put(&b.url, &b.body);
    for (tool, args) in [
        ("curl", vec!["-fsS", "-o", "f", b.url.as_str()]),
        ("wget", vec!["-q", "-O", "f", b.url.as_str()]),
    ] {
        let env = [
            ("WITHCACHE_SERVER", nginx.url()),
            ("http_proxy", proxy.url()),
            ("WITHCACHE_DOWN_TTL", "0".into()),
        ];
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let real = if tool == "curl" { &b.curl } else { &b.wget };
        let direct = b.run(real, &args, &[("http_proxy", proxy.url().as_str())]);
        let before = nginx.access_log().lines().count();
        let shim = b.run(&b.shim(tool), &args, &env);
        assert_eq!(direct.0, Some(0), "{tool} direct");
        assert_eq!(
            (shim.0, &shim.1, &shim.2),
            (direct.0, &direct.1, &direct.2),
            "{tool}"
        );
        let log = nginx.access_log();
        let lines: Vec<&str> = log.lines().skip(before).collect();
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("HEAD /b/") && l.contains("tinyproxy")),
            "{tool}: the probe did not pass the proxy: {lines:?}"
        );
    }
    assert!(
        !proxy.log().contains("CONNECT 127.0.0.1"),
        "something tunnelled: {}",
        proxy.log()
    );
}

#[test]
fn a_dead_cache_costs_one_timeout_not_one_per_call() {
    let Some(b) = Bench::new() else { return };
    let blackhole = TestServer::start(|_| Reply::Hang);
    let runtime = tempfile::tempdir().unwrap();
    let run = |ttl: &str| {
        let env = [
            ("WITHCACHE_SERVER", blackhole.url()),
            ("WITHCACHE_PROBE_TIMEOUT", PROBE_TIMEOUT.to_string()),
            ("XDG_RUNTIME_DIR", runtime.path().display().to_string()),
            ("WITHCACHE_DOWN_TTL", ttl.to_string()),
        ];
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (code, _, file, took) = b.run(&b.shim("curl"), &["-fsS", "-o", "f", &b.url], &env);
        assert_eq!(code, Some(0));
        assert_eq!(file.as_deref(), Some(b.body.as_slice()));
        took
    };
    let direct: Vec<Duration> = (0..10)
        .map(|_| b.run(&b.curl, &["-fsS", "-o", "f", &b.url], &[]).3)
        .collect();
    let first = run("30");
    let timeout = Duration::from_secs_f64(PROBE_TIMEOUT.parse().unwrap());
    assert!(
        first >= timeout && first < timeout + Duration::from_millis(1500),
        "first call took {first:?}"
    );
    let later: Vec<Duration> = (0..10).map(|_| run("30")).collect();
    for t in &later {
        assert!(
            *t < timeout / 2,
            "a call within the TTL still waited: {t:?}"
        );
    }
    // With the memory off, every call pays the timeout again.
    let off = run("0");
    assert!(
        off >= timeout,
        "with WITHCACHE_DOWN_TTL=0 the call took {off:?}"
    );
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (d, l) = (median(direct), median(later));
    println!(
        "dead cache (blackhole, probe timeout {PROBE_TIMEOUT} s): first call {:.1} ms; next 10 calls median {:.2} ms vs direct {:.2} ms (+{:.2} ms); TTL=0 call {:.1} ms",
        first.as_secs_f64() * 1e3,
        l.as_secs_f64() * 1e3,
        d.as_secs_f64() * 1e3,
        (l.as_secs_f64() - d.as_secs_f64()) * 1e3,
        off.as_secs_f64() * 1e3
    );
}

#[test]
fn no_writable_runtime_directory_just_means_no_memory() {
    let Some(b) = Bench::new() else { return };
    let blackhole = TestServer::start(|_| Reply::Hang);
    // /proc accepts no new directories: no memory, but the call still works.
    let env = [
        ("WITHCACHE_SERVER", blackhole.url()),
        ("WITHCACHE_PROBE_TIMEOUT", "0.3".into()),
        ("XDG_RUNTIME_DIR", "/proc".into()),
        ("TMPDIR", "/proc".into()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for _ in 0..2 {
        let (code, _, file, took) = b.run(&b.shim("curl"), &["-fsS", "-o", "f", &b.url], &env);
        assert_eq!(code, Some(0));
        assert_eq!(file.as_deref(), Some(b.body.as_slice()));
        assert!(
            took >= Duration::from_millis(300),
            "{took:?}: remembered without a directory?"
        );
    }
}

/// `wget -qO- BIG | head -c1`: the real tool dies of SIGPIPE when run
/// directly, so it must through the shim too (std's start-up would have set
/// SIGPIPE to "ignored", which exec keeps: BusyBox then exits 1).
#[test]
fn the_real_tool_dies_of_a_closed_pipe_as_it_does_directly() {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let Some(b) = Bench::new() else { return };
    let Some(busybox) = which("busybox") else {
        missing_part("busybox (Debian busybox-static)");
        return;
    };
    let bb_wget = b.shims.path().join("bb");
    std::fs::create_dir_all(&bb_wget).unwrap();
    symlink(&busybox, bb_wget.join("wget")).unwrap();
    let head_c1 = |program: &Path, env: &[(&str, String)]| {
        let mut child = Command::new(program)
            .env_clear()
            .env("WITHCACHE_REVALIDATE", "off") // (see common::clean_command)
            .env("XDG_STATE_HOME", common::STATE_HOME)
            .env("PATH", "/usr/bin:/bin")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .args(["-qO-", &b.url])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut first = [0u8; 1];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        // stdout is closed here, as `head -c1` closes it.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "still running");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    let direct = head_c1(&bb_wget.join("wget"), &[]);
    assert_eq!(
        direct.signal(),
        Some(nix::libc::SIGPIPE),
        "direct: {direct:?}"
    );
    for server in [None, Some(format!("http://127.0.0.1:{}", free_port()))] {
        let mut env = vec![("REAL_WGET", bb_wget.join("wget").display().to_string())];
        if let Some(s) = server.clone() {
            env.push(("WITHCACHE_SERVER", s));
        }
        let via = head_c1(&b.shim("wget"), &env);
        assert_eq!(via.signal(), direct.signal(), "server {server:?}: {via:?}");
    }
}

/// `~/.netrc` with a `default` entry: curl -n sends it to every host, the
/// cache host included, so -n is removed on a hit; wget reads ~/.netrc by
/// itself but uses `default` only for ftp and sends http credentials only
/// after a 401, so nothing reaches the cache host either way.
#[test]
fn netrc_credentials_never_reach_the_cache_host() {
    let Some(b) = Bench::new() else { return };
    let Some(nginx) = Nginx::start() else { return };
    nginx.put(&b.url, &b.body);
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".netrc"),
        "default login alice password NETRCSECRET\n",
    )
    .unwrap();
    let home = home.path().display().to_string();
    for (tool, args) in [
        ("curl", vec!["-sn", "-o", "f", b.url.as_str()]),
        (
            "curl",
            vec!["-s", "--netrc-optional", "-o", "f", b.url.as_str()],
        ),
        ("wget", vec!["-q", "-O", "f", b.url.as_str()]),
    ] {
        let real = if tool == "curl" { &b.curl } else { &b.wget };
        let direct = b.run(real, &args, &[("HOME", home.as_str())]);
        let before = nginx.access_log().lines().count();
        let shim = b.run(
            &b.shim(tool),
            &args,
            &[
                ("HOME", home.as_str()),
                ("WITHCACHE_SERVER", &nginx.url()),
                ("WITHCACHE_DOWN_TTL", "0"),
            ],
        );
        assert_same(&format!("{tool} {args:?}"), &direct, &shim);
        let log = nginx.access_log();
        let lines: Vec<&str> = log.lines().skip(before).collect();
        assert!(
            lines.iter().any(|l| l.starts_with("GET /b/")),
            "{tool} {args:?}: not a hit: {lines:?}"
        );
        for l in lines {
            assert!(l.contains("auth=\"-\""), "{tool} {args:?}: {l}");
        }
    }
    // The direct run did send them to the origin (the test can fail).
    assert!(
        b.origin
            .requests()
            .iter()
            .any(|r| r.header("authorization").is_some()),
        "curl -n sent nothing to the origin"
    );
}

/// curl 7.88 reads ~/.config/curlrc when XDG_CONFIG_HOME and CURL_HOME are
/// unset; a header there goes to whatever host curl asks, the cache host too.
#[test]
fn config_files_the_real_curl_reads_are_read_by_the_shim() {
    let Some(b) = Bench::new() else { return };
    let Some(nginx) = Nginx::start() else { return };
    nginx.put(&b.url, &b.body);
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".config")).unwrap();
    std::fs::write(
        home.path().join(".config/curlrc"),
        "header = \"Authorization: Bearer CONFIGSECRET\"\n",
    )
    .unwrap();
    let home = home.path().display().to_string();
    config_header_reaches_the_origin_only(
        &b,
        &nginx,
        "curl",
        &["-sL", "-o", "f", b.url.as_str()],
        ("HOME", &home),
        "CONFIGSECRET",
    );
}

/// The direct run sends the config file's `Authorization: Bearer SECRET`
/// to the origin (so the tool read the file); through the shim the result
/// is the same and the cache host never sees it.
fn config_header_reaches_the_origin_only(
    b: &Bench,
    nginx: &Nginx,
    tool: &str,
    args: &[&str],
    config_var: (&str, &str),
    secret: &str,
) {
    let real = if tool == "curl" { &b.curl } else { &b.wget };
    b.origin.clear();
    let direct = b.run(real, args, &[config_var]);
    let bearer = format!("Bearer {secret}");
    assert!(
        b.origin
            .requests()
            .iter()
            .any(|r| r.header("authorization") == Some(bearer.as_str())),
        "the real {tool} did not read {}",
        config_var.0
    );
    let shim = b.run(
        &b.shim(tool),
        args,
        &[
            config_var,
            ("WITHCACHE_SERVER", &nginx.url()),
            ("WITHCACHE_DOWN_TTL", "0"),
        ],
    );
    assert_same(&format!("{tool} with {}", config_var.0), &direct, &shim);
    let log = nginx.access_log();
    assert!(!log.contains(secret), "{log}");
}

/// `no_proxy` as each tool reads it (curl: `*` only as the whole list, no
/// `*.` patterns; wget: suffixes, no `*` at all): the probe takes the road
/// the real tool takes, so a proxy that fails the tool fails the probe too.
#[test]
fn the_probe_reads_no_proxy_as_the_real_tool_does() {
    let Some(b) = Bench::new() else { return };
    let Some(nginx) = Nginx::start() else { return };
    nginx.put(&b.url, &b.body);
    let proxy = TestServer::start(|_| Reply::Http {
        status: 502,
        headers: vec![],
        body: b"<html>502 Bad Gateway from the proxy</html>\n".to_vec(),
    });
    for (tool, no_proxy) in [("curl", "*.localhost"), ("curl", "x.com, *"), ("wget", "*")] {
        proxy.clear();
        let args = if tool == "curl" {
            vec!["-s", "-o", "f", b.url.as_str()]
        } else {
            vec!["-q", "-O", "f", b.url.as_str()]
        };
        let real = if tool == "curl" { &b.curl } else { &b.wget };
        let proxy_env = [
            ("http_proxy", proxy.url()),
            ("no_proxy", no_proxy.to_string()),
        ];
        let proxy_env: Vec<(&str, &str)> =
            proxy_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let direct = b.run(real, &args, &proxy_env);
        assert!(
            !proxy.requests().is_empty(),
            "{tool} {no_proxy}: the tool went direct"
        );
        proxy.clear();
        let mut env = proxy_env.clone();
        let server = nginx.url();
        env.extend([
            ("WITHCACHE_SERVER", server.as_str()),
            ("WITHCACHE_DOWN_TTL", "0"),
        ]);
        let shim = b.run(&b.shim(tool), &args, &env);
        assert_same(&format!("{tool} no_proxy={no_proxy}"), &direct, &shim);
        assert!(
            proxy.requests().iter().any(|r| r.method == "HEAD"),
            "{tool} no_proxy={no_proxy}: the probe did not take the proxy: {:?}",
            proxy.requests()
        );
    }
}

/// Credential headers we do not know by name: a header is kept on a rewrite
/// only if it is known to leave the answer alone, and removed only if it is
/// a known credential; anything else passes through. None reaches the cache.
#[test]
fn credential_headers_we_do_not_know_by_name_never_reach_the_cache_host() {
    let Some(b) = Bench::new() else { return };
    let path = cache_path(&b.url);
    let body = b.body.clone();
    let cache = TestServer::start(move |req| {
        if req.target == path {
            Reply::Http {
                status: 200,
                headers: vec![("Accept-Ranges".into(), "bytes".into())],
                body: body.clone(),
            }
        } else {
            Reply::Http {
                status: 404,
                headers: vec![],
                body: vec![],
            }
        }
    });
    for header in [
        "X-JFrog-Art-Api: SECRETa",
        "X-Password: SECRETb",
        "Signature: keyId=\"SECRETc\"",
        "X-Credential: SECRETd",
        "Cookie2: SECRETe",
        "X-A: b\r\nAuthorization: Bearer SECRETf",
        "PRIVATE-TOKEN: SECRETg",
    ] {
        let args = ["-sL", "-H", header, "-o", "f", b.url.as_str()];
        let direct = b.run(&b.curl, &args, &[]);
        let shim = b.run(
            &b.shim("curl"),
            &args,
            &[
                ("WITHCACHE_SERVER", &cache.url()),
                ("WITHCACHE_DOWN_TTL", "0"),
            ],
        );
        assert_same(&format!("{header:?}"), &direct, &shim);
    }
    let wget_args = [
        "-q",
        "--header=X-JFrog-Art-Api: SECRETh",
        "-O",
        "f",
        b.url.as_str(),
    ];
    let shim = b.run(
        &b.shim("wget"),
        &wget_args,
        &[
            ("WITHCACHE_SERVER", &cache.url()),
            ("WITHCACHE_DOWN_TTL", "0"),
        ],
    );
    assert_eq!(shim.0, Some(0));
    for r in cache.requests() {
        let all = format!("{} {:?}", r.target, r.headers);
        assert!(!all.contains("SECRET"), "reached the cache host: {all}");
    }
}

/// `curl -6` (and `-4`): the probe keeps to the address family the real curl
/// will use. The origin answers on IPv6 loopback, the cache host only on
/// IPv4: an IPv6-only curl cannot reach the cache host, so the command must
/// run as written (before, the probe went over IPv4, said "hit", and curl -6
/// then failed on the cache URL where the direct download worked).
#[test]
fn the_probe_keeps_to_the_address_family_of_the_real_tool() {
    let Some(b) = Bench::new() else { return };
    let Some(nginx) = Nginx::start() else { return };
    let body = b.body.clone();
    let origin6 = TestServer::start_v6(move |_| Reply::Http {
        status: 200,
        headers: vec![],
        body: body.clone(),
    });
    let url6 = format!("{}/pub/a.bin", origin6.url());
    nginx.put(&url6, &b.body);
    for (tool, args) in [
        ("curl", vec!["-6", "-gsL", "-o", "f", url6.as_str()]),
        ("wget", vec!["-6", "-q", "-O", "f", url6.as_str()]),
    ] {
        let real = if tool == "curl" { &b.curl } else { &b.wget };
        let direct = b.run(real, &args, &[]);
        assert_eq!(
            direct.0,
            Some(0),
            "{tool}: the IPv6 origin is not reachable"
        );
        let shim = b.run(
            &b.shim(tool),
            &args,
            &[
                ("WITHCACHE_SERVER", &nginx.url()),
                ("WITHCACHE_DOWN_TTL", "0"),
            ],
        );
        assert_same(&format!("{tool} {args:?}"), &direct, &shim);
    }
    // -4 with the IPv4 cache host: a hit.
    nginx.put(&b.url, &b.body);
    let before = nginx.access_log().lines().count();
    let shim = b.run(
        &b.shim("curl"),
        &["-4", "-sL", "-o", "f", b.url.as_str()],
        &[
            ("WITHCACHE_SERVER", &nginx.url()),
            ("WITHCACHE_DOWN_TTL", "0"),
        ],
    );
    assert_eq!(shim.2.as_deref(), Some(b.body.as_slice()));
    assert!(
        nginx
            .access_log()
            .lines()
            .skip(before)
            .any(|l| l.starts_with("GET /b/"))
    );
}

/// wget reads `$SYSTEM_WGETRC` (when it exists) instead of /etc/wgetrc; a
/// header there goes to every host wget asks.
#[test]
fn the_system_wgetrc_wget_reads_is_read_by_the_shim() {
    let Some(b) = Bench::new() else { return };
    let Some(nginx) = Nginx::start() else { return };
    nginx.put(&b.url, &b.body);
    let rc = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(rc.path(), "header = Authorization: Bearer WGETRCSECRET\n").unwrap();
    let rc = rc.path().display().to_string();
    config_header_reaches_the_origin_only(
        &b,
        &nginx,
        "wget",
        &["-q", "-O", "f", b.url.as_str()],
        ("SYSTEM_WGETRC", &rc),
        "WGETRCSECRET",
    );
}
