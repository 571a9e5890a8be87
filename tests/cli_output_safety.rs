//! What the `cacheshim` command prints is safe to use as the README says
//! (the static release binary): `url --decoded` never names a file outside
//! the cache layout nor prints control bytes, `install` prints lines that,
//! pasted into a shell, set what they say and run nothing else. And curl's
//! globbing: an IPv6 literal is a URL, not a pattern.

mod common;

use common::servers::{Reply, TestServer, which};
use common::*;
use std::path::Path;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

fn run(bin: &Path, args: &[&str], env: &[(&str, &str)], cwd: &Path) -> std::process::Output {
    let mut cmd = clean_command(bin);
    cmd.args(args).current_dir(cwd).env("PATH", "/usr/bin:/bin");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_bounded(&mut cmd, LIMIT)
}

#[test]
fn url_decoded_refuses_names_that_leave_the_layout_or_hold_control_bytes() {
    let Some(bin) = release_binary() else { return };
    let dir = tempfile::tempdir().unwrap();
    for (origin, why) in [
        ("http://h/x/..%2F..%2F..%2Fetc%2Fcron.d%2Fevil", "'..'"),
        ("http://h/x/a%2F..%2Fb", "'..'"),
        ("http://h/x/.%2Fa", "'.'"),
        ("http://h/x/a%2F%2Fb", "empty"),
        ("http://h/x/a%00b", "NUL"),
        ("http://h/x/a%0Ab", "control"),
        ("http://h/x/a%1Bb", "control"),
        ("http://h/x/a%FFb", "UTF-8"),
    ] {
        let out = run(&bin, &["url", "--decoded", origin], &[], dir.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{origin}: {err}");
        assert!(out.stdout.is_empty(), "{origin}: printed {:?}", out.stdout);
        assert_eq!(err.lines().count(), 1, "{origin}: {err}");
        assert!(err.contains(why), "{origin}: {err}");
    }
    // Raw control bytes in an origin are not printed either.
    let out = run(&bin, &["url", "http://h/x/a\nb"], &[], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    // What is safe still works: %2F decodes to a directory below the token.
    let out = run(
        &bin,
        &["url", "--decoded", "http://h/x/a%20b%2Fc"],
        &[],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    let path = String::from_utf8(out.stdout).unwrap();
    assert!(
        path.starts_with("b/") && path.ends_with("/a b/c\n"),
        "{path}"
    );
}

#[test]
fn install_prints_quoted_absolute_lines_that_run_nothing_when_pasted() {
    let Some(bin) = release_binary() else { return };
    let Some(bash) = which("bash") else {
        missing_part("bash");
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    for dir in ["d$(touch PWNED)", "it's `touch PWNED`", "rel/bin", "sp ace"] {
        let server = "http://cache.example:8081/$(touch PWNED)";
        let out = run(
            &bin,
            &["install", "--dir", dir],
            &[("HOME", h), ("WITHCACHE_SERVER", server)],
            home.path(),
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.trim_start().starts_with("export "))
            .collect();
        assert!(lines.len() >= 3, "{text}");
        // Pasted in another directory: PATH gets the absolute directory,
        // the server its value, and nothing runs.
        let elsewhere = tempfile::tempdir().unwrap();
        let script = format!(
            "{}\nprintf '%s\\n%s' \"$PATH\" \"$WITHCACHE_SERVER\"",
            lines.join("\n")
        );
        let mut cmd = clean_command(&bash);
        cmd.arg("-c")
            .arg(script)
            .current_dir(elsewhere.path())
            .env("PATH", "/usr/bin:/bin");
        let pasted = run_bounded(&mut cmd, LIMIT);
        let shown = String::from_utf8(pasted.stdout).unwrap();
        let (path, srv) = shown.split_once('\n').unwrap();
        let want = home.path().join(dir);
        assert_eq!(
            path.split(':').next(),
            Some(want.to_str().unwrap()),
            "{text}"
        );
        assert_eq!(srv, server);
        assert!(!home.path().join("PWNED").exists() && !elsewhere.path().join("PWNED").exists());
        assert!(want.join("curl").exists());
    }
    // A directory PATH cannot hold is refused.
    let out = run(
        &bin,
        &["install", "--dir", "a:b"],
        &[("HOME", h)],
        home.path(),
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_ipv6_literal_url_is_not_a_curl_glob() {
    let Some(bin) = release_binary() else { return };
    let Some(curl) = which("curl") else {
        missing_part("curl");
        return;
    };
    // Real curl takes [::1] as the host without -g ...
    let origin = TestServer::start_v6(|_| Reply::Http {
        status: 200,
        headers: vec![],
        body: b"six\n".to_vec(),
    });
    let url = format!("{}/pub/f.bin", origin.url());
    let mut cmd = clean_command(&curl);
    cmd.args(["-q", "-sS", &url]);
    let direct = run_bounded(&mut cmd, LIMIT);
    assert_eq!(
        direct.stdout,
        b"six\n",
        "{}",
        String::from_utf8_lossy(&direct.stderr)
    );
    // ... so the planner takes such URLs as URLs (a global address here:
    // loopback URLs are not for the cache host).
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &bin,
        &[
            "plan",
            "--assume",
            "hit",
            "--",
            "curl",
            "-sSLO",
            "http://[2001:db8::7]:8080/pub/f.bin",
        ],
        &[("WITHCACHE_SERVER", "http://127.0.0.1:9")],
        dir.path(),
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["decision"], "rewrite", "{plan}");
    // A pattern after the literal is still a pattern.
    let out = run(
        &bin,
        &[
            "plan",
            "--assume",
            "hit",
            "--",
            "curl",
            "-sSLO",
            "http://[2001:db8::7]/f[1-2].bin",
        ],
        &[("WITHCACHE_SERVER", "http://127.0.0.1:9")],
        dir.path(),
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["decision"], "pass-through", "{plan}");
}
