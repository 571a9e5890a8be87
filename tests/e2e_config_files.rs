//! Issue 22: config files and options read as the real tools read them.
//! wgetrc commands that wget's option table writes through `IF_SSL(...)` or
//! that are deprecated aliases (`html_extension`, `pinnedpubkey`,
//! `secure_protocol`, `check_certificate`, `ca_certificate`) with real GNU
//! wget in a temporary HOME, directly and through the static release binary.

mod common;

use common::servers::{Reply, TestServer, cache_holding, free_port};
use common::stage::Stage;
use common::tls::{LabCache, issue, nginx_with};
use common::*;

const PAGE: &[u8] = b"<html>the readme</html>\n";
const ARTIFACT: &[u8] = b"the real artifact\n";

/// `printf` of a wgetrc into `~/.wgetrc` (HOME is the run's directory),
/// then the command.
fn with_wgetrc(rc: &str, command: &str) -> String {
    format!("printf '{}' > .wgetrc; {command}", rc.replace('\n', "\\n"))
}

#[test]
fn wgetrc_commands_of_every_kind_reach_the_planner() {
    let Some(bin) = release_binary_with(&["wget", "openssl"]) else {
        return;
    };
    let stage = Stage::new(&bin);
    // A page served as HTML: `html_extension = on` (a deprecated alias of
    // adjust_extension) makes wget name it readme.php.html.
    let origin = TestServer::start(|_| Reply::Http {
        status: 200,
        headers: vec![("Content-Type".into(), "text/html".into())],
        body: PAGE.to_vec(),
    });
    let page = format!("{}/docs/readme.php", origin.url());
    // An https origin on TLS 1.2 only, with its own CA.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    issue(d, "origin", "IP:127.0.0.1,DNS:localhost");
    std::fs::create_dir_all(d.join("root/f")).unwrap();
    std::fs::write(d.join("root/f/x.bin"), ARTIFACT).unwrap();
    let port = free_port();
    let Some(_nginx) = nginx_with(d, &[(port, "origin")], "ssl_protocols TLSv1.2;") else {
        missing_part("nginx with TLS");
        return;
    };
    let tls = format!("https://localhost:{port}/f/x.bin");
    let ca = d.join("origin-ca.pem").display().to_string();
    let cache = cache_holding(&[page.clone(), tls.clone()], ARTIFACT);
    let env = [("WITHCACHE_SERVER", cache.url())];
    let pin = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    for (label, rc, url, code) in [
        (
            "html-extension",
            "html_extension = on\n".to_string(),
            &page,
            0,
        ),
        (
            "pinnedpubkey",
            format!("ca_certificate = {ca}\npinnedpubkey = {pin}\n"),
            &tls,
            5,
        ),
        (
            "secure-protocol",
            format!("ca_certificate = {ca}\nsecure_protocol = TLSv1_3\n"),
            &tls,
            4,
        ),
    ] {
        let script = with_wgetrc(&rc, &format!("wget -q {url}"));
        let (shim, said) = stage.same_with_debug(label, &script, &env);
        assert_eq!(shim.code, Some(code), "{label}: {said}");
        assert!(said.contains("pass-through"), "{label}: {said}");
    }
    let (shim, _) = stage.same_with_debug(
        "html-extension-name",
        &with_wgetrc("html_extension = on\n", &format!("wget -q {page}")),
        &env,
    );
    assert!(
        shim.files.contains_key("readme.php.html"),
        "{:?}",
        shim.files.keys()
    );
    assert_eq!(cache.gets(), 0);
}

#[test]
fn wgetrc_trust_reaches_the_https_cache_probe() {
    let Some(bin) = release_binary_with(&["wget", "openssl"]) else {
        return;
    };
    let stage = Stage::new(&bin);
    let origin = TestServer::serving(ARTIFACT);
    let url = format!("{}/pub/tool.tgz", origin.url());
    let Some(lab) = LabCache::start(&[(&url, ARTIFACT)]) else {
        missing_part("nginx with TLS");
        return;
    };
    let env = [("WITHCACHE_SERVER", lab.url())];
    for (n, rc) in [
        format!("ca_certificate = {}\n", lab.ca),
        "check_certificate = off\n".to_string(),
        "check_certificate = quiet\n".to_string(),
    ]
    .iter()
    .enumerate()
    {
        let before = lab.served();
        let script = with_wgetrc(rc, &format!("wget -q {url}"));
        let (shim, said) = stage.same_with_debug(&format!("trust{n}"), &script, &env);
        assert_eq!(shim.code, Some(0), "{rc}: {said}");
        assert_eq!(
            lab.served_after(before),
            before + 1,
            "{rc}: served from the cache host: {said}"
        );
    }
}

#[test]
fn a_false_word_keeps_queries_off_a_cache_host_that_drops_them() {
    let Some(bin) = release_binary_with(&["curl"]) else {
        return;
    };
    let Some(cache) = common::servers::WithcacheServer::start() else {
        return;
    };
    let stage = Stage::new(&bin);
    // An origin that answers by path and query; withcache-server keys its
    // blobs without the query (its default), so ?v=2 would get ?v=1's bytes.
    let origin = TestServer::start(|req| Reply::Http {
        status: 200,
        headers: vec![],
        body: common::world::artifact(&req.target, 3000),
    });
    let one = format!("{}/pkg/f.tgz?v=1", origin.url());
    let two = format!("{}/pkg/f.tgz?v=2", origin.url());
    cache.seed("f-one", &one);
    for word in ["false", "no", "off", "0", "maybe"] {
        let env = [
            ("WITHCACHE_SERVER", cache.url()),
            ("WITHCACHE_KEEP_QUERY", word.to_string()),
        ];
        let (shim, said) = stage.same_with_debug(
            &format!("keep-{word}"),
            &format!("curl -sSL -o f.tgz '{two}'"),
            &env,
        );
        assert_eq!(shim.code, Some(0), "{word}: {said}");
        assert!(said.contains("pass-through"), "{word}: {said}");
        if word == "maybe" {
            assert!(said.contains("taken as off"), "{said}");
        }
    }
}

#[test]
fn the_key_is_the_path_the_tool_requests_without_dot_segments() {
    let Some(bin) = release_binary_with(&["curl", "wget"]) else {
        return;
    };
    let stage = Stage::new(&bin);
    let origin = TestServer::start(|req| Reply::Http {
        status: if req.target == "/raw/obj.bin" {
            200
        } else {
            404
        },
        headers: vec![],
        body: ARTIFACT.to_vec(),
    });
    let written = format!("{}/raw/dir/../obj.bin", origin.url());
    let requested = format!("{}/raw/obj.bin", origin.url());
    // A host that keys as written holds another object under the URL as
    // typed, and the artifact under what the tools request.
    let held = [
        (cache_path(&requested), ARTIFACT.to_vec()),
        (cache_path(&written), b"another object\n".to_vec()),
    ];
    let cache = TestServer::start(
        move |req| match held.iter().find(|(p, _)| *p == req.target) {
            Some((_, body)) => Reply::Http {
                status: 200,
                headers: vec![],
                body: body.clone(),
            },
            None => Reply::Http {
                status: 404,
                headers: vec![],
                body: Vec::new(),
            },
        },
    );
    let env = [("WITHCACHE_SERVER", cache.url())];
    for (label, script) in [
        ("curl-dots", format!("curl -fsSL -o obj.bin '{written}'")),
        ("wget-dots", format!("wget -q -O obj.bin '{written}'")),
    ] {
        let (shim, said) = stage.same_with_debug(label, &script, &env);
        assert_eq!(shim.files["obj.bin"], ARTIFACT, "{said}");
        assert!(said.contains("rewrote 1/1"), "{said}");
    }
}

/// `/redir/` redirects; `/f/` is the artifact (with a Last-Modified).
fn redirecting_origin() -> TestServer {
    TestServer::start(|req| {
        if req.target.starts_with("/redir/") {
            Reply::Http {
                status: 302,
                headers: vec![("Location".into(), "/f/final.bin".into())],
                body: b"moved\n".to_vec(),
            }
        } else {
            Reply::Http {
                status: 200,
                headers: vec![(
                    "Last-Modified".into(),
                    "Mon, 01 Jan 2024 00:00:00 GMT".into(),
                )],
                body: ARTIFACT.to_vec(),
            }
        }
    })
}

#[test]
fn a_curlrc_directory_stops_curls_search() {
    let Some(bin) = release_binary_with(&["curl"]) else {
        return;
    };
    let stage = Stage::new(&bin);
    let origin = redirecting_origin();
    let url = format!("{}/redir/x.bin", origin.url());
    let cache = cache_holding(std::slice::from_ref(&url), ARTIFACT);
    let env = [("WITHCACHE_SERVER", cache.url())];
    // $CURL_HOME/.curlrc is a directory: curl stops there and reads no
    // config, so `location` in $HOME/.curlrc does not apply: the redirect
    // is saved as it is.
    let script = format!(
        "mkdir -p ch/.curlrc; printf 'location\\n' > .curlrc; CURL_HOME=$PWD/ch curl -sS -O {url}"
    );
    let (shim, said) = stage.same_with_debug("curlrc-dir", &script, &env);
    assert_eq!(shim.files["x.bin"], b"moved\n", "{said}");
}

#[test]
fn a_fifo_wgetrc_is_passed_over_as_wget_does_and_never_waited_on() {
    let Some(bin) = release_binary_with(&["wget"]) else {
        return;
    };
    let stage = Stage::new(&bin);
    let origin = redirecting_origin();
    let url = format!("{}/f/x.bin", origin.url());
    let cache = cache_holding(std::slice::from_ref(&url), ARTIFACT);
    let env = [("WITHCACHE_SERVER", cache.url())];
    for (label, script) in [
        ("fifo-home", format!("mkfifo .wgetrc; wget -q {url}")),
        (
            "fifo-system",
            format!("mkfifo sys.rc; SYSTEM_WGETRC=$PWD/sys.rc wget -q {url}"),
        ),
    ] {
        // (The FIFO goes before the stage reads the run's files.)
        let script = format!("{script}; rc=$?; rm -f .wgetrc sys.rc; exit $rc");
        let (shim, said) = stage.same_with_debug(label, &script, &env);
        assert_eq!(shim.code, Some(0), "{label}: {said}");
        assert_eq!(shim.files["x.bin"], ARTIFACT, "{label}: {said}");
        assert!(said.contains("rewrote 1/1"), "{label}: {said}");
    }
}

#[test]
fn wget_timestamping_with_output_document_passes_through() {
    let Some(bin) = release_binary_with(&["wget"]) else {
        return;
    };
    let stage = Stage::new(&bin);
    let origin = redirecting_origin();
    let url = format!("{}/f/x.bin", origin.url());
    // The cache host sends no Last-Modified (withcache-server sends none).
    let cache = cache_holding(std::slice::from_ref(&url), ARTIFACT);
    let env = [("WITHCACHE_SERVER", cache.url())];
    let script = format!("wget -q -N -O out.bin {url}; stat -c %Y out.bin");
    let (shim, said) = stage.same_with_debug("n-with-o", &script, &env);
    assert_eq!(
        String::from_utf8_lossy(&shim.stdout).trim(),
        "1704067200",
        "{said}"
    );
}

#[test]
fn a_referer_holding_a_token_never_reaches_the_cache_host() {
    let Some(bin) = release_binary_with(&["curl", "wget"]) else {
        return;
    };
    let stage = Stage::new(&bin);
    let origin = redirecting_origin();
    let url = format!("{}/f/x.bin", origin.url());
    let cache = cache_holding(std::slice::from_ref(&url), ARTIFACT);
    let env = [("WITHCACHE_SERVER", cache.url())];
    let token = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";
    let referer = format!("https://ci.example.com/{token}/run");
    for (label, script) in [
        (
            "curl-e",
            format!("curl -fsSL -e '{referer}' -o x.bin {url}"),
        ),
        (
            "curl-h",
            format!("curl -fsSL -H 'Referer: {referer}' -o x.bin {url}"),
        ),
        (
            "wget-referer",
            format!("wget -q --referer='{referer}' {url}"),
        ),
    ] {
        let (_, said) = stage.same_with_debug(label, &script, &env);
        assert!(said.contains("referer-secret"), "{label}: {said}");
    }
    for r in cache.requests() {
        assert!(!format!("{r:?}").contains(token), "{r:?}");
    }
}

#[test]
fn the_runtime_memory_holds_no_proxy_credential() {
    let Some(bin) = release_binary_with(&["curl"]) else {
        return;
    };
    let stage = Stage::new(&bin);
    let runtime = tempfile::tempdir().unwrap();
    // The cache host (on loopback, not proxied) holds the file; the origin
    // is reached only through a proxy that refuses connections: offline,
    // served, and the origin remembered for that route, which names the
    // proxy and its credentials.
    let url = "http://dl.example.com/x.bin".to_string();
    let cache = cache_holding(std::slice::from_ref(&url), ARTIFACT);
    let proxy = format!("http://127.0.0.1:{}", free_port());
    let env = [
        ("WITHCACHE_SERVER", cache.url()),
        ("XDG_RUNTIME_DIR", runtime.path().display().to_string()),
    ];
    let script =
        format!("curl -sS --noproxy 127.0.0.1 -x {proxy} -U alice:pr0xyS3cret -o x.bin {url}");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let shim = stage.run("proxy-user", &stage.bin(), &script, &env);
    assert_eq!(shim.files.get("x.bin").map(Vec::as_slice), Some(ARTIFACT));
    let dir = runtime.path().join("cacheshim");
    let mut files = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("pr0xyS3cret"),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        files += 1;
    }
    assert!(files > 0, "the unreachable origin was remembered");
}

#[test]
fn wget_serves_no_url_an_earlier_one_may_set_a_cookie_for() {
    let Some(bin) = release_binary_with(&["wget"]) else {
        return;
    };
    let stage = Stage::new(&bin);
    const LICENCE: &[u8] = b"<html>accept the licence first</html>\n";
    // The first page sets the licence cookie; the file is served only with it.
    let origin = TestServer::start(|req| {
        if req.target.starts_with("/setcookie/") {
            return Reply::Http {
                status: 200,
                headers: vec![("Set-Cookie".into(), "licence=accepted; Path=/".into())],
                body: b"<html>thanks</html>\n".to_vec(),
            };
        }
        let accepted = req
            .header("cookie")
            .is_some_and(|c| c.contains("licence=accepted"));
        Reply::Http {
            status: 200,
            headers: vec![],
            body: if accepted { ARTIFACT } else { LICENCE }.to_vec(),
        }
    });
    let accept = format!("{}/setcookie/accept.html", origin.url());
    let gated = format!("{}/gated/jdk.bin", origin.url());
    // The cache fetched the file without the cookie: the licence page. It
    // holds the file only (the page is a miss), then both.
    for (label, held) in [
        ("cookie-miss-first", vec![gated.clone()]),
        ("cookie-both-held", vec![accept.clone(), gated.clone()]),
    ] {
        let cache = TestServer::start({
            let held: Vec<String> = held.iter().map(|u| cache_path(u)).collect();
            move |req| Reply::Http {
                status: if held.contains(&req.target) { 200 } else { 404 },
                headers: vec![],
                body: LICENCE.to_vec(),
            }
        });
        let env = [("WITHCACHE_SERVER", cache.url())];
        let script = format!("wget -q {accept} {gated}");
        let (shim, said) = stage.same_with_debug(label, &script, &env);
        assert_eq!(shim.files["jdk.bin"], ARTIFACT, "{said}");
        assert!(said.contains("sends-cookies"), "{said}");
    }
}

#[test]
fn wget_decoding_gets_the_encoding_question() {
    let Some(bin) = release_binary_with(&["wget", "curl", "gzip"]) else {
        return;
    };
    let stage = Stage::new(&bin);
    // An origin that always sends the file gzip-encoded; the cache host
    // holds the stream as sent.
    let mut gz = std::process::Command::new("gzip")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    gz.stdin.take().unwrap().write_all(ARTIFACT).unwrap();
    let encoded = gz.wait_with_output().unwrap().stdout;
    let e2 = encoded.clone();
    let origin = TestServer::start(move |_| Reply::Http {
        status: 200,
        headers: vec![
            ("Content-Encoding".into(), "gzip".into()),
            ("Content-Type".into(), "application/octet-stream".into()),
        ],
        body: e2.clone(),
    });
    let url = format!("{}/pub/data.bin", origin.url());
    let cache = cache_holding(std::slice::from_ref(&url), &encoded);
    let env = [("WITHCACHE_SERVER", cache.url())];
    for (label, script) in [
        (
            "compression-auto",
            format!("wget -q --compression=auto -O f {url}"),
        ),
        (
            "compression-wgetrc",
            with_wgetrc("compression = gzip\n", &format!("wget -q -O f {url}")),
        ),
    ] {
        let (shim, said) = stage.same_with_debug(label, &script, &env);
        assert_eq!(shim.files["f"], ARTIFACT, "{label}: {said}");
        assert!(said.contains("encoding"), "{label}: {said}");
    }
    // Without it wget saves the stream as sent, which is what the cache holds.
    let (shim, said) =
        stage.same_with_debug("compression-none", &format!("wget -q -O f {url}"), &env);
    assert_eq!(shim.files["f"], encoded);
    assert!(said.contains("rewrote 1/1"), "{said}");
}

#[test]
fn a_cache_host_wgets_hsts_database_names_passes_through() {
    let Some(bin) = release_binary_with(&["wget"]) else {
        return;
    };
    let stage = Stage::new(&bin);
    let origin = redirecting_origin();
    let url = format!("{}/f/x.bin", origin.url());
    let cache = cache_holding(std::slice::from_ref(&url), ARTIFACT);
    // The cache host by name, which wget's HSTS database lists: wget would
    // fetch http://localhost:PORT/… as https://localhost:PORT/….
    let server = format!("http://localhost:{}", cache.port);
    let env = [("WITHCACHE_SERVER", server)];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let db = format!(
        "# HSTS 1.0 Known Hosts database for GNU Wget.\\nlocalhost\\t{}\\t0\\t{now}\\t3600\\n",
        cache.port
    );
    let script = format!("printf '{db}' > .wget-hsts; wget -q {url}");
    let (shim, said) = stage.same_with_debug("hsts", &script, &env);
    assert_eq!(shim.files["x.bin"], ARTIFACT, "{said}");
    assert!(said.contains("cache-hsts"), "{said}");
    // With --no-hsts wget keeps http: served.
    let script = format!("printf '{db}' > .wget-hsts; wget -q --no-hsts {url}");
    let (_, said) = stage.same_with_debug("no-hsts", &script, &env);
    assert!(said.contains("rewrote 1/1"), "{said}");
}

#[test]
fn wgetrc_proxies_route_the_https_cache_probe_as_the_download() {
    let Some(bin) = release_binary_with(&["wget", "openssl"]) else {
        return;
    };
    let stage = Stage::new(&bin);
    let origin = TestServer::serving(ARTIFACT);
    let url = format!("{}/pub/tool.tgz", origin.url());
    let Some(lab) = LabCache::start(&[(&url, ARTIFACT)]) else {
        missing_part("nginx with TLS");
        return;
    };
    let lab_ca = lab.ca.clone();
    let env = [("WITHCACHE_SERVER", lab.url())];
    // wgetrc sends https through a proxy that refuses connections: the
    // download of an https cache URL would fail there (wget exit 4).
    let dead_proxy = format!("http://127.0.0.1:{}", free_port());
    let rc = format!("ca_certificate = {lab_ca}\nhttps_proxy = {dead_proxy}\n");
    let script = with_wgetrc(&rc, &format!("wget -q {url}"));
    let (shim, said) = stage.same_with_debug("wgetrc-proxy", &script, &env);
    assert_eq!(shim.code, Some(0), "{said}");
    assert!(said.contains("pass-through"), "{said}");
    // And a no_proxy line that exempts the cache host: served.
    let rc = format!("{rc}no_proxy = 127.0.0.1\n");
    let script = with_wgetrc(&rc, &format!("wget -q {url}"));
    let (_, said) = stage.same_with_debug("wgetrc-no-proxy", &script, &env);
    assert!(said.contains("rewrote 1/1"), "{said}");
}
