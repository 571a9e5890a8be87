//! Issue 21 over TLS and with the user's one-shot inputs: local TLS trouble
//! (a CA bundle that is not there, an origin certificate the command does
//! not trust) is the command's own failure, never "offline", and is not
//! remembered; a `--cacert`, `--netrc-file` or wget `--ca-certificate` given
//! as a process substitution is read by the real tool alone (never by the
//! origin check or the https cache probe); a dead https cache host is
//! remembered like a dead plain-http one. Real curl and GNU wget, nginx
//! with a private CA on loopback, the static release binary.

mod common;

use common::servers::{Blackhole, Reply, Silent, TestServer, cache_holding, free_port, which};
use common::stage::Stage;
use common::tls::{issue, nginx_with};
use common::*;
use std::path::Path;

const ARTIFACT: &[u8] = b"the real artifact\n";
const CACHED: &[u8] = b"the artifact, as the cache host holds it\n";

fn hold(root: &Path, origin: &str, bytes: &[u8]) {
    let p = root.join(cache_path(origin).trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// An https origin on loopback (nginx, its own CA): `/f/` files, `/redir/`
/// redirects to `/f/final.bin`.
struct TlsOrigin {
    _dir: tempfile::TempDir,
    _nginx: common::tls::Nginx,
    url: String,
    ca: String,
}

fn tls_origin() -> Option<TlsOrigin> {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    issue(d, "origin", "IP:127.0.0.1,DNS:localhost");
    std::fs::create_dir_all(d.join("root/f")).unwrap();
    std::fs::create_dir_all(d.join("root/private")).unwrap();
    for name in ["x.bin", "final.bin", "y.bin"] {
        std::fs::write(d.join("root/f").join(name), ARTIFACT).unwrap();
    }
    std::fs::write(d.join("root/private/w.bin"), ARTIFACT).unwrap();
    let port = free_port();
    // /private/: a sign-in page without an Authorization header.
    let nginx = nginx_with(
        d,
        &[(port, "origin")],
        "location /redir/ { return 302 /f/final.bin; } \
         location /private/ { if ($http_authorization = \"\") { return 200 \"<html>Please sign in</html>\\n\"; } }",
    );
    let Some(nginx) = nginx else {
        missing_part("nginx with TLS");
        return None;
    };
    Some(TlsOrigin {
        url: format!("https://localhost:{port}"),
        ca: d.join("origin-ca.pem").display().to_string(),
        _dir: dir,
        _nginx: nginx,
    })
}

fn env(cache: &str, runtime: &tempfile::TempDir) -> Vec<(String, String)> {
    vec![
        ("WITHCACHE_SERVER".into(), cache.into()),
        ("WITHCACHE_PROBE_TIMEOUT".into(), "1".into()),
        (
            "XDG_RUNTIME_DIR".into(),
            runtime.path().display().to_string(),
        ),
    ]
}

#[test]
fn local_tls_trouble_is_not_offline_and_is_not_remembered() {
    let Some(bin) = release_binary_with(&["curl", "wget", "openssl"]) else {
        return;
    };
    let Some(o) = tls_origin() else { return };
    let stage = Stage::new(&bin);
    let urls = [
        format!("{}/f/x.bin", o.url),
        format!("{}/redir/y.bin", o.url),
    ];
    let cache = cache_holding(&urls, ARTIFACT);
    let runtime = tempfile::tempdir().unwrap();
    let base = env(&cache.url(), &runtime);
    let with = |k: &str, v: &str| {
        let mut e = base.clone();
        e.push((k.into(), v.into()));
        e
    };
    // A CA bundle that is not there (curl 77), an origin certificate the
    // command does not trust (60), a missing --cacert file (77).
    for (label, script, e, code) in [
        (
            "bundle-missing",
            format!("curl -sS -O {}", urls[0]),
            with("CURL_CA_BUNDLE", "/nonexistent/ca.pem"),
            77,
        ),
        (
            "untrusted",
            format!("curl -sS -O {}", urls[0]),
            base.clone(),
            60,
        ),
        (
            "cacert-missing",
            format!("curl -sS --cacert /nonexistent/ca.pem -O {}", urls[0]),
            base.clone(),
            77,
        ),
    ] {
        let (shim, said) = stage.same_with_debug(label, &script, &e);
        assert_eq!(shim.code, Some(code), "{said}");
    }
    // The same origin, the command's trust right: asked (not remembered as
    // offline), and its redirect saved as curl without -L saves it.
    let (shim, said) = stage.same_with_debug(
        "bundle-right",
        &format!("curl -sS -O {}", urls[1]),
        &with("CURL_CA_BUNDLE", &o.ca),
    );
    assert!(said.contains("origin 302"), "{said}");
    assert_eq!(shim.code, Some(0));
    // And a plain file of it is served.
    let (_, said) = stage.same_with_debug(
        "bundle-right-file",
        &format!("curl -sS -O {}", urls[0]),
        &with("CURL_CA_BUNDLE", &o.ca),
    );
    assert!(said.contains("rewrote 1/1"), "{said}");
}

#[test]
fn process_substitutions_are_read_by_the_real_tool_alone() {
    let Some(bin) = release_binary_with(&["curl", "wget", "openssl"]) else {
        return;
    };
    let Some(o) = tls_origin() else { return };
    let stage = Stage::new(&bin);
    // Plain-http cache host; curl without -L asks the https origin.
    let redir = format!("{}/redir/x.bin", o.url);
    // An http origin that gives alice the artifact and others a sign-in page.
    let signin = TestServer::start(|req| Reply::Http {
        status: 200,
        headers: vec![("ETag".into(), "\"p\"".into())],
        body: if req.header("authorization").is_some() {
            ARTIFACT.to_vec()
        } else {
            b"<html>Please sign in</html>\n".to_vec()
        },
    });
    let private = format!("{}/private/n.bin", signin.url());
    let cache = cache_holding(&[redir.clone(), private.clone()], CACHED);
    let runtime = tempfile::tempdir().unwrap();
    let e = env(&cache.url(), &runtime);
    let host = signin
        .url()
        .trim_start_matches("http://")
        .split(':')
        .next()
        .unwrap()
        .to_string();
    let (shim, said) = stage.same_with_debug(
        "cacert-pipe",
        &format!("curl -sS --cacert <(cat {}) -O {redir}", o.ca),
        &e,
    );
    assert_eq!(shim.code, Some(0), "{said}");
    assert!(said.contains("not a regular file"), "{said}");
    let (shim, said) = stage.same_with_debug(
        "netrc-pipe",
        &format!(
            "curl -sSL --netrc-file <(printf 'machine {host} login alice password s3cret\\n') -o n.bin {private}"
        ),
        &e,
    );
    assert_eq!(shim.files["n.bin"], ARTIFACT, "{said}");
    assert_eq!(cache.gets(), 0);
}

#[test]
fn wget_credential_headers_are_asked_with_wgets_own_trust() {
    let Some(bin) = release_binary_with(&["curl", "wget", "openssl"]) else {
        return;
    };
    let Some(o) = tls_origin() else { return };
    let stage = Stage::new(&bin);
    // The cache holds what an anonymous client got: the sign-in page.
    let url = format!("{}/private/w.bin", o.url);
    let sign_in: &'static [u8] = b"<html>Please sign in</html>\n";
    let cache = cache_holding(std::slice::from_ref(&url), sign_in);
    let runtime = tempfile::tempdir().unwrap();
    let e = env(&cache.url(), &runtime);
    // The check's curl trusts what wget trusts (--ca-certificate as
    // --cacert): it reaches the origin, which answers by the header.
    let (shim, said) = stage.same_with_debug(
        "wget-ca",
        &format!(
            "wget -q --ca-certificate={} --header 'Authorization: Bearer t0k' -O w.bin {url}",
            o.ca
        ),
        &e,
    );
    assert_eq!(shim.files["w.bin"], ARTIFACT, "{said}");
    assert!(said.contains("origin-identity"), "{said}");
    // The same CA as a process substitution: wget alone reads it.
    let (shim, said) = stage.same_with_debug(
        "wget-ca-pipe",
        &format!(
            "wget -q --ca-certificate=<(cat {}) --header 'Authorization: Bearer t0k' -O w.bin {url}",
            o.ca
        ),
        &e,
    );
    assert_eq!(shim.files["w.bin"], ARTIFACT, "{said}");
    assert!(said.contains("not a regular file"), "{said}");
    let served = cache.gets();
    assert_eq!(served, 0);
}

#[test]
fn an_https_cache_hosts_ca_as_a_process_substitution_is_not_drained() {
    let Some(bin) = release_binary_with(&["curl", "wget", "openssl"]) else {
        return;
    };
    if which("nginx").is_none() && !Path::new("/usr/sbin/nginx").exists() {
        missing_part("nginx");
        return;
    }
    let stage = Stage::new(&bin);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    issue(d, "lab", "IP:127.0.0.1,DNS:localhost");
    let origin = TestServer::serving(CACHED);
    let url = format!("{}/pub/tool.tgz", origin.url());
    hold(&d.join("root"), &url, CACHED);
    let port = free_port();
    let Some(_nginx) = nginx_with(d, &[(port, "lab")], "") else {
        missing_part("nginx with TLS");
        return;
    };
    let runtime = tempfile::tempdir().unwrap();
    let e = env(&format!("https://127.0.0.1:{port}"), &runtime);
    let ca = d.join("lab-ca.pem").display().to_string();
    for (label, script) in [
        (
            "curl-cache-ca-pipe",
            format!("curl -fsSL --cacert <(cat {ca}) -O {url}"),
        ),
        (
            "wget-cache-ca-pipe",
            format!("wget -q --ca-certificate=<(cat {ca}) {url}"),
        ),
    ] {
        let (shim, said) = stage.same_with_debug(label, &script, &e);
        assert_eq!(shim.code, Some(0), "{said}");
        assert_eq!(shim.files["tool.tgz"], CACHED, "{said}");
    }
}

#[test]
fn a_dead_https_cache_host_is_remembered() {
    let Some(bin) = release_binary_with(&["curl", "wget", "openssl"]) else {
        return;
    };
    let stage = Stage::new(&bin);
    let origin = TestServer::serving(ARTIFACT);
    let url = format!("{}/pub/tool.tgz", origin.url());
    // Blackholed (no connection) and hanging (connects, never answers the
    // TLS handshake).
    let hole = Blackhole::start();
    let hang = Silent::start();
    for (label, server) in [
        ("blackholed", hole.url().replace("http://", "https://")),
        ("hanging", hang.url().replace("http://", "https://")),
    ] {
        let runtime = tempfile::tempdir().unwrap();
        let e = env(&server, &runtime);
        let (_, first) =
            stage.same_with_debug(&format!("{label}-1"), &format!("curl -fsSL -O {url}"), &e);
        assert!(first.contains("unreachable"), "{first}");
        let (_, second) =
            stage.same_with_debug(&format!("{label}-2"), &format!("curl -fsSL -O {url}"), &e);
        assert!(second.contains("cache-down"), "{second}");
    }
}
