//! What a hit may not change, with real curl against loopback hosts that
//! behave like the real ones: a secret-bearing Referer never reaches the
//! cache host, the write-out shows the origin's status, an encoded origin
//! is decoded as directly, a redirect bound fails as directly, and proxy
//! credentials go to the proxy with the probe. Each case runs directly and
//! through the shim (the static release binary); each fails on the build
//! before issue 16.

mod common;

use common::servers::{Reply, TestServer, which};
use common::stage::{Stage, assert_same};
use common::*;
use std::io::Write;

const ARTIFACT: &[u8] = b"the real artifact, plain text, long enough to compress well\n";

fn parts() -> Option<std::path::PathBuf> {
    if which("curl").is_none() || which("wget").is_none() {
        missing_part("curl and wget");
        return None;
    }
    release_binary()
}

fn reply(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    Reply::Http {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.to_vec(),
    }
}

/// A cache host holding `bytes` for each origin URL.
fn cache_holding(held: Vec<(String, Vec<u8>)>) -> TestServer {
    let held: Vec<(String, Vec<u8>)> = held.into_iter().map(|(o, b)| (cache_path(&o), b)).collect();
    TestServer::start(
        move |req| match held.iter().find(|(p, _)| *p == req.target) {
            Some((_, b)) => reply(200, &[], b),
            None => reply(404, &[], b""),
        },
    )
}

fn env_for(cache: &TestServer) -> Vec<(String, String)> {
    vec![("WITHCACHE_SERVER".into(), cache.url())]
}

fn as_refs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[test]
fn a_referer_with_a_secret_never_reaches_the_cache_host() {
    let Some(bin) = parts() else { return };
    let stage = Stage::new(&bin);
    let origin = TestServer::start(|_| reply(200, &[], ARTIFACT));
    let url = format!("{}/pub/f.bin", origin.url());
    let cache = cache_holding(vec![(url.clone(), ARTIFACT.to_vec())]);
    let env = env_for(&cache);
    for (label, flag) in [
        ("userinfo", "-e 'https://alice:S3CRET@intranet.example/p'"),
        ("query", "-e 'https://intranet.example/p?token=S3CRET'"),
        ("header", "-H 'Referer: https://x.example/?sig=S3CRET'"),
    ] {
        let script = format!("exec curl -sSL -O {flag} {url}");
        let (direct, shim) = stage.both(label, &script, &as_refs(&env));
        assert_same(label, &direct, &shim);
    }
    for r in cache.requests() {
        assert!(!format!("{r:?}").contains("S3CRET"), "{r:?}");
    }
}

#[test]
fn the_write_out_shows_the_origins_status() {
    // The origin answers 203 (a transforming proxy's "non-authoritative");
    // the cache host says 200 for the same bytes.
    let Some(bin) = parts() else { return };
    let stage = Stage::new(&bin);
    let origin = TestServer::start(|_| reply(203, &[], ARTIFACT));
    let url = format!("{}/pub/f.bin", origin.url());
    let cache = cache_holding(vec![(url.clone(), ARTIFACT.to_vec())]);
    let env = env_for(&cache);
    for (label, w) in [
        ("http_code", "%{http_code}"),
        ("size", "%{size_download}"),
        ("connects", "%{num_connects}"),
    ] {
        let script = format!("exec curl -sSL -w '{w}\\n' -o f.bin {url}");
        let (direct, shim) = stage.both(label, &script, &as_refs(&env));
        assert_same(label, &direct, &shim);
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut child = std::process::Command::new("gzip")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip");
    child.stdin.take().unwrap().write_all(data).unwrap();
    child.wait_with_output().unwrap().stdout
}

#[test]
fn compressed_is_served_only_when_the_origin_sends_the_file_as_it_is() {
    let Some(bin) = parts() else { return };
    if which("gzip").is_none() {
        missing_part("gzip");
        return;
    }
    let stage = Stage::new(&bin);
    // An object stored gzip-encoded (S3 metadata): sent encoded whatever the
    // client accepts. The cache host fetched it raw: it holds the gzip bytes.
    let packed = gzip(ARTIFACT);
    let encoded = {
        let packed = packed.clone();
        TestServer::start(move |_| reply(200, &[("Content-Encoding", "gzip")], &packed))
    };
    let plain = TestServer::start(|_| reply(200, &[], ARTIFACT));
    let enc_url = format!("{}/pub/notes.txt", encoded.url());
    let plain_url = format!("{}/pub/tool.tar.xz", plain.url());
    let cache = cache_holding(vec![
        (enc_url.clone(), packed.clone()),
        (plain_url.clone(), ARTIFACT.to_vec()),
    ]);
    let env = env_for(&cache);
    let (direct, shim) = stage.both(
        "encoded",
        &format!("exec curl -fsSL --compressed -O {enc_url}"),
        &as_refs(&env),
    );
    assert_eq!(
        direct.files.get("notes.txt").map(Vec::as_slice),
        Some(ARTIFACT)
    );
    assert_same("encoded", &direct, &shim);
    // Sent as it is: the hit is kept.
    let before = cache
        .requests()
        .iter()
        .filter(|r| r.method == "GET")
        .count();
    let (direct, shim) = stage.both(
        "plain",
        &format!("exec curl -fsSL --compressed -O {plain_url}"),
        &as_refs(&env),
    );
    assert_same("plain", &direct, &shim);
    let after = cache
        .requests()
        .iter()
        .filter(|r| r.method == "GET")
        .count();
    assert_eq!(
        after,
        before + 1,
        "the plain file was served from the cache host"
    );
}

#[test]
fn a_redirect_bound_fails_as_it_does_directly() {
    let Some(bin) = parts() else { return };
    let stage = Stage::new(&bin);
    // /a -> /b -> /final: two redirects.
    let origin = TestServer::start(|req| match req.target.as_str() {
        "/a/f.bin" => reply(302, &[("Location", "/b/f.bin")], b"moved\n"),
        "/b/f.bin" => reply(302, &[("Location", "/final/f.bin")], b"moved\n"),
        _ => reply(200, &[], ARTIFACT),
    });
    let url = format!("{}/a/f.bin", origin.url());
    let cache = cache_holding(vec![(url.clone(), ARTIFACT.to_vec())]);
    let env = env_for(&cache);
    let (direct, shim) = stage.both(
        "bound",
        &format!("exec curl -sSL --max-redirs 1 -O {url}"),
        &as_refs(&env),
    );
    assert_eq!(direct.code, Some(47));
    assert_same("bound", &direct, &shim);
}

#[test]
fn proxy_credentials_go_to_the_proxy_with_the_probe() {
    // A proxy that wants Basic credentials and answers every absolute-form
    // request itself: cache URLs from what the cache holds, origin URLs with
    // the artifact. It logs a 407 for every request without them.
    let Some(bin) = parts() else { return };
    let stage = Stage::new(&bin);
    let origin_url = "http://dl.example.com/pub/f.bin".to_string();
    let held = cache_path(&origin_url);
    let want = "Basic dXNlcjpwdw=="; // user:pw
    let proxy = TestServer::start(move |req| {
        if req.header("proxy-authorization") != Some(want) {
            return reply(407, &[("Proxy-Authenticate", "Basic realm=p")], b"");
        }
        if req.target.ends_with(&held) || req.target == origin_url {
            reply(200, &[], ARTIFACT)
        } else {
            reply(404, &[], b"")
        }
    });
    let env = vec![
        (
            "WITHCACHE_SERVER".to_string(),
            "http://cache.lab:8081".to_string(),
        ),
        ("http_proxy".to_string(), proxy.url()),
    ];
    let script = "exec curl -sSL -U user:pw -O http://dl.example.com/pub/f.bin";
    let (direct, shim) = stage.both("proxy", script, &as_refs(&env));
    assert_eq!(direct.code, Some(0));
    assert_same("proxy", &direct, &shim);
    let seen = proxy.requests();
    assert!(
        seen.iter()
            .all(|r| r.header("proxy-authorization").is_some()),
        "a request reached the proxy without its credentials: {seen:?}"
    );
    assert!(
        seen.iter()
            .any(|r| r.method == "GET" && r.target.starts_with("http://cache.lab:8081/b/")),
        "served from the cache host: {seen:?}"
    );
}

#[test]
fn machine_local_urls_never_reach_the_cache_host() {
    // The cache host (cache.lab) and the "cloud" are behind a loopback proxy
    // that plays them: the cache holds another machine's metadata answers.
    // Loopback origins are served by a test server on 127.0.0.1 (no_proxy).
    let Some(bin) = parts() else { return };
    let stage = Stage::new(&bin);
    let local = TestServer::start(|_| reply(200, &[], b"ok, this machine\n"));
    let proxy = TestServer::start(|req| {
        if req.target.starts_with("http://cache.lab:8081/b/") {
            reply(200, &[], b"ANOTHER MACHINE'S ROLE CREDENTIALS\n")
        } else {
            reply(200, &[], b"this machine's own answer\n")
        }
    });
    let env = vec![
        (
            "WITHCACHE_SERVER".to_string(),
            "http://cache.lab:8081".to_string(),
        ),
        ("http_proxy".to_string(), proxy.url()),
        ("no_proxy".to_string(), "127.0.0.1,localhost".to_string()),
    ];
    let health = format!("{}/health", local.url());
    let health_by_name = health.replace("127.0.0.1", "localhost");
    for (label, script) in [
        ("metadata", "exec curl -s http://169.254.169.254/latest/meta-data/iam/security-credentials/role".to_string()),
        ("metadata-token", "exec curl -sH 'X-aws-ec2-metadata-token: T' http://169.254.169.254/latest/meta-data/instance-id".to_string()),
        ("ecs", "exec curl -s -o creds.json http://169.254.170.2/v2/credentials/abc".to_string()),
        ("gce", "exec curl -s -H 'Metadata-Flavor: Google' http://metadata.google.internal/computeMetadata/v1/token.json".to_string()),
        ("cluster", "exec curl -s -o pods.json http://kubernetes.default.svc/api/v1/pods.json".to_string()),
        ("private", "exec curl -s -O http://10.3.50.157:8080/emiss-etl-dag.zip".to_string()),
        ("health", format!("exec curl -fsS {health}")),
        ("health-name", format!("exec curl -fsS {health_by_name}")),
        ("wget-metadata", "exec wget -q -O - http://169.254.169.254/latest/meta-data/iam/security-credentials/role".to_string()),
    ] {
        let (direct, shim) = stage.both(label, &script, &as_refs(&env));
        assert_same(label, &direct, &shim);
    }
    let asked: Vec<_> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.target.contains("cache.lab"))
        .collect();
    assert!(asked.is_empty(), "the cache host was asked: {asked:?}");
}

#[test]
fn urls_with_secrets_by_shape_never_reach_the_cache_host() {
    // Telegram's bot API, a GitHub token in a path, a JWT in a query and,
    // with WITHCACHE_KEEP_QUERY=1, an opaque signed-link parameter: the
    // probe would put each (base64-encoded) in a cache URL.
    let Some(bin) = parts() else { return };
    let stage = Stage::new(&bin);
    let proxy = TestServer::start(|req| {
        if req.target.starts_with("http://cache.lab:8081/b/") {
            reply(200, &[], b"someone else's answer\n")
        } else {
            reply(200, &[], b"{\"ok\":true}\n")
        }
    });
    let t30 = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6";
    let env = vec![
        (
            "WITHCACHE_SERVER".to_string(),
            "http://cache.lab:8081".to_string(),
        ),
        ("http_proxy".to_string(), proxy.url()),
        ("WITHCACHE_KEEP_QUERY".to_string(), "1".to_string()),
    ];
    for (label, url) in [
        ("telegram", "http://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/getUpdates".to_string()),
        ("github", format!("http://raw.example.com/ghp_{t30}/o/r/main/install.sh")),
        ("jwt", "http://dl.example.com/f.tar.xz?t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln".to_string()),
        ("opaque", "http://dl.example.com/cudnn-archive.tar.xz?4Dv9ZQXbXq8yV0nG2Kx1aP7Lm3Rt5Wc6Hs0Jd2Fk=&t=1".to_string()),
    ] {
        let (direct, shim) = stage.both(label, &format!("exec curl -sS -o out.bin '{url}'"), &as_refs(&env));
        assert_same(label, &direct, &shim);
    }
    let asked: Vec<_> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.target.contains("cache.lab"))
        .collect();
    assert!(asked.is_empty(), "the cache host was asked: {asked:?}");
}
