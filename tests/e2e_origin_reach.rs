//! Issue 21: the origin check tells "offline" (no name, no route, no
//! connection) from an origin that was reached but is slow, drops HEAD or
//! hangs on it; remembers each for what it knows (an unreachable host, a
//! slow URL); sends what the command sends (its User-Agent header, curlrc's
//! headers); serves no refused credential; stops a HEAD-refused GET after
//! the headers; and passes through what the origin calls private. Real curl
//! and GNU wget against loopback origins, each case run directly and
//! through the static release binary.

mod common;

use common::servers::{Reply, TestServer, cache_holding};
use common::stage::Stage;
use common::world::artifact;
use common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const ARTIFACT: &[u8] = b"the real artifact\n";
const MOVED: &[u8] = b"moved\n";

fn http(status: u16, headers: Vec<(&str, &str)>, body: Vec<u8>) -> Reply {
    Reply::Http {
        status,
        headers: headers
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body,
    }
}

fn redirect() -> Reply {
    http(302, vec![("Location", "/f/final.bin")], MOVED.to_vec())
}

/// The environment of one case: the cache host, a 1 s probe timeout, a
/// runtime directory of its own (the memory), and any extra variables.
struct Env(Vec<(String, String)>);

impl std::ops::Deref for Env {
    type Target = [(String, String)];
    fn deref(&self) -> &[(String, String)] {
        &self.0
    }
}

impl Env {
    fn new(cache: &TestServer, runtime: &tempfile::TempDir) -> Env {
        Env(vec![
            ("WITHCACHE_SERVER".into(), cache.url()),
            ("WITHCACHE_PROBE_TIMEOUT".into(), "1".into()),
            (
                "XDG_RUNTIME_DIR".into(),
                runtime.path().display().to_string(),
            ),
        ])
    }

    fn with(mut self, k: &str, v: &str) -> Env {
        self.0.push((k.into(), v.into()));
        self
    }

    fn refs(&self) -> Vec<(&str, &str)> {
        self.0
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

#[test]
fn an_origin_that_is_reached_but_slow_or_dropping_head_is_not_offline() {
    let Some(bin) = release_binary_with(&["curl", "wget"]) else {
        return;
    };
    let stage = Stage::new(&bin);
    // Three origins that curl reaches: every answer after 2.5 s; HEAD
    // answered with a closed connection (curl exit 52); HEAD never answered.
    // Each redirects the GET, which curl without -L saves as it is.
    let slow =
        TestServer::start(|_| Reply::Delayed(Duration::from_millis(2500), Box::new(redirect())));
    let drops = TestServer::start(|req| {
        if req.method == "HEAD" {
            Reply::Raw(Vec::new())
        } else {
            redirect()
        }
    });
    let hangs = TestServer::start(|req| {
        if req.method == "HEAD" {
            Reply::Hang
        } else {
            redirect()
        }
    });
    let urls = [
        format!("{}/slowredir/x.bin", slow.url()),
        format!("{}/dropredir/x.bin", drops.url()),
        format!("{}/hangredir/x.bin", hangs.url()),
    ];
    let cache = cache_holding(&urls, ARTIFACT);
    let runtime = tempfile::tempdir().unwrap();
    let env = Env::new(&cache, &runtime);
    for (n, url) in urls.iter().enumerate() {
        let (shim, said) = stage.same_with_debug(
            &format!("alive{n}"),
            &format!("curl -sS -O {url}"),
            &env[..],
        );
        assert_eq!(shim.files["x.bin"], MOVED, "{said}");
        assert!(said.contains("origin-no-answer"), "{said}");
    }
    // A slow or dropped answer is remembered for that URL: the second call
    // passes through without asking again.
    let asked_before = hangs.requests().len();
    let (_, said) =
        stage.same_with_debug("alive-again", &format!("curl -sS -O {}", urls[2]), &env[..]);
    assert!(
        said.contains("origin gave no answer (remembered)"),
        "{said}"
    );
    assert_eq!(
        hangs.requests().len(),
        asked_before + 2,
        "only the real curl's GETs (direct and through the shim) reached the origin"
    );
    assert_eq!(cache.gets(), 0, "nothing was served from the cache");
}

#[test]
fn one_slow_url_does_not_poison_its_origin() {
    let Some(bin) = release_binary_with(&["curl", "wget"]) else {
        return;
    };
    let stage = Stage::new(&bin);
    // HEAD of /hang/ never answers (its GET is a file); /redir/ redirects.
    let origin = TestServer::start(|req| {
        if req.target.starts_with("/hang/") {
            if req.method == "HEAD" {
                Reply::Hang
            } else {
                http(200, vec![], ARTIFACT.to_vec())
            }
        } else {
            redirect()
        }
    });
    let slow = format!("{}/hang/a.bin", origin.url());
    let redirecting = format!("{}/redir/b.bin", origin.url());
    let cache = cache_holding(&[slow.clone(), redirecting.clone()], ARTIFACT);
    let runtime = tempfile::tempdir().unwrap();
    let env = Env::new(&cache, &runtime);
    stage.same_with_debug("poison", &format!("curl -sS -O {slow}"), &env);
    // The next command on the same origin is asked, and its redirect saved.
    let (shim, said) = stage.same_with_debug("after", &format!("curl -sS -O {redirecting}"), &env);
    assert_eq!(shim.files["b.bin"], MOVED, "{said}");
    assert!(said.contains("origin 302"), "{said}");
}

#[test]
fn the_check_sends_the_commands_user_agent_and_curlrc_headers() {
    let Some(bin) = release_binary_with(&["curl", "wget"]) else {
        return;
    };
    let stage = Stage::new(&bin);
    // Browsers are sent to a download page; other clients get the file.
    let origin = TestServer::start(|req| {
        if req
            .header("user-agent")
            .is_some_and(|ua| ua.contains("Mozilla"))
        {
            http(302, vec![("Location", "/download.html")], MOVED.to_vec())
        } else {
            http(200, vec![], ARTIFACT.to_vec())
        }
    });
    let url = format!("{}/pub/tool.tgz", origin.url());
    let cache = cache_holding(std::slice::from_ref(&url), ARTIFACT);
    let runtime = tempfile::tempdir().unwrap();
    let env = Env::new(&cache, &runtime);
    for (label, script) in [
        (
            "ua-header",
            format!("curl -sS -H 'User-Agent: Mozilla/5.0' -O {url}"),
        ),
        (
            "ua-curlrc",
            format!(
                "printf 'header = \"User-Agent: Mozilla/5.0\"\\n' > .curlrc; curl -sS -O {url}"
            ),
        ),
    ] {
        let (shim, said) = stage.same_with_debug(label, &script, &env);
        assert_eq!(shim.files["tool.tgz"], MOVED, "{said}");
    }
    // Without it the origin answers 200 and the hit is served.
    let (shim, said) = stage.same_with_debug("ua-none", &format!("curl -sS -O {url}"), &env);
    assert_eq!(shim.files["tool.tgz"], ARTIFACT, "{said}");
    assert!(said.contains("rewrote 1/1"), "{said}");
}

/// 200 with the artifact for `alice:right` (Basic), 401 with a challenge
/// otherwise.
fn gated_origin() -> TestServer {
    TestServer::start(|req| {
        // base64("alice:right")
        if req.header("authorization") == Some("Basic YWxpY2U6cmlnaHQ=") {
            http(200, vec![("ETag", "\"a\"")], ARTIFACT.to_vec())
        } else {
            http(
                401,
                vec![("WWW-Authenticate", "Basic realm=\"lab\"")],
                b"who are you\n".to_vec(),
            )
        }
    })
}

#[test]
fn a_refused_credential_passes_through_and_a_working_one_is_served() {
    let Some(bin) = release_binary_with(&["curl", "wget"]) else {
        return;
    };
    let stage = Stage::new(&bin);
    let origin = gated_origin();
    let url = format!("{}/private/art.bin", origin.url());
    let cache = cache_holding(std::slice::from_ref(&url), ARTIFACT);
    let runtime = tempfile::tempdir().unwrap();
    let env = Env::new(&cache, &runtime);
    for (label, script, code) in [
        (
            "curl-wrong",
            format!("curl -fL -u alice:wrong {url} -o f"),
            22,
        ),
        (
            "wget-wrong",
            format!("wget -q --user=alice --password=wrong -O f {url}"),
            6,
        ),
    ] {
        let (shim, said) = stage.same_with_debug(label, &script, &env);
        assert_eq!(shim.code, Some(code), "{said}");
        assert!(said.contains("origin-identity"), "{said}");
    }
    assert_eq!(cache.gets(), 0);
    for (label, script) in [
        ("curl-right", format!("curl -fL -u alice:right {url} -o f")),
        (
            "wget-right",
            format!("wget -q --user=alice --password=right -O f {url}"),
        ),
    ] {
        let (shim, said) = stage.same_with_debug(label, &script, &env);
        assert_eq!(shim.code, Some(0), "{said}");
        assert!(said.contains("rewrote 1/1"), "{said}");
    }
    assert_eq!(cache.gets(), 2);
    for r in cache.requests() {
        assert!(r.header("authorization").is_none(), "{r:?}");
    }
}

#[test]
fn a_head_refused_get_stops_after_the_headers_and_is_remembered_per_url() {
    let Some(bin) = release_binary_with(&["curl", "wget"]) else {
        return;
    };
    let stage = Stage::new(&bin);
    // HEAD refused; GET streams 4 MiB with no Content-Length, 64 KiB every
    // 20 ms (about 1.3 s).
    let body = artifact("endless", 4 << 20);
    let sent = Arc::new(AtomicUsize::new(0));
    let gets = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (b2, s2, g2) = (body.clone(), sent.clone(), gets.clone());
    let origin = TestServer::start(move |req| {
        if req.method == "HEAD" {
            return http(405, vec![], vec![]);
        }
        // Each GET's own count, recorded when the next one starts.
        let mut g = g2.lock().unwrap();
        g.push(s2.swap(0, Ordering::Relaxed));
        drop(g);
        Reply::Trickle {
            headers: vec![("Content-Type".into(), "application/octet-stream".into())],
            body: b2.clone(),
            chunk: 64 << 10,
            pause: Duration::from_millis(20),
            sent: s2.clone(),
        }
    });
    let url = format!("{}/pub/stream.bin", origin.url());
    let cache = cache_holding(std::slice::from_ref(&url), &body);
    let runtime = tempfile::tempdir().unwrap();
    // (A timeout the direct GET's 1.3 s would not fit in: a check that
    // reads the body is killed at it.)
    let env = Env::new(&cache, &runtime).with("WITHCACHE_PROBE_TIMEOUT", "3");
    let mut spent = Vec::new();
    for round in 0..2 {
        let started = Instant::now();
        let script = format!("curl -fsS -O {url} 2>debug.txt");
        let denv = Env(env.0.clone()).with("WITHCACHE_DEBUG", "1");
        let shim = stage.run(
            &format!("round{round}"),
            &stage.bin(),
            &script,
            &denv.refs(),
        );
        spent.push(started.elapsed());
        assert_eq!(shim.code, Some(0));
        assert_eq!(shim.files["stream.bin"], body, "round {round}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Let the last GET's count settle, then record it.
    std::thread::sleep(Duration::from_millis(300));
    let mut per_get = gets.lock().unwrap().clone();
    per_get.push(sent.load(Ordering::Relaxed));
    let per_get: Vec<usize> = per_get.into_iter().skip(1).collect();
    eprintln!("bytes the origin sent per check GET: {per_get:?}; calls took {spent:?}");
    let heads = origin
        .requests()
        .iter()
        .filter(|r| r.method == "HEAD")
        .count();
    assert_eq!(heads, 1, "HEAD asked once, then remembered for the URL");
    assert_eq!(per_get.len(), 2, "one check GET per call");
    for n in per_get {
        assert!(n <= 512 << 10, "the check's GET read {n} bytes of the body");
    }
    assert_eq!(cache.gets(), 2, "both calls served from the cache");
}

#[test]
fn an_answer_the_origin_calls_private_is_not_served() {
    let Some(bin) = release_binary_with(&["curl", "wget"]) else {
        return;
    };
    let stage = Stage::new(&bin);
    let fresh = b"jobs: [3, 2, 1]\n".to_vec();
    let f2 = fresh.clone();
    let origin = TestServer::start(move |req| {
        let cc = if req.target.contains("nostore") {
            "no-store"
        } else {
            "private, max-age=0"
        };
        http(
            200,
            vec![("Cache-Control", cc), ("ETag", "\"j\"")],
            f2.clone(),
        )
    });
    let urls = [
        format!("{}/api/jobs.json", origin.url()),
        format!("{}/api/nostore/token.json", origin.url()),
    ];
    // The cache holds an older answer.
    let cache = cache_holding(&urls, b"jobs: [2, 1]\n");
    let runtime = tempfile::tempdir().unwrap();
    let env = Env::new(&cache, &runtime);
    for (label, script) in [
        ("private", format!("curl -sS {}", urls[0])),
        ("no-store", format!("curl -sS {}", urls[1])),
        (
            "private-token",
            format!("curl -sSL -H 'PRIVATE-TOKEN: t0k' {}", urls[0]),
        ),
    ] {
        let (shim, said) = stage.same_with_debug(label, &script, &env);
        assert_eq!(shim.stdout, fresh, "{said}");
        assert!(said.contains("origin-private"), "{said}");
    }
    assert_eq!(cache.gets(), 0);
}
