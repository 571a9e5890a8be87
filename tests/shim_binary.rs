//! The built binary, symlinked (or copied) as curl and wget, with a fake real
//! tool that reports its argv and a loopback cache host.

mod common;

use common::servers::{Reply, TestServer, free_port, which};
use common::*;
use std::ffi::OsString;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(20);

/// shims/{curl,wget,curlwithcache,wgetwithcache} -> the binary; real/{curl,wget} = fake tool.
struct Layout {
    dir: tempfile::TempDir,
}

impl Layout {
    fn new() -> Option<Layout> {
        let Some(fake) = fake_tool() else {
            missing_part("a C compiler (cc) for the fake real tool");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let shims = dir.path().join("shims");
        let real = dir.path().join("real");
        std::fs::create_dir_all(&shims).unwrap();
        std::fs::create_dir_all(&real).unwrap();
        for name in ["curl", "wget", "curlwithcache", "wgetwithcache"] {
            symlink(shim_binary(), shims.join(name)).unwrap();
        }
        for name in ["curl", "wget"] {
            std::fs::copy(&fake, real.join(name)).unwrap();
        }
        Some(Layout { dir })
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    fn path_var(&self, dirs: &[&str]) -> OsString {
        let joined: Vec<String> = dirs
            .iter()
            .map(|d| self.path(d).display().to_string())
            .collect();
        OsString::from(joined.join(":"))
    }

    /// `shims/NAME ARGS` with PATH=shims:real and only `env` set.
    fn run(&self, name: &str, args: &[OsString], env: &[(&str, &str)]) -> std::process::Output {
        let mut cmd = clean_command(self.path("shims").join(name));
        cmd.args(args)
            .env("PATH", self.path_var(&["shims", "real"]));
        for (k, v) in env {
            cmd.env(k, v);
        }
        run_bounded(&mut cmd, LIMIT)
    }
}

fn fake_saw(out: &std::process::Output) -> FakeRun {
    parse_fake_output(&out.stdout).unwrap_or_else(|| {
        panic!(
            "the fake real tool did not run; status {:?}, stderr {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn args(a: &[&str]) -> Vec<OsString> {
    a.iter().map(|s| os(s)).collect()
}

/// A cache host holding `origins` (one request per connection, like the
/// simplest static server).
fn hit_host(origins: &[&str]) -> TestServer {
    let held: Vec<String> = origins.iter().map(|o| cache_path(o)).collect();
    TestServer::start(move |req| Reply::Http {
        status: if held.contains(&req.target) { 200 } else { 404 },
        headers: vec![],
        body: b"cached bytes".to_vec(),
    })
}

#[test]
fn server_unset_is_a_pure_pass_through_with_no_network() {
    let Some(l) = Layout::new() else { return };
    let host = hit_host(&["https://dl.example.com/f.tgz"]);
    // Any request the shim made, directly or through a proxy, would land here.
    let proxy = host.url();
    let out = l.run(
        "curl",
        &args(&["-fsSLO", "https://dl.example.com/f.tgz"]),
        &[
            ("WITHCACHE_SERVER", ""),
            ("http_proxy", &proxy),
            ("ALL_PROXY", &proxy),
        ],
    );
    let saw = fake_saw(&out);
    assert_eq!(saw.argv0, "curl");
    assert_eq!(saw.args, args(&["-fsSLO", "https://dl.example.com/f.tgz"]));
    assert!(
        host.requests().is_empty(),
        "requests reached the cache: {:?}",
        host.requests()
    );
}

#[test]
fn hit_rewrites_only_the_url_and_probes_with_one_head() {
    let Some(l) = Layout::new() else { return };
    let origin = "https://dl.example.com/cuda/cuda_12.4.run";
    let host = hit_host(&[origin]);
    let out = l.run(
        "curl",
        &args(&["-fsSL", "-o", "cuda.run", origin]),
        &[("WITHCACHE_SERVER", &host.url())],
    );
    let saw = fake_saw(&out);
    let cache_url = format!("{}{}", host.url(), cache_path(origin));
    assert_eq!(saw.args, args(&["-fsSL", "-o", "cuda.run", &cache_url]));
    let reqs = host.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(reqs[0].method, "HEAD");
    assert_eq!(reqs[0].target, cache_path(origin));
    let ua = reqs[0].header("user-agent").unwrap_or_default();
    assert!(ua.starts_with("cacheshim/"), "user agent {ua:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn miss_passes_the_command_through() {
    let Some(l) = Layout::new() else { return };
    let host = hit_host(&[]);
    let a = args(&["-q", "https://dl.example.com/f.tgz"]);
    let out = l.run("wget", &a, &[("WITHCACHE_SERVER", &host.url())]);
    let saw = fake_saw(&out);
    assert_eq!(saw.argv0, "wget");
    assert_eq!(saw.args, a);
    assert_eq!(host.requests().len(), 1);
}

#[test]
fn every_name_dispatches_to_its_tool() {
    let Some(l) = Layout::new() else { return };
    let origin = "https://dl.example.com/f.tgz";
    let host = hit_host(&[origin]);
    for (name, tool) in [
        ("curl", "curl"),
        ("curlwithcache", "curl"),
        ("wget", "wget"),
        ("wgetwithcache", "wget"),
    ] {
        let out = l.run(name, &args(&[origin]), &[("WITHCACHE_SERVER", &host.url())]);
        let saw = fake_saw(&out);
        assert_eq!(saw.argv0, tool, "invoked as {name}");
        assert_eq!(
            saw.args,
            vec![os(&format!("{}{}", host.url(), cache_path(origin)))]
        );
    }
}

#[test]
fn credentials_are_removed_and_never_reach_the_cache_host() {
    let Some(l) = Layout::new() else { return };
    let origin = "https://dl.example.com/private.tgz";
    let host = hit_host(&[origin]);
    let out = l.run(
        "curl",
        &args(&[
            "-fsu",
            "alice:s3cret",
            "-H",
            "Authorization: Bearer tok",
            "-O",
            origin,
        ]),
        &[("WITHCACHE_SERVER", &host.url())],
    );
    let saw = fake_saw(&out);
    assert_eq!(
        saw.args,
        args(&[
            "-fs",
            "-O",
            &format!("{}{}", host.url(), cache_path(origin))
        ])
    );
    for r in host.requests() {
        assert!(r.header("authorization").is_none(), "{r:?}");
        assert!(!format!("{r:?}").contains("s3cret"), "{r:?}");
    }
}

#[test]
fn non_utf8_arguments_survive_byte_for_byte() {
    let Some(l) = Layout::new() else { return };
    let origin = "https://dl.example.com/f.tgz";
    let host = hit_host(&[origin]);
    let odd = bytes_arg(b"caf\xe9-\xff.tgz");
    // Pass-through (no server) and rewrite (hit) both keep the bytes.
    let out = l.run("curl", &[os("-o"), odd.clone(), os(origin)], &[]);
    assert_eq!(fake_saw(&out).args, vec![os("-o"), odd.clone(), os(origin)]);
    let out = l.run(
        "curl",
        &[os("-o"), odd.clone(), os(origin)],
        &[("WITHCACHE_SERVER", &host.url())],
    );
    let cache_url = os(&format!("{}{}", host.url(), cache_path(origin)));
    assert_eq!(fake_saw(&out).args, vec![os("-o"), odd, cache_url]);
    // A non-UTF-8 URL is left alone, not mangled.
    let weird_url = bytes_arg(b"https://dl.example.com/\xff.tgz");
    let out = l.run(
        "wget",
        std::slice::from_ref(&weird_url),
        &[("WITHCACHE_SERVER", &host.url())],
    );
    assert_eq!(fake_saw(&out).args, vec![weird_url]);
}

#[test]
fn missing_real_tool_is_a_one_line_error_with_127() {
    let Some(l) = Layout::new() else { return };
    let mut cmd = clean_command(l.path("shims/curl"));
    cmd.arg("https://dl.example.com/f.tgz")
        .env("PATH", l.path_var(&["shims"]));
    let out = run_bounded(&mut cmd, LIMIT);
    assert_eq!(out.status.code(), Some(127));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("no real curl") && err.contains("REAL_CURL"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn real_tool_override_and_an_override_that_names_the_shim() {
    let Some(l) = Layout::new() else { return };
    let other = l.path("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::copy(l.path("real/curl"), other.join("mycurl")).unwrap();
    let over = other.join("mycurl");
    let out = l.run(
        "curl",
        &args(&["x"]),
        &[("REAL_CURL", over.to_str().unwrap())],
    );
    assert_eq!(fake_saw(&out).argv0, "curl");
    assert!(out.status.success());
    // REAL_CURL naming the shim itself is ignored: PATH still finds the real one.
    let shim = l.path("shims/curl");
    let out = l.run(
        "curl",
        &args(&["x"]),
        &[("REAL_CURL", shim.to_str().unwrap())],
    );
    assert_eq!(fake_saw(&out).args, args(&["x"]));
}

#[test]
fn exit_status_of_the_real_tool_is_the_shims() {
    let Some(l) = Layout::new() else { return };
    let out = l.run(
        "curl",
        &args(&["https://dl.example.com/f.tgz"]),
        &[("FAKE_EXIT", "42")],
    );
    assert_eq!(out.status.code(), Some(42));
}

#[test]
fn a_real_tool_that_cannot_be_executed_gives_126() {
    let Some(l) = Layout::new() else { return };
    let bad = l.path("bad-curl");
    std::fs::write(&bad, "this is not a program\n").unwrap();
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = l.run(
        "curl",
        &args(&["x"]),
        &[("REAL_CURL", bad.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(126));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot run"), "{err}");
}

#[test]
fn unreachable_cache_passes_through_quickly() {
    let Some(l) = Layout::new() else { return };
    // A port nobody listens on: connection refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    let out = l.run(
        "curl",
        &args(&["-O", "https://dl.example.com/f.tgz"]),
        &[("WITHCACHE_SERVER", &server)],
    );
    assert_eq!(
        fake_saw(&out).args,
        args(&["-O", "https://dl.example.com/f.tgz"])
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn debug_line_goes_to_stderr_only() {
    let Some(l) = Layout::new() else { return };
    let origin = "https://dl.example.com/f.tgz";
    let host = hit_host(&[origin]);
    let out = l.run(
        "curl",
        &args(&["-u", "a:topsecret", origin]),
        &[("WITHCACHE_SERVER", &host.url()), ("WITHCACHE_DEBUG", "1")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("rewrote 1/1") && err.contains("removed --user") && err.contains(" ms"),
        "{err}"
    );
    assert!(!err.contains("topsecret"), "{err}");
    // stdout is exactly the fake tool's output.
    assert!(parse_fake_output(&out.stdout).is_some());
    let out = l.run("curl", &args(&[origin]), &[("WITHCACHE_DEBUG", "1")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pass-through (no-server)"), "{err}");
}

// ---- loops: copies, links and chains of shims must end at the real tool ----

fn copy_exec(from: &Path, to: &Path, extra: &[u8]) {
    let mut bytes = std::fs::read(from).unwrap();
    bytes.extend_from_slice(extra);
    std::fs::write(to, bytes).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn run_in(l: &Layout, program: &Path, path_dirs: &[&str]) -> std::process::Output {
    let mut cmd = clean_command(program);
    cmd.arg("https://dl.example.com/f.tgz")
        .env("PATH", l.path_var(path_dirs))
        .env("WITHCACHE_DEBUG", "1");
    run_bounded(&mut cmd, LIMIT)
}

fn mkdirs(l: &Layout, dirs: &[&str]) {
    for d in dirs {
        std::fs::create_dir_all(l.path(d)).unwrap();
    }
}

#[test]
fn two_identical_copies_on_path_skip_each_other() {
    let Some(l) = Layout::new() else { return };
    mkdirs(&l, &["a", "b"]);
    copy_exec(&shim_binary(), &l.path("a/curl"), b"");
    copy_exec(&shim_binary(), &l.path("b/curl"), b"");
    // With a real curl behind them: straight there, no extra hop.
    let out = run_in(&l, &l.path("a/curl"), &["a", "b", "real"]);
    let saw = fake_saw(&out);
    assert_eq!(saw.hops, "1", "{}", String::from_utf8_lossy(&out.stderr));
    // Without one: a clear 127, not an endless exec loop.
    let start = Instant::now();
    let out = run_in(&l, &l.path("a/curl"), &["a", "b"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn two_different_shim_builds_end_within_one_extra_hop() {
    let Some(l) = Layout::new() else { return };
    mkdirs(&l, &["a", "b"]);
    // An "older version": different bytes, still a working shim.
    copy_exec(&shim_binary(), &l.path("a/curl"), b"\0older build");
    copy_exec(&shim_binary(), &l.path("b/curl"), b"");
    let out = run_in(&l, &l.path("a/curl"), &["a", "b", "real"]);
    let saw = fake_saw(&out);
    assert_eq!(saw.hops, "2", "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(saw.chain.split(',').count(), 2, "{}", saw.chain);
    let out = run_in(&l, &l.path("a/curl"), &["a", "b"]);
    assert_eq!(
        out.status.code(),
        Some(127),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn symlink_chains_and_hard_links_are_recognised() {
    let Some(l) = Layout::new() else { return };
    mkdirs(&l, &["a", "b", "c", "store"]);
    // a/curl -> b/link -> the binary
    symlink(shim_binary(), l.path("b/link")).unwrap();
    symlink(l.path("b/link"), l.path("a/curl")).unwrap();
    let out = run_in(&l, &l.path("a/curl"), &["a", "real"]);
    assert_eq!(fake_saw(&out).hops, "1");
    // Hard links of one copy in two PATH directories.
    copy_exec(&shim_binary(), &l.path("store/cacheshim"), b"\0hard");
    std::fs::hard_link(l.path("store/cacheshim"), l.path("b/curl")).unwrap();
    std::fs::hard_link(l.path("store/cacheshim"), l.path("c/curl")).unwrap();
    let out = run_in(&l, &l.path("b/curl"), &["b", "c", "real"]);
    assert_eq!(fake_saw(&out).hops, "1");
}

#[test]
fn hop_cap_stops_with_a_clear_message() {
    let Some(l) = Layout::new() else { return };
    let out = l.run("curl", &args(&["x"]), &[("CACHESHIM_HOPS", "20")]);
    assert_eq!(out.status.code(), Some(127));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("REAL_CURL"), "{err}");
}

#[test]
fn a_script_run_by_the_real_tool_can_call_curl_again() {
    // The chain variable leaks into the real tool's children; it must only
    // make later shims skip shims, never stop them from caching.
    let Some(l) = Layout::new() else { return };
    let origin = "https://dl.example.com/f.tgz";
    let host = hit_host(&[origin]);
    let first = l.run("curl", &args(&["x"]), &[]);
    let saw = fake_saw(&first);
    let out = l.run(
        "curl",
        &args(&[origin]),
        &[
            ("WITHCACHE_SERVER", &host.url()),
            ("CACHESHIM_CHAIN", &saw.chain),
            ("CACHESHIM_HOPS", &saw.hops),
        ],
    );
    let again = fake_saw(&out);
    assert_eq!(
        again.args,
        vec![os(&format!("{}{}", host.url(), cache_path(origin)))]
    );
    assert_eq!(again.hops, "2");
}

#[test]
fn a_bug_in_planning_still_runs_the_real_tool_as_written() {
    // CACHESHIM_TEST_PANIC (debug builds only) panics inside the planner.
    let Some(l) = Layout::new() else { return };
    let host = hit_host(&["https://dl.example.com/f.tgz"]);
    let a = args(&["-u", "a:b", "-O", "https://dl.example.com/f.tgz"]);
    let out = l.run(
        "curl",
        &a,
        &[
            ("WITHCACHE_SERVER", &host.url()),
            ("CACHESHIM_TEST_PANIC", "1"),
        ],
    );
    assert_eq!(fake_saw(&out).args, a);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("internal error") && err.contains("running the real curl as written"),
        "{err}"
    );
}

#[test]
fn several_urls_are_all_probed_even_when_the_host_closes_after_each_answer() {
    // This cache host answers one request per connection (Connection: close):
    // the pipelined connection gets one answer, the rest are asked again.
    let Some(l) = Layout::new() else { return };
    let origins = [
        "https://a.example.com/1.bin",
        "https://a.example.com/2.bin",
        "https://a.example.com/3.bin",
    ];
    let host = hit_host(&origins[..2]);
    let mut a = vec![os("-s")];
    a.extend(origins.iter().map(|o| os(o)));
    let out = l.run("curl", &a, &[("WITHCACHE_SERVER", &host.url())]);
    let saw = fake_saw(&out);
    let cached = |o: &str| os(&format!("{}{}", host.url(), cache_path(o)));
    assert_eq!(
        saw.args,
        vec![
            os("-s"),
            cached(origins[0]),
            cached(origins[1]),
            os(origins[2])
        ]
    );
    let heads = host
        .requests()
        .iter()
        .filter(|r| r.method == "HEAD")
        .count();
    assert!(heads >= 3, "every URL probed: {:?}", host.requests());
}

#[test]
fn urls_the_url_parser_reads_with_credentials_are_never_probed_nor_rewritten() {
    let Some(l) = Layout::new() else { return };
    // A cache host that would say "hit" to anything.
    let host = TestServer::start(|_| Reply::Http {
        status: 200,
        headers: vec![],
        body: b"cached bytes".to_vec(),
    });
    // curl accepts one to three slashes and sends these credentials; the
    // WHATWG parser in `url` sees them too.
    for url in [
        "http:///alice:hunter2@127.0.0.1:18080/f.bin",
        "HTTP:///alice:hunter2@127.0.0.1:18080/f.bin",
        "http:\\\\alice:hunter2@127.0.0.1:18080\\f.bin",
        "http://alice%40corp:hunter2@127.0.0.1:18080/f.bin",
        "http:///alice@127.0.0.1:18080/f.bin",
        "https://alice@dl.example.com/f.bin",
    ] {
        for tool in ["curl", "wget"] {
            let out = l.run(
                tool,
                &args(&["-o", "f.bin", url]),
                &[("WITHCACHE_SERVER", &host.url())],
            );
            let saw = fake_saw(&out);
            assert_eq!(saw.args, args(&["-o", "f.bin", url]), "{tool} {url}");
        }
    }
    assert!(host.requests().is_empty(), "{:?}", host.requests());
}

#[test]
fn with_path_unset_the_real_tool_is_found_on_the_default_path_not_in_the_cwd() {
    let Some(l) = Layout::new() else { return };
    if which("curl").is_none() {
        missing_part("curl (Debian package)");
        return;
    }
    // A planted ./curl in the working directory must not run.
    let cwd = l.path("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    std::fs::copy(l.path("real/curl"), cwd.join("curl")).unwrap();
    for server in [None, Some("http://127.0.0.1:9")] {
        let mut cmd = clean_command(l.path("shims").join("curl"));
        cmd.arg("--version").current_dir(&cwd);
        if let Some(s) = server {
            cmd.env("WITHCACHE_SERVER", s);
        }
        let out = run_bounded(&mut cmd, LIMIT);
        assert_eq!(out.status.code(), Some(0), "{server:?}: {out:?}");
        assert!(
            out.stdout.starts_with(b"curl "),
            "{server:?}: not the real curl: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn argv0_naming_neither_tool_is_decided_by_the_executed_path() {
    use std::os::unix::process::CommandExt;
    let Some(l) = Layout::new() else { return };
    for argv0 in ["fetcher", ""] {
        let mut cmd = clean_command(l.path("shims").join("curl"));
        cmd.arg0(argv0)
            .args(["-s", "http://127.0.0.1:9/f"])
            .env("PATH", l.path_var(&["shims", "real"]));
        let out = run_bounded(&mut cmd, LIMIT);
        let saw = fake_saw(&out);
        assert_eq!(saw.argv0, os("curl"), "argv0 {argv0:?}");
        assert_eq!(saw.args, args(&["-s", "http://127.0.0.1:9/f"]));
    }
}

#[test]
fn a_dead_proxy_of_one_command_does_not_mark_the_cache_down_for_the_others() {
    let Some(l) = Layout::new() else { return };
    let origin = "https://dl.example.com/f.bin";
    let host = hit_host(&[origin]);
    let runtime = tempfile::tempdir().unwrap();
    let env = [
        ("WITHCACHE_SERVER", host.url()),
        ("XDG_RUNTIME_DIR", runtime.path().display().to_string()),
        ("WITHCACHE_PROBE_TIMEOUT", "0.5".into()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dead = format!("http://127.0.0.1:{}", free_port());
    let out = l.run("curl", &args(&["-x", &dead, "-O", origin]), &env);
    assert_eq!(fake_saw(&out).args, args(&["-x", &dead, "-O", origin]));
    // Direct, the cache host is fine: still a hit right after.
    let out = l.run("curl", &args(&["-O", origin]), &env);
    let cache_url = format!("{}{}", host.url(), cache_path(origin));
    assert_eq!(fake_saw(&out).args, args(&["-O", &cache_url]));
    // The same dead proxy again is remembered: no second probe.
    let mut with_debug = env.clone();
    with_debug.push(("WITHCACHE_DEBUG", "1"));
    let out = l.run("curl", &args(&["-x", &dead, "-O", origin]), &with_debug);
    assert_eq!(fake_saw(&out).args, args(&["-x", &dead, "-O", origin]));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("cache-down"), "{said}");
}

#[test]
fn a_real_curl_override_that_is_a_wrapper_calling_curl_reaches_the_real_tool() {
    let Some(l) = Layout::new() else { return };
    let wrapper = l.path("wrap-curl");
    std::fs::write(&wrapper, "#!/bin/sh\nexec curl \"$@\"\n").unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let wrapper_env = wrapper.display().to_string();
    let mut cmd = clean_command(l.path("shims").join("curl"));
    cmd.args(["-s", "http://127.0.0.1:9/f"])
        .env(
            "PATH",
            format!(
                "{}:/bin:/usr/bin",
                l.path_var(&["shims", "real"]).to_string_lossy()
            ),
        )
        .env("REAL_CURL", &wrapper_env);
    let out = run_bounded(&mut cmd, LIMIT);
    let saw = fake_saw(&out);
    assert_eq!(saw.args, args(&["-s", "http://127.0.0.1:9/f"]));
    // shim -> wrapper -> shim -> the real (fake) curl: two shim hops.
    assert_eq!(saw.hops, "2");
}

#[test]
fn a_rewrite_over_the_exec_limits_runs_the_command_as_written() {
    let Some(l) = Layout::new() else { return };
    let arg_max: usize = String::from_utf8(
        std::process::Command::new("getconf")
            .arg("ARG_MAX")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    // URLs filling ~85% of ARG_MAX as written; their cache URLs (base64 of
    // the URL, a third longer, plus the server) do not fit.
    let url_len = 200;
    let count = arg_max * 85 / 100 / (url_len + 1 + 8);
    let origins: Vec<String> = (0..count)
        .map(|i| {
            let name = format!("/f{i}.bin");
            let pad = "p".repeat(url_len - "https://dl.example.com/".len() - name.len());
            format!("https://dl.example.com/{pad}{name}")
        })
        .collect();
    let held: std::collections::HashSet<String> = origins.iter().map(|o| cache_path(o)).collect();
    let host = TestServer::start(move |req| Reply::Http {
        status: if held.contains(&req.target) { 200 } else { 404 },
        headers: vec![],
        body: vec![],
    });
    let mut argv = vec![os("-sL")];
    argv.extend(origins.iter().map(|o| os(o)));
    let out = l.run(
        "curl",
        &argv,
        &[
            ("WITHCACHE_SERVER", &host.url()),
            ("WITHCACHE_DEBUG", "1"),
            ("WITHCACHE_PROBE_TIMEOUT", "120"),
        ],
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("arg-list-too-long"),
        "{}",
        &said[..said.len().min(300)]
    );
    let saw = fake_saw(&out);
    assert_eq!(saw.args, argv);
}

#[test]
fn the_fragment_never_reaches_the_cache_host() {
    let Some(l) = Layout::new() else { return };
    // The cache holds the URL as curl sends it: without the fragment.
    let origin = "https://dl.example.com/f.tgz";
    let host = hit_host(&[origin]);
    let written = "https://dl.example.com/f.tgz#sha256=SECRETFRAGMENT";
    let out = l.run(
        "curl",
        &args(&["-sLO", written]),
        &[("WITHCACHE_SERVER", &host.url())],
    );
    let cache_url = format!("{}{}", host.url(), cache_path(origin));
    assert_eq!(fake_saw(&out).args, args(&["-sLO", &cache_url]));
    for r in host.requests() {
        assert!(!r.target.contains("SECRET"), "{}", r.target);
    }
}

#[test]
fn the_origin_check_through_a_wrapper_override_does_not_loop() {
    let Some(l) = Layout::new() else { return };
    let wrapper = l.path("wrap-curl");
    std::fs::write(&wrapper, "#!/bin/sh\nexec curl \"$@\"\n").unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let origin = "https://dl.example.com/f.tgz";
    let host = hit_host(&[origin]);
    let mut cmd = clean_command(l.path("shims").join("curl"));
    // No -L: the origin is asked first, with REAL_CURL, which calls curl.
    cmd.args(["-sO", origin])
        .env(
            "PATH",
            format!(
                "{}:/bin:/usr/bin",
                l.path_var(&["shims", "real"]).to_string_lossy()
            ),
        )
        .env("REAL_CURL", &wrapper)
        .env("WITHCACHE_SERVER", host.url());
    let out = run_bounded(&mut cmd, LIMIT);
    let cache_url = format!("{}{}", host.url(), cache_path(origin));
    assert_eq!(fake_saw(&out).args, args(&["-sO", &cache_url]));
}

#[test]
fn the_origin_check_carries_the_route_options_and_nothing_secret() {
    let Some(l) = Layout::new() else { return };
    let origin = "https://dl.example.com/f.tgz";
    let host = hit_host(&[origin]);
    let log = l.path("check.log");
    let log_env = log.display().to_string();
    let cmd = [
        "-sk",
        "-u",
        "alice:SECRET1",
        "-A",
        "agent/1",
        "-H",
        "Authorization: Bearer SECRET2",
        "--noproxy",
        "*",
        "-O",
        origin,
    ];
    // The origin answers 2xx: a hit, credentials removed.
    let out = l.run(
        "curl",
        &args(&cmd),
        &[
            ("WITHCACHE_SERVER", &host.url()),
            ("FAKE_CHECK_LOG", &log_env),
        ],
    );
    let cache_url = format!("{}{}", host.url(), cache_path(origin));
    assert_eq!(
        fake_saw(&out).args,
        args(&["-sk", "-A", "agent/1", "--noproxy", "*", "-O", &cache_url])
    );
    // One check process, its questions in a config on stdin (issue 15: was
    // one `curl ... -I URL` per hit, without the credentials). Two
    // operations: the request as the command sends it (its origin
    // credentials go to the origin, as directly) and the same without them
    // (does the answer depend on them?).
    let check = std::fs::read_to_string(&log).unwrap();
    let ops: Vec<&str> = check
        .trim_end_matches("--end--\n")
        .split("--next\n")
        .collect();
    assert_eq!(ops.len(), 2, "{check}");
    for op in &ops {
        for carried in [
            "--insecure",
            "--user-agent \"agent/1\"",
            "--noproxy \"*\"",
            "--head",
            "--globoff",
            &format!("--url \"{origin}\""),
        ] {
            assert!(op.lines().any(|l| l == carried), "{carried} not in\n{op}");
        }
    }
    let with: Vec<&&str> = ops.iter().filter(|o| o.contains("SECRET")).collect();
    assert_eq!(with.len(), 1, "{check}");
    assert!(with[0].contains("--user \"alice:SECRET1\""), "{check}");
    assert!(
        with[0].contains("--header \"Authorization: Bearer SECRET2\""),
        "{check}"
    );
    // Never anything of the user's to the cache host.
    for r in host.requests() {
        assert!(!format!("{r:?}").contains("SECRET"), "{r:?}");
    }
    // The origin redirects (curl without -L would save the redirect): pass.
    let out = l.run(
        "curl",
        &args(&cmd),
        &[
            ("WITHCACHE_SERVER", &host.url()),
            ("FAKE_ORIGIN_STATUS", "302"),
        ],
    );
    assert_eq!(fake_saw(&out).args, args(&cmd));
    // With -L nobody asks the origin.
    std::fs::remove_file(&log).unwrap();
    let out = l.run(
        "curl",
        &args(&["-sL", "-O", origin]),
        &[
            ("WITHCACHE_SERVER", &host.url()),
            ("FAKE_CHECK_LOG", &log_env),
            ("FAKE_ORIGIN_STATUS", "302"),
        ],
    );
    assert_eq!(fake_saw(&out).args, args(&["-sL", "-O", &cache_url]));
    assert!(!log.exists());
}
