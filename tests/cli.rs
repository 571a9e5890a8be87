//! The `cacheshim` command: help and usage errors, install/uninstall,
//! url, plan (with the argv fixtures replayed through it), doctor, demo.

mod common;

use common::servers::*;
use common::*;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

fn cacheshim(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = clean_command(shim_binary());
    cmd.args(args).env("PATH", "/usr/bin:/bin");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_bounded(&mut cmd, Duration::from_secs(30))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_version_and_usage_errors() {
    let out = cacheshim(&["--version"], &[]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout),
        format!("cacheshim {}\n", env!("CARGO_PKG_VERSION"))
    );
    for sub in [
        &["--help"][..],
        &["install", "--help"],
        &["uninstall", "--help"],
        &["doctor", "--help"],
        &["plan", "--help"],
        &["url", "--help"],
    ] {
        let out = cacheshim(sub, &[]);
        assert!(out.status.success(), "{sub:?}");
        assert!(text(&out.stdout).contains("Usage"), "{sub:?}");
    }
    for bad in [
        &[][..],
        &["frobnicate"],
        &["install", "--bogus"],
        &["install", "--names", "curl,ftp"],
        &["install", "--dir"],
        &["install", "--dir", "/tmp/x", "--system"],
        &["url"],
        &["plan"],
        &["plan", "--", "ls", "-l"],
        &["plan", "--assume", "maybe", "--", "curl", "x"],
        &["doctor", "extra"],
    ] {
        let out = cacheshim(bad, &[("HOME", "/nonexistent")]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{bad:?}: {err}");
        assert!(err.starts_with("cacheshim: "), "{err}");
    }
}

#[test]
fn install_is_idempotent_and_never_clobbers() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    let out = cacheshim(&["install"], &[("HOME", h)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dir = home.path().join(".withcache/bin");
    for name in ["curl", "wget"] {
        let target = std::fs::canonicalize(dir.join(name)).unwrap();
        assert_eq!(target, std::fs::canonicalize(shim_binary()).unwrap());
    }
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("export PATH=\"{}:$PATH\"", dir.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("PATH_add {}", dir.display())),
        "{stdout}"
    );
    // Again: nothing changes.
    let again = cacheshim(&["install"], &[("HOME", h)]);
    assert!(again.status.success());
    assert_eq!(text(&again.stdout).matches("already installed").count(), 2);
    // A real file is never replaced without --force.
    std::fs::remove_file(dir.join("wget")).unwrap();
    std::fs::write(dir.join("wget"), "precious").unwrap();
    let refused = cacheshim(&["install"], &[("HOME", h)]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("refusing to replace"));
    assert_eq!(
        std::fs::read_to_string(dir.join("wget")).unwrap(),
        "precious"
    );
    let forced = cacheshim(&["install", "--force"], &[("HOME", h)]);
    assert!(forced.status.success());
    assert!(
        std::fs::symlink_metadata(dir.join("wget"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // Uninstall removes only links to this binary.
    std::fs::write(dir.join("curlwithcache"), "someone else's").unwrap();
    let out = cacheshim(
        &["uninstall", "--names", "curl,wget,curlwithcache"],
        &[("HOME", h)],
    );
    assert!(out.status.success());
    assert!(!dir.join("curl").exists() && !dir.join("wget").exists());
    assert_eq!(
        std::fs::read_to_string(dir.join("curlwithcache")).unwrap(),
        "someone else's"
    );
    assert!(text(&out.stdout).contains("left alone"));
}

#[test]
fn system_install_prints_profile_lines() {
    let root = tempfile::tempdir().unwrap();
    let out = cacheshim(
        &[
            "install",
            "--system",
            "--root",
            root.path().to_str().unwrap(),
            "--names",
            "curl",
        ],
        &[("WITHCACHE_SERVER", "http://cache.lab:8081")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(root.path().join("usr/local/bin/curl").exists());
    assert!(text(&out.stdout).contains("export WITHCACHE_SERVER=http://cache.lab:8081"));
}

#[test]
fn url_prints_cache_paths() {
    // Tokens computed independently: printf %s URL | base64 | tr '+/' '-_' | tr -d =
    let out = cacheshim(
        &[
            "url",
            "https://dl.example.com/foo%20bar.tgz",
            "https://dl.example.com/f.tgz",
        ],
        &[],
    );
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout),
        "b/aHR0cHM6Ly9kbC5leGFtcGxlLmNvbS9mb28lMjBiYXIudGd6/foo%20bar.tgz\nb/aHR0cHM6Ly9kbC5leGFtcGxlLmNvbS9mLnRneg/f.tgz\n"
    );
    let out = cacheshim(
        &["url", "--decoded", "https://dl.example.com/foo%20bar.tgz"],
        &[],
    );
    assert_eq!(
        text(&out.stdout),
        "b/aHR0cHM6Ly9kbC5leGFtcGxlLmNvbS9mb28lMjBiYXIudGd6/foo bar.tgz\n"
    );
    let out = cacheshim(
        &[
            "url",
            "--server",
            "cache.lab:8081/",
            "https://dl.example.com/f.tgz",
        ],
        &[],
    );
    assert_eq!(
        text(&out.stdout),
        "http://cache.lab:8081/b/aHR0cHM6Ly9kbC5leGFtcGxlLmNvbS9mLnRneg/f.tgz\n"
    );
    let out = cacheshim(
        &["url", "https://dl.example.com/f.tgz"],
        &[("WITHCACHE_SERVER", "http://c:1")],
    );
    assert_eq!(
        text(&out.stdout),
        "http://c:1/b/aHR0cHM6Ly9kbC5leGFtcGxlLmNvbS9mLnRneg/f.tgz\n"
    );
    let out = cacheshim(&["url", "https://dl.example.com/pub/"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no-file-name"));
}

fn json_arg(v: &serde_json::Value) -> OsString {
    match v {
        serde_json::Value::String(s) => OsString::from(s),
        serde_json::Value::Object(o) => {
            let h = o["hex"].as_str().unwrap();
            OsString::from_vec(
                (0..h.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
                    .collect(),
            )
        }
        _ => panic!("bad argv element {v}"),
    }
}

#[test]
fn plan_replays_the_argv_fixtures() {
    // Every fixture with one probe answer for all URLs and no config files,
    // through the real binary: `cacheshim plan --assume ANSWER -- TOOL ARGS`.
    let mut replayed = 0;
    for case in common::fixtures::load_cases() {
        let Some(answer) = case.probe.as_str() else {
            continue;
        };
        if !case.config.is_empty() {
            continue;
        }
        let home = tempfile::tempdir().unwrap();
        // scripts/check-aarch64 points this at the aarch64 release binary,
        // run by qemu-aarch64-static.
        let mut cmd = match (
            std::env::var_os("CACHESHIM_PLAN_BINARY"),
            std::env::var_os("CACHESHIM_PLAN_RUNNER"),
        ) {
            (Some(bin), Some(runner)) => {
                let mut c = clean_command(runner);
                c.arg(bin);
                c
            }
            (Some(bin), None) => clean_command(bin),
            _ => clean_command(shim_binary()),
        };
        cmd.arg("plan")
            .arg("--assume")
            .arg(answer)
            .arg("--")
            .arg(case.tool.name());
        cmd.args(&case.argv)
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", home.path());
        for (k, v) in &case.env.0 {
            cmd.env(k, v);
        }
        let out = run_bounded(&mut cmd, Duration::from_secs(20));
        assert!(out.status.success(), "{}: {}", case.name, text(&out.stderr));
        let plan: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let decision = match plan["decision"].as_str().unwrap() {
            "rewrite" => "rewrite".to_string(),
            _ => format!("pass:{}", plan["reason"].as_str().unwrap()),
        };
        assert_eq!(decision, case.outcome, "{} / {}", case.file, case.name);
        let argv: Vec<OsString> = plan["argv"].as_array().unwrap()[1..]
            .iter()
            .map(json_arg)
            .collect();
        assert_eq!(argv, case.expect, "{} / {}", case.file, case.name);
        let removed: Vec<String> = plan["removed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect();
        assert_eq!(removed, case.removed, "{}", case.name);
        replayed += 1;
    }
    assert!(
        replayed >= 200,
        "only {replayed} fixtures replayed through cacheshim plan"
    );
}

#[test]
fn plan_probes_live_without_assume() {
    // An origin port nothing listens on (no name to look up, nothing leaves
    // loopback): the origin cannot be asked.
    let closed = common::servers::free_port();
    let origin_url = format!("http://127.0.0.1:{closed}/f.tgz");
    let other_url = format!("http://127.0.0.1:{closed}/g.tgz");
    let origin = origin_url.as_str();
    let path = cache_path(origin);
    let host = TestServer::start(move |req| Reply::Http {
        status: if req.target == path { 200 } else { 404 },
        headers: vec![("Accept-Ranges".into(), "bytes".into())],
        body: vec![],
    });
    let plan_of = |follow: &str| {
        let out = cacheshim(
            &["plan", "--", "curl", follow, origin, &other_url],
            &[("WITHCACHE_SERVER", &host.url())],
        );
        let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let answers: Vec<String> = plan["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["answer"].as_str().unwrap().to_string())
            .collect();
        (plan, answers)
    };
    let (plan, answers) = plan_of("-LO");
    assert_eq!(answers, ["hit-ranges", "miss"]);
    assert_eq!(plan["decision"], "rewrite");
    assert_eq!(plan["real_tool"], "/usr/bin/curl");
    // Without -L the origin is asked first; its port refuses
    // connections: an offline lab, so the hit is served (issue 15
    // changed this expectation: it was origin-not-2xx and a pass-through).
    let (plan, answers) = plan_of("-O");
    assert_eq!(answers, ["hit-ranges", "miss"]);
    assert_eq!(plan["decision"], "rewrite");
    assert_eq!(
        plan["candidates"][0]["questions"],
        serde_json::json!(["redirect"])
    );
    let said = plan["candidates"][0]["origin"].as_str().unwrap();
    assert!(said.ends_with(": offline"), "{said}");
}

#[test]
fn plan_says_what_a_hit_depends_on_and_assumes_origin_answers() {
    let plan_of = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["plan", "--assume", "hit"];
        all.extend(args);
        let out = cacheshim(&all, &[("WITHCACHE_SERVER", "http://cache.lab:8081")]);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let url = "https://dl.example.com/f.tgz";
    for (origin, with, decision) in [
        ("2xx", "-O", "rewrite"),
        ("redirect", "-O", "pass-through"),
        ("unreachable", "-O", "rewrite"),
        ("redirect", "-LO", "rewrite"),
        ("refused", "-LO", "rewrite"),
    ] {
        let p = plan_of(&["--assume-origin", origin, "--", "curl", with, url]);
        assert_eq!(p["decision"], decision, "{origin} {with}: {p}");
    }
    // With credentials: the identity question; answers that agree, or a
    // refusal without them, keep the hit; a redirect of curl without -L not.
    let p = plan_of(&[
        "--assume-origin",
        "2xx",
        "--",
        "curl",
        "-u",
        "a:b",
        "-O",
        url,
    ]);
    assert_eq!(
        p["candidates"][0]["questions"],
        serde_json::json!(["redirect", "identity"])
    );
    assert_eq!(p["decision"], "rewrite");
    assert_eq!(p["removed"], serde_json::json!(["--user"]));
    let p = plan_of(&[
        "--assume-origin",
        "refused",
        "--",
        "curl",
        "-u",
        "a:b",
        "-LO",
        url,
    ]);
    assert_eq!(p["decision"], "rewrite", "{p}");
    let p = plan_of(&[
        "--assume-origin",
        "redirect",
        "--",
        "curl",
        "-u",
        "a:b",
        "-O",
        url,
    ]);
    assert_eq!(p["decision"], "pass-through");
    // --assume alone asks nobody and answers no question.
    let p = plan_of(&["--", "curl", "-O", url]);
    assert_eq!(p["decision"], "rewrite");
    assert!(p["candidates"][0]["origin"].is_null());
    let out = cacheshim(
        &["plan", "--assume-origin", "maybe", "--", "curl", url],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
}

fn doctor_setup(cache: &str, shims_first: bool) -> (tempfile::TempDir, Output) {
    doctor_setup_with(cache, shims_first, &[])
}

fn doctor_setup_with(
    cache: &str,
    shims_first: bool,
    extra_env: &[(&str, &str)],
) -> (tempfile::TempDir, Output) {
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap().to_string();
    assert!(cacheshim(&["install"], &[("HOME", &h)]).status.success());
    let shims = home.path().join(".withcache/bin");
    let path = if shims_first {
        format!("{}:/usr/bin:/bin", shims.display())
    } else {
        format!("/usr/bin:{}:/bin", shims.display())
    };
    let mut cmd = clean_command(shim_binary());
    cmd.args(["doctor", "--url", "https://dl.example.com/f.tgz"])
        .env("PATH", path)
        .env("HOME", &h)
        .env("WITHCACHE_SERVER", cache)
        .env("XDG_RUNTIME_DIR", &h)
        .envs(extra_env.iter().copied());
    let out = run_bounded(&mut cmd, Duration::from_secs(30));
    (home, out)
}

#[test]
fn doctor_says_ok_for_a_working_setup_and_why_not_otherwise() {
    if which("curl").is_none() || which("wget").is_none() {
        missing_part("curl and wget");
        return;
    }
    let path = cache_path("https://dl.example.com/f.tgz");
    let host = TestServer::start(move |req| Reply::Http {
        status: if req.target == "/healthz" || req.target == path {
            200
        } else {
            404
        },
        headers: vec![],
        body: vec![],
    });
    let (_home, out) = doctor_setup(&host.url(), true);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains("curl: PATH finds") && said.contains("(the shim)"),
        "{said}"
    );
    assert!(said.contains("the shim runs /usr/bin/curl"), "{said}");
    assert!(said.contains("/healthz -> 200"), "{said}");
    assert!(said.contains(": hit"), "{said}");
    assert!(
        said.contains("ok: downloads through this PATH would be cached"),
        "{said}"
    );

    // The shim after the real tool on PATH.
    let (_home, out) = doctor_setup(&host.url(), false);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("comes after /usr/bin in PATH") && said.contains("hash -r"),
        "{said}"
    );

    // An unreachable cache host.
    let (_home, out) = doctor_setup(&format!("http://127.0.0.1:{}", free_port()), true);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("problem: http://127.0.0.1:") && said.contains("unreachable"),
        "{said}"
    );
    // An https one that refuses connections, or is not trusted: asked with
    // the real tool, as the shim asks it (issue 22: it said "ok").
    let (_home, out) = doctor_setup(&format!("https://127.0.0.1:{}", free_port()), true);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("cannot use it (curl exit 7"), "{said}");
    let plain = TestServer::start(|_| Reply::Raw(b"not TLS at all\r\n".to_vec()));
    let (_home, out) = doctor_setup(&plain.url().replace("http://", "https://"), true);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("cannot use it (curl exit 35"), "{said}");
}

#[test]
fn doctor_names_the_proxy_route_and_says_whether_the_probe_got_through() {
    if which("curl").is_none() || which("wget").is_none() {
        missing_part("curl and wget");
        return;
    }
    let Some(proxy) = Tinyproxy::start() else {
        return;
    };
    let host = TestServer::start(|req| Reply::Http {
        status: if req.target.ends_with("/healthz") {
            200
        } else {
            404
        },
        headers: vec![],
        body: vec![],
    });
    let (_home, out) = doctor_setup_with(&host.url(), true, &[("http_proxy", &proxy.url())]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains(&format!("through the proxy {}", proxy.url())),
        "{said}"
    );
    assert!(
        said.contains("route: the probe got through the proxy"),
        "{said}"
    );
    // The probe really went through it, as an absolute-form request.
    assert!(
        proxy
            .log()
            .contains(&format!("HEAD {}/healthz", host.url())),
        "{}",
        proxy.log()
    );

    // A proxy that is not there: the line says so and suggests no_proxy.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let (_home, out) = doctor_setup_with(&host.url(), true, &[("http_proxy", &dead)]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains(&format!(
            "route: the probe did not get through the proxy {dead}"
        )),
        "{said}"
    );
    assert!(said.contains("add 127.0.0.1 to no_proxy"), "{said}");

    // With the cache host in no_proxy there is no proxy line at all.
    let (_home, out) = doctor_setup_with(
        &host.url(),
        true,
        &[("http_proxy", &dead), ("no_proxy", "127.0.0.1")],
    );
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(!said.contains("route:"), "{said}");
}

#[test]
fn demo_runs_a_miss_then_a_hit_and_stops_what_it_started() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !root.join(".venv/bin/withcache-server").exists() {
        missing_part("withcache-server in .venv (scripts/setup-venv)");
        return;
    }
    let mut cmd = Command::new(root.join("scripts/demo"));
    cmd.env("CACHESHIM_BIN", shim_binary());
    let out = run_bounded(&mut cmd, Duration::from_secs(180));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let decisions: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("cacheshim: "))
        .collect();
    assert_eq!(decisions.len(), 4, "{stderr}");
    assert!(
        decisions[0].contains("curl: pass-through (miss)")
            && decisions[1].contains("wget: pass-through (miss)"),
        "{decisions:?}"
    );
    assert!(
        decisions[2].contains("curl: rewrote 1/1") && decisions[3].contains("wget: rewrote 1/1"),
        "{decisions:?}"
    );
    // Everything it started is gone: its origin and cache ports are closed.
    let first = stdout.lines().next().unwrap_or_default();
    let ports: Vec<u16> = first
        .split("127.0.0.1:")
        .skip(1)
        .filter_map(|p| p.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect();
    assert_eq!(ports.len(), 2, "{first}");
    for p in ports {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", p)).is_err(),
            "port {p} still open after the demo"
        );
    }
}
