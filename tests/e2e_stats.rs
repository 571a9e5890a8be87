//! Issue 25: the decision log and `cacheshim stats`, with the static release
//! binary and real curl: what was logged is counted exactly, holds no query,
//! userinfo or token, survives eight shims writing at once, costs nothing
//! when it cannot be written, and starts over with `--zero`.

mod common;

use common::servers::TestServer;
use common::stage::Stage;
use common::*;
use std::process::Command;

const ARTIFACT: &[u8] = b"the real artifact\n";

fn stats(bin: &std::path::Path, state: &std::path::Path, args: &[&str]) -> (i32, String) {
    let mut cmd = clean_command(bin);
    cmd.args(["stats"])
        .args(args)
        .env("XDG_STATE_HOME", state)
        .env("HOME", state);
    let out = run_bounded(&mut cmd, std::time::Duration::from_secs(30));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn stats_count_what_the_shim_decided_and_name_no_secret() {
    let Some(bin) = release_binary_with(&["curl"]) else {
        return;
    };
    let stage = Stage::new(&bin);
    let origin = TestServer::serving(ARTIFACT);
    let hit = format!("{}/pub/1.2.3/tool.tgz", origin.url());
    let cache = common::servers::cache_holding(std::slice::from_ref(&hit), ARTIFACT);
    let state = tempfile::tempdir().unwrap();
    let st = state.path().display().to_string();
    let env = [
        ("WITHCACHE_SERVER", cache.url()),
        ("XDG_STATE_HOME", st.clone()),
        ("WITHCACHE_KEEP_QUERY", "1".into()),
        // The loopback origin counts as a lab's shared one, so the log may
        // name it.
        ("WITHCACHE_LAN_ORIGINS", "127.0.0.1".into()),
    ];
    let o = origin.url();
    let token = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";
    for (label, script) in [
        ("hit", format!("curl -fsSLO {hit}")),
        (
            "miss",
            format!("curl -fsSL -o m.bin '{o}/pub/2.0.0/missing.tgz?v=2'"),
        ),
        (
            "pass-method",
            format!("curl -fsS -X POST -o p.bin {o}/api/1.0/run"),
        ),
        (
            "pass-include",
            format!("curl -fsSi -o i.bin {o}/pub/1.2.3/tool.tgz"),
        ),
        (
            "pass-secret",
            format!("curl -fsS -o s.bin {o}/{token}/1.0/f.bin"),
        ),
        (
            "machine-local",
            "curl -fsS -m 1 -o l.bin http://metadata.google.internal/1.0/x.bin || true".into(),
        ),
    ] {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        stage.run(label, &stage.bin(), &script, &env);
    }
    let (code, json) = stats(&bin, state.path(), &["--json"]);
    assert_eq!(code, 0, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["commands"], 6, "{json}");
    assert_eq!(v["hits"], 1, "{json}");
    assert_eq!(v["misses"], 1, "{json}");
    assert_eq!(v["pass_throughs"], 4, "{json}");
    assert_eq!(v["bytes_served"], ARTIFACT.len() as u64, "{json}");
    let reasons: Vec<&str> = v["pass_through_reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    for r in ["method", "origin-metadata", "no-rewritable-url"] {
        assert!(reasons.contains(&r), "{r}: {json}");
    }
    assert_eq!(
        v["most_missed"][0]["origin"],
        format!("{o}/pub/2.0.0/missing.tgz"),
        "{json}"
    );
    let log = std::fs::read_to_string(state.path().join("cacheshim/decisions.log")).unwrap();
    for secret in [token, "v=2", "metadata.google.internal"] {
        assert!(
            !json.contains(secret) && !log.contains(secret),
            "{secret}: {log}"
        );
    }
    // --misses is one origin a line, ready for `cacheshim seed --from -`.
    let (_, misses) = stats(&bin, state.path(), &["--misses"]);
    assert_eq!(misses, format!("{o}/pub/2.0.0/missing.tgz\n"));
    // Plain when piped: no bars.
    let (_, text) = stats(&bin, state.path(), &[]);
    assert!(text.contains("hit rate") && !text.contains('█'), "{text}");
    // --zero starts over.
    assert_eq!(stats(&bin, state.path(), &["--zero"]).0, 0);
    let (_, json) = stats(&bin, state.path(), &["--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["commands"], 0);
}

#[test]
fn eight_shims_at_once_leave_whole_lines_and_no_log_changes_nothing() {
    let Some(bin) = release_binary_with(&["curl"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let shims = dir.path().join("shims");
    std::fs::create_dir_all(&shims).unwrap();
    std::os::unix::fs::symlink(&bin, shims.join("curl")).unwrap();
    let state = dir.path().join("state");
    // Planned and passed through at once (a body is sent), then `true`.
    let run = |n: usize, extra: &[(&str, &str)]| {
        let mut cmd = clean_command("/bin/bash");
        cmd.arg("-c")
            .arg(format!(
                "for i in $(seq {n}); do curl -d x https://dl.example.com/pub/f$i.tgz; done"
            ))
            .env("PATH", format!("{}:/usr/bin:/bin", shims.display()))
            .env("REAL_CURL", "/bin/true")
            .env("WITHCACHE_SERVER", "http://127.0.0.1:9")
            .env("XDG_STATE_HOME", &state);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let children: Vec<_> = (0..8).map(|_| run(200, &[])).collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let log = std::fs::read_to_string(state.join("cacheshim/decisions.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 1600);
    for l in &lines {
        let f: Vec<&str> = l.split('\t').collect();
        assert_eq!(f.len(), 9, "a cut line: {l:?}");
        assert_eq!(f[3], "pass");
        assert_eq!(f[4], "sends-body");
    }
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(state.join("cacheshim/decisions.log"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    // A state directory that cannot be made (a file stands in its way):
    // the command runs as before, and says nothing.
    let mut cmd = clean_command(shims.join("curl"));
    cmd.args(["-sS", "-d", "x", "https://dl.example.com/pub/f.tgz"])
        .env("REAL_CURL", "/bin/echo")
        .env("WITHCACHE_SERVER", "http://127.0.0.1:9")
        .env("XDG_STATE_HOME", "/dev/null/nowhere");
    let out = run_bounded(&mut cmd, std::time::Duration::from_secs(10));
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "-sS -d x https://dl.example.com/pub/f.tgz\n"
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // WITHCACHE_LOG=off: nothing written.
    let quiet = dir.path().join("quiet");
    let mut c = Command::new("/bin/bash");
    c.arg("-c")
        .arg("curl -d x https://dl.example.com/pub/f.tgz")
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", shims.display()))
        .env("REAL_CURL", "/bin/true")
        .env("WITHCACHE_SERVER", "http://127.0.0.1:9")
        .env("XDG_STATE_HOME", &quiet)
        .env("WITHCACHE_LOG", "off");
    assert!(c.status().unwrap().success());
    assert!(!quiet.exists());
    // And with no cache host set, nothing either (the bare exec).
    let mut c = clean_command("/bin/bash");
    c.arg("-c")
        .arg("curl -d x https://dl.example.com/pub/f.tgz")
        .env("PATH", format!("{}:/usr/bin:/bin", shims.display()))
        .env("REAL_CURL", "/bin/true")
        .env("XDG_STATE_HOME", &quiet);
    assert!(c.status().unwrap().success());
    assert!(!quiet.exists());
}
