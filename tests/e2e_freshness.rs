//! Issue 23: a hit is what the origin serves today. Under the default
//! `WITHCACHE_REVALIDATE=auto` a URL that may move (no version, `latest`,
//! `main`, an install script) is revalidated with the origin, in the same one
//! check process, before a hit counts; one that names a release is trusted
//! without any origin request. Real curl and GNU wget against loopback
//! origins and cache hosts, directly and through the static release binary.

mod common;

use common::servers::{Reply, TestServer, free_port};
use common::stage::Stage;
use common::world::artifact;
use common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const JAN: &str = "Mon, 01 Jan 2024 00:00:00 GMT";
const FEB: &str = "Thu, 01 Feb 2024 00:00:00 GMT";

/// A cache host that answers every `b/` path with `body` and `headers`.
fn cache_with(body: Vec<u8>, headers: Vec<(&'static str, String)>) -> TestServer {
    TestServer::start(move |req| {
        if req.target.starts_with("/b/") {
            Reply::Http {
                status: 200,
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
                body: body.clone(),
            }
        } else {
            Reply::Http {
                status: 404,
                headers: vec![],
                body: vec![],
            }
        }
    })
}

/// An origin that serves `body` with `headers`, counting its requests.
fn origin_with(
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
) -> (TestServer, Arc<AtomicUsize>) {
    let asked = Arc::new(AtomicUsize::new(0));
    let a2 = asked.clone();
    let server = TestServer::start(move |_| {
        a2.fetch_add(1, Ordering::Relaxed);
        Reply::Http {
            status: 200,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            body: body.clone(),
        }
    });
    (server, asked)
}

fn env(cache: &TestServer, runtime: &tempfile::TempDir) -> Vec<(&'static str, String)> {
    vec![
        ("WITHCACHE_SERVER", cache.url()),
        ("WITHCACHE_REVALIDATE", "auto".into()),
        ("XDG_RUNTIME_DIR", runtime.path().display().to_string()),
    ]
}

#[test]
fn a_changed_origin_passes_through_and_gives_todays_bytes() {
    let Some(bin) = release_binary_with(&["curl", "wget"]) else {
        return;
    };
    let stage = Stage::new(&bin);
    let today = artifact("v2.1.5", 2 << 20);
    let yesterday = artifact("v2.1.4", 2 << 20);
    // (label, origin headers, origin body, cache headers, cache body)
    type Case = (
        &'static str,
        Vec<(&'static str, String)>,
        Vec<u8>,
        Vec<(&'static str, String)>,
        Vec<u8>,
    );
    let cases: Vec<Case> = vec![
        // Another length.
        (
            "length",
            vec![],
            today.clone(),
            vec![],
            artifact("v2.1.4", (2 << 20) - 100),
        ),
        // The same length, a newer Last-Modified at the origin.
        (
            "last-modified",
            vec![("Last-Modified", FEB.into())],
            today.clone(),
            vec![("Last-Modified", JAN.into())],
            yesterday.clone(),
        ),
        // The ETag an S3 seed recorded is not the origin's any more.
        (
            "s3-etag",
            vec![("ETag", "\"new\"".into())],
            today.clone(),
            vec![("x-amz-meta-origin-etag", "\"old\"".into())],
            yesterday.clone(),
        ),
    ];
    for (label, oh, ob, ch, cb) in cases {
        let (origin, _) = origin_with(ob, oh);
        let cache = cache_with(cb, ch);
        let runtime = tempfile::tempdir().unwrap();
        let e = env(&cache, &runtime);
        let url = format!("{}/releases/latest/download/tool.tar.gz", origin.url());
        for (tool, script) in [
            ("curl-L", format!("curl -fsSL -o tool.tar.gz {url}")),
            ("curl", format!("curl -fsS -o tool.tar.gz {url}")),
            ("wget", format!("wget -q -O tool.tar.gz {url}")),
        ] {
            let (shim, said) = stage.same_with_debug(&format!("{label}-{tool}"), &script, &e);
            assert_eq!(shim.files["tool.tar.gz"], today, "{label} {tool}: {said}");
            assert!(said.contains("stale"), "{label} {tool}: {said}");
        }
        assert_eq!(cache.gets(), 0, "{label}");
    }
}

#[test]
fn an_unchanged_origin_is_served_and_remembered_for_the_ttl() {
    let Some(bin) = release_binary_with(&["curl", "wget"]) else {
        return;
    };
    let stage = Stage::new(&bin);
    let body = b"v2.1.5\n".to_vec();
    // The cache host kept the origin's time (a seeded static host): small,
    // but provably the same.
    let (origin, asked) = origin_with(body.clone(), vec![("Last-Modified", JAN.into())]);
    let cache = cache_with(body.clone(), vec![("Last-Modified", JAN.into())]);
    let runtime = tempfile::tempdir().unwrap();
    let mut e = env(&cache, &runtime);
    e.push(("WITHCACHE_REVALIDATE_TTL", "2".into()));
    let url = format!("{}/release-latest.txt", origin.url());
    let (_, said) = stage.same_with_debug("fresh-L", &format!("curl -fsSL {url}"), &e);
    assert!(said.contains("rewrote 1/1"), "{said}");
    assert!(said.contains("fresh"), "{said}");
    // Remembered: the next call asks nobody (the direct run asks once).
    let before = asked.load(Ordering::Relaxed);
    let (_, said) = stage.same_with_debug("fresh-again", &format!("curl -fsSL {url}"), &e);
    assert!(said.contains("fresh (remembered)"), "{said}");
    assert_eq!(
        asked.load(Ordering::Relaxed),
        before + 1,
        "only the direct run"
    );
    // After the TTL it is asked again.
    std::thread::sleep(std::time::Duration::from_millis(2200));
    let before = asked.load(Ordering::Relaxed);
    let (_, said) = stage.same_with_debug("fresh-later", &format!("curl -fsSL {url}"), &e);
    assert!(
        said.contains("rewrote 1/1") && !said.contains("remembered"),
        "{said}"
    );
    assert_eq!(
        asked.load(Ordering::Relaxed),
        before + 2,
        "direct and the check"
    );
    // Without -L (the redirect question, compared at no extra cost), and wget.
    let (_, said) = stage.same_with_debug("fresh-no-L", &format!("curl -fsS {url}"), &e);
    assert!(said.contains("rewrote 1/1"), "{said}");
    let (_, said) = stage.same_with_debug("fresh-wget", &format!("wget -qO- {url}"), &e);
    assert!(said.contains("rewrote 1/1"), "{said}");
    // A large file of the same length is served on the length alone.
    let big = artifact("big", 3 << 20);
    let (origin, _) = origin_with(big.clone(), vec![]);
    let cache = cache_with(big.clone(), vec![]);
    let e = env(&cache, &runtime);
    let url = format!("{}/pub/tool.tar.gz", origin.url());
    let (_, said) = stage.same_with_debug("large", &format!("curl -fsSLO {url}"), &e);
    assert!(
        said.contains("rewrote 1/1") && said.contains("large"),
        "{said}"
    );
}

#[test]
fn a_release_is_trusted_and_an_unreachable_origin_is_served() {
    let Some(bin) = release_binary_with(&["curl", "wget"]) else {
        return;
    };
    let stage = Stage::new(&bin);
    let body = b"cuda\n".to_vec();
    let (origin, asked) = origin_with(body.clone(), vec![]);
    let cache = cache_with(body.clone(), vec![]);
    let runtime = tempfile::tempdir().unwrap();
    let e = env(&cache, &runtime);
    let url = format!("{}/compute/cuda/12.4.0/cuda_12.4.0_linux.run", origin.url());
    let shim = stage.run(
        "release",
        &stage.bin(),
        &format!("curl -fsSLO {url}"),
        &e.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(),
    );
    assert_eq!(shim.files["cuda_12.4.0_linux.run"], body);
    assert_eq!(
        asked.load(Ordering::Relaxed),
        0,
        "no origin request under auto"
    );
    assert_eq!(cache.gets(), 1);
    // `always` asks for it too (small, nothing but the length: fetched).
    let mut always = e.clone();
    always[1].1 = "always".into();
    let (_, said) = stage.same_with_debug("always", &format!("curl -fsSLO {url}"), &always);
    assert!(said.contains("stale"), "{said}");
    // An origin that cannot be reached at all: the cache's copy is served.
    let dead = format!(
        "http://127.0.0.1:{}/releases/latest/download/tool.tar.gz",
        free_port()
    );
    let shim = stage.run(
        "offline",
        &stage.bin(),
        &format!("curl -fsSL -o tool.tar.gz {dead}"),
        &e.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(),
    );
    assert_eq!(shim.code, Some(0));
    assert_eq!(shim.files["tool.tar.gz"], body);
}
