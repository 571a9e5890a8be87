//! An https cache host signed by a private CA, on loopback (nginx), probed
//! with the real tool itself: hits are served exactly where the real tool
//! trusts the cache host (its own CA settings: `CURL_CA_BUNDLE`, `--cacert`,
//! wget `--ca-certificate`; nothing installed in the system store); an
//! untrusted or wrong-name certificate, or a command that trusts only the
//! origin's CA, passes through with the direct result. And
//! `WITHCACHE_REQUIRE_TLS=1` keeps https origins off a plain-http cache host.

mod common;

use common::servers::{Reply, TestServer, free_port, which};
use common::stage::{Stage, assert_same};
use common::tls::{issue, nginx};
use common::*;
use std::path::Path;
use std::process::Command;

const CACHED: &[u8] = b"the artifact, as the cache host holds it\n";

fn hold(root: &Path, origin: &str, bytes: &[u8]) {
    let p = root.join(cache_path(origin).trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn as_refs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[test]
fn an_https_cache_host_is_trusted_exactly_as_the_real_tool_trusts_it() {
    let Some(bin) = release_binary() else { return };
    for tool in ["curl", "wget", "openssl", "busybox"] {
        if which(tool).is_none() {
            missing_part(tool);
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    issue(d, "lab", "IP:127.0.0.1,DNS:localhost");
    issue(d, "wrong", "DNS:wrong.example");
    issue(d, "origin", "IP:127.0.0.1,DNS:localhost");
    let (good, wrong, tls_origin) = (free_port(), free_port(), free_port());
    // The origin over plain http (a loopback test server), and one over https
    // signed by its own CA (the same nginx, another server block).
    let plain_origin = TestServer::start(|_| Reply::Http {
        status: 200,
        headers: vec![],
        body: CACHED.to_vec(),
    });
    let url = format!("{}/pub/tool.tgz", plain_origin.url());
    let https_url = format!("https://localhost:{tls_origin}/pub/tool.tgz");
    let root = d.join("root");
    hold(&root, &url, CACHED);
    hold(&root, &https_url, CACHED);
    std::fs::create_dir_all(root.join("pub")).unwrap();
    std::fs::write(root.join("pub/tool.tgz"), CACHED).unwrap();
    let Some(_nginx) = nginx(
        d,
        &[(good, "lab"), (wrong, "wrong"), (tls_origin, "origin")],
    ) else {
        missing_part("nginx with TLS");
        return;
    };
    let stage = Stage::new(&bin);
    let lab_ca = d.join("lab-ca.pem").display().to_string();
    let origin_ca = d.join("origin-ca.pem").display().to_string();
    let served = || {
        std::fs::read_to_string(d.join("access.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("GET /b/"))
            .count()
    };
    let cache = format!("https://127.0.0.1:{good}");
    let wrong_cache = format!("https://127.0.0.1:{wrong}");
    let busybox_dir = d.join("busybox");
    std::fs::create_dir_all(&busybox_dir).unwrap();
    std::os::unix::fs::symlink(which("busybox").unwrap(), busybox_dir.join("wget")).unwrap();
    let busybox_wget = busybox_dir.join("wget").display().to_string();
    // (label, script, server, extra env, served from the cache host?)
    type Case<'a> = (&'a str, String, &'a str, Vec<(String, String)>, bool);
    let cases: Vec<Case> = vec![
        (
            "curl-bundle",
            format!("exec curl -fsSL -O {url}"),
            &cache,
            vec![("CURL_CA_BUNDLE".into(), lab_ca.clone())],
            true,
        ),
        (
            "curl-cacert",
            format!("exec curl -fsSL --cacert {lab_ca} -O {url}"),
            &cache,
            vec![],
            true,
        ),
        (
            "curl-untrusted",
            format!("exec curl -fsSL -O {url}"),
            &cache,
            vec![],
            false,
        ),
        (
            "curl-wrong-name",
            format!("exec curl -fsSL -O {url}"),
            &wrong_cache,
            vec![(
                "CURL_CA_BUNDLE".into(),
                d.join("wrong-ca.pem").display().to_string(),
            )],
            false,
        ),
        (
            "curl-origin-ca",
            format!("exec curl -fsSL --cacert {origin_ca} -O {https_url}"),
            &cache,
            vec![],
            false,
        ),
        (
            "wget-ca",
            format!("exec wget -q --ca-certificate={lab_ca} {url}"),
            &cache,
            vec![],
            true,
        ),
        (
            "wget-untrusted",
            format!("exec wget -q {url}"),
            &cache,
            vec![],
            false,
        ),
        (
            "busybox",
            format!("exec wget -q {url}"),
            &cache,
            vec![("REAL_WGET".into(), busybox_wget.clone())],
            false,
        ),
    ];
    for (label, script, server, extra, from_cache) in cases {
        let mut env = vec![("WITHCACHE_SERVER".to_string(), server.to_string())];
        env.extend(extra.iter().cloned());
        let before = served();
        // Direct: the same environment, the real tools first on PATH (for
        // BusyBox, its own wget).
        let direct_path = if label == "busybox" {
            busybox_dir.display().to_string()
        } else {
            "/usr/bin".into()
        };
        let direct = stage.run(
            &format!("{label}-direct"),
            &direct_path,
            &script,
            &as_refs(&env),
        );
        let shim = stage.run(
            &format!("{label}-shim"),
            &stage.bin(),
            &script,
            &as_refs(&env),
        );
        assert_same(label, &direct, &shim);
        let hits = served() - before;
        assert_eq!(
            hits > 0,
            from_cache,
            "{label}: served from the cache host {hits} times"
        );
    }
}

#[test]
fn require_tls_keeps_https_origins_off_a_plain_http_cache_host() {
    let out = Command::new(shim_binary())
        .args([
            "plan",
            "--assume",
            "hit",
            "--",
            "curl",
            "-fsSLO",
            "https://dl.example.com/f.tgz",
            "http://dl.example.com/g.tgz",
        ])
        .env("WITHCACHE_SERVER", "http://cache.lab:8081")
        .env("WITHCACHE_REQUIRE_TLS", "1")
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["decision"], "rewrite");
    assert_eq!(plan["skipped"][0]["why"], "cleartext-cache", "{plan}");
    let out = Command::new(shim_binary())
        .args([
            "plan",
            "--assume",
            "hit",
            "--",
            "curl",
            "-fsSLO",
            "https://dl.example.com/f.tgz",
        ])
        .env("WITHCACHE_SERVER", "http://cache.lab:8081")
        .env("WITHCACHE_REQUIRE_TLS", "1")
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["reason"], "cleartext-cache", "{plan}");
}

#[test]
fn tls_constraints_the_origin_fails_fail_as_they_do_directly() {
    // An https origin (nginx, its own CA) and a plain-http cache host that
    // holds the file: a hit would skip the pin, the minimum version, the CRL.
    let Some(bin) = release_binary() else { return };
    for tool in ["curl", "wget", "openssl"] {
        if which(tool).is_none() {
            missing_part(tool);
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    issue(d, "origin", "IP:127.0.0.1,DNS:localhost");
    let port = free_port();
    let url = format!("https://localhost:{port}/pub/tool.tgz");
    std::fs::create_dir_all(d.join("root/pub")).unwrap();
    std::fs::write(d.join("root/pub/tool.tgz"), CACHED).unwrap();
    let Some(_nginx) = nginx(d, &[(port, "origin")]) else {
        missing_part("nginx with TLS");
        return;
    };
    let held = cache_path(&url);
    let cache = TestServer::start(move |req| {
        if req.target == held {
            Reply::Http {
                status: 200,
                headers: vec![],
                body: CACHED.to_vec(),
            }
        } else {
            Reply::Http {
                status: 404,
                headers: vec![],
                body: vec![],
            }
        }
    });
    let ca = d.join("origin-ca.pem").display().to_string();
    let stage = Stage::new(&bin);
    let env = vec![("WITHCACHE_SERVER".to_string(), cache.url())];
    let wrong_pin = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    for (label, script) in [
        (
            "curl-pin",
            format!("exec curl -fsSL --cacert {ca} --pinnedpubkey {wrong_pin} -O {url}"),
        ),
        (
            "wget-pin",
            format!("exec wget -q --ca-certificate={ca} --pinnedpubkey={wrong_pin} {url}"),
        ),
        (
            "curl-ciphers",
            format!("exec curl -fsSL --cacert {ca} --tls-max 1.2 --ciphers NULL-SHA256 -O {url}"),
        ),
    ] {
        let (direct, shim) = stage.both(label, &script, &as_refs(&env));
        assert_ne!(
            direct.code,
            Some(0),
            "{label}: the origin should fail the constraint directly"
        );
        assert_same(label, &direct, &shim);
    }
    // WITHCACHE_REQUIRE_TLS=1: an https origin is never served from this
    // plain-http cache host, though the command trusts the origin.
    let env = vec![
        ("WITHCACHE_SERVER".to_string(), cache.url()),
        ("WITHCACHE_REQUIRE_TLS".to_string(), "1".to_string()),
    ];
    let before = cache.requests().len();
    let (direct, shim) = stage.both(
        "require-tls",
        &format!("exec curl -fsSL --cacert {ca} -O {url}"),
        &as_refs(&env),
    );
    assert_eq!(direct.code, Some(0));
    assert_same("require-tls", &direct, &shim);
    assert_eq!(
        cache.requests().len(),
        before,
        "the http cache host was asked"
    );
}
