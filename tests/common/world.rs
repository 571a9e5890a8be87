//! A loopback "internet" for differential tests: an HTTP proxy on 127.0.0.1
//! that answers for any host the way that kind of host answers (redirects,
//! Accept negotiation, licence cookies, confirmation cookies, Basic auth,
//! Content-Disposition, chunked framing), and a runner that executes the real
//! tool directly and through the shim with that proxy as `http_proxy`, so
//! the same command line reaches the same simulated host both times.
//!
//! https URLs are run as http (the proxy would otherwise need TLS and a CA);
//! what a host answers depends on its name and path, not on the scheme.
#![allow(dead_code)]

use super::servers::{Reply, Seen, TestServer};
use super::{run_bounded, shim_binary};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Deterministic bytes for a URL (path and query), so that two queries of
/// one path, or a redirect's target and its source, differ.
pub fn artifact(key: &str, len: usize) -> Vec<u8> {
    let mut x = 0xcbf2_9ce4_8422_2325u64;
    for b in key.bytes() {
        x = (x ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn http(status: u16, headers: Vec<(&str, String)>, body: Vec<u8>) -> Reply {
    Reply::Http {
        status,
        headers: headers
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        body,
    }
}

/// Splits `http://host[:port]/path?query` as the proxy receives it.
fn split(target: &str) -> Option<(String, String)> {
    let rest = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))?;
    let slash = rest.find('/').unwrap_or(rest.len());
    let host = rest[..slash].split(':').next()?.to_ascii_lowercase();
    let path = if slash == rest.len() {
        "/".to_string()
    } else {
        rest[slash..].to_string()
    };
    Some((host, path))
}

fn cookie_has(req: &Seen, needle: &str) -> bool {
    req.headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("cookie") && v.contains(needle))
}

/// How the simulated internet answers one request. Public on purpose: the
/// cache host is filled with what a plain GET of each URL gives.
pub fn answer(req: &Seen) -> Reply {
    let Some((host, path_query)) = split(&req.target) else {
        return http(400, vec![], b"not a proxy request\n".to_vec());
    };
    let path = path_query
        .split(['?', '#'])
        .next()
        .unwrap_or("/")
        .to_string();
    let accept = req.header("accept").unwrap_or("*/*").to_string();
    let key = format!("{host}{path_query}");
    let body = |len: usize| artifact(&key, len);
    // GitHub release assets: github.com redirects to its object store.
    if host == "github.com" && path.contains("/releases/download/") {
        return http(
            302,
            vec![(
                "Location",
                format!("http://objects.githubusercontent.com/gh-release{path}?sig=x"),
            )],
            Vec::new(),
        );
    }
    // GitHub API: JSON by default, the asset or the raw file by Accept.
    if host == "api.github.com" {
        if path.contains("/releases/assets/") && accept.contains("application/octet-stream") {
            return http(
                302,
                vec![(
                    "Location",
                    format!("http://objects.githubusercontent.com/gh-asset{path}"),
                )],
                Vec::new(),
            );
        }
        if accept.contains("vnd.github") && accept.contains("raw") {
            return http(200, vec![], body(3000));
        }
        let json = format!("{{\"url\": \"https://api.github.com{path}\", \"id\": 1}}\n");
        return http(
            200,
            vec![("Content-Type", "application/json".into())],
            json.into_bytes(),
        );
    }
    // Oracle: a licence page unless the licence cookie is sent.
    if host.contains("oracle.com") && !cookie_has(req, "oraclelicense=") {
        return http(
            200,
            vec![("Content-Type", "text/html".into())],
            b"<html>Accept the licence agreement</html>\n".to_vec(),
        );
    }
    // Google Drive: a confirmation page unless the confirmation cookie (or
    // `confirm=` in the query) comes with it.
    if host.contains("drive.google.com") || host.contains("docs.google.com") {
        let confirmed = cookie_has(req, "download_warning") || path_query.contains("confirm=");
        if !confirmed {
            return http(
                200,
                vec![(
                    "Set-Cookie",
                    "download_warning_1=t; Path=/; Domain=.google.com".into(),
                )],
                b"<html>Google Drive can't scan this file for viruses.</html>\n".to_vec(),
            );
        }
        return http(
            200,
            vec![(
                "Content-Disposition",
                "attachment; filename=\"model.bin\"".into(),
            )],
            body(5000),
        );
    }
    // Artifactory/Nexus-like hosts want credentials.
    // (adoptium's public Artifactory path is not a private host.)
    let wants_auth = host.contains("artifactory")
        || host.ends_with("jfrog.io")
        || host.contains("nexus")
        || host.contains("private");
    let has_auth = req.header("authorization").is_some()
        || req.header("x-jfrog-art-api").is_some()
        || path_query.contains("token=");
    if wants_auth && !has_auth {
        return http(
            401,
            vec![("WWW-Authenticate", "Basic realm=\"repo\"".into())],
            b"unauthorized\n".to_vec(),
        );
    }
    // Hosts that answer a download URL with a redirect to a storage host.
    let storage = match host.as_str() {
        "github.com" if path.contains("/archive/") => Some("codeload.github.com"),
        "dl.k8s.io" => Some("cdn.dl.k8s.io"),
        "huggingface.co" if path.contains("/resolve/") => Some("cdn-lfs.huggingface.co"),
        "api.ngc.nvidia.com" => Some("prod-model-registry-ngc-bucket.s3.us-west-2.amazonaws.com"),
        "pypi.python.org" if path.starts_with("/packages/") => Some("files.pythonhosted.org"),
        _ => None,
    };
    if let Some(to) = storage {
        return http(
            302,
            vec![("Location", format!("http://{to}{path_query}"))],
            b"<html>Redirecting</html>\n".to_vec(),
        );
    }
    // go.dev/dl/ redirects to dl.google.com, as the real one does.
    if host == "go.dev" && path.starts_with("/dl/") {
        return http(
            302,
            vec![("Location", format!("http://dl.google.com/go{}", &path[3..]))],
            Vec::new(),
        );
    }
    // A latest-style URL redirects to a versioned one.
    if path.contains("/latest/") || path.ends_with("/latest") {
        return http(
            302,
            vec![(
                "Location",
                format!("http://{host}{}", path.replace("latest", "v9.9.9")),
            )],
            b"<html>moved</html>\n".to_vec(),
        );
    }
    // A download endpoint that names the file itself.
    if path.ends_with("/download") || path_query.contains("download?") {
        return http(
            200,
            vec![(
                "Content-Disposition",
                "attachment; filename=\"served-name.tgz\"".into(),
            )],
            body(4000),
        );
    }
    if path.ends_with('/') {
        return http(
            200,
            vec![("Content-Type", "text/html".into())],
            format!("<html>index of {path}</html>\n").into_bytes(),
        );
    }
    http(
        200,
        vec![
            ("Content-Type", "application/octet-stream".into()),
            ("Accept-Ranges", "bytes".into()),
            ("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT".into()),
        ],
        body(6000),
    )
}

/// What a plain GET of `url` finally gives (redirects followed, no headers,
/// no cookies): what a cache host filled by fetching the URL holds.
pub fn plain_get(url: &str) -> Option<Vec<u8>> {
    let mut target = url.replacen("https://", "http://", 1);
    for _ in 0..5 {
        let req = Seen {
            method: "GET".into(),
            target: target.clone(),
            headers: vec![],
        };
        match answer(&req) {
            Reply::Http {
                status: 200, body, ..
            } => return Some(body),
            Reply::Http {
                status: 301 | 302 | 303 | 307 | 308,
                headers,
                ..
            } => {
                let to = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("location"))?
                    .1
                    .clone();
                target = to;
            }
            _ => return None,
        }
    }
    None
}

/// The internet as one proxy on loopback.
pub fn internet() -> TestServer {
    TestServer::start(answer)
}

/// What one run left behind.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    /// Every file under the working directory: relative name -> bytes.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Their modification times (seconds), compared only where a test asks
    /// (`-R`, `-N`): a plain download's time is when it ran.
    pub mtimes: BTreeMap<String, i64>,
}

impl PartialEq for Outcome {
    fn eq(&self, other: &Outcome) -> bool {
        (self.code, &self.stdout, &self.files) == (other.code, &other.stdout, &other.files)
    }
}

/// Runs a tool with the internet as its proxy, in a fresh directory.
pub struct Runner {
    pub shims: tempfile::TempDir,
    pub proxy_url: String,
}

impl Runner {
    pub fn new(internet: &TestServer) -> Runner {
        let shims = tempfile::tempdir().unwrap();
        for name in ["curl", "wget"] {
            symlink(shim_binary(), shims.path().join(name)).unwrap();
        }
        Runner {
            shims,
            proxy_url: internet.url(),
        }
    }

    /// `program` is the real tool or `shims/NAME`; `env` adds to a clean
    /// environment with the internet as proxy and loopback left direct.
    pub fn run(&self, program: &Path, args: &[OsString], env: &[(&str, &str)]) -> Outcome {
        let work = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        // Directories the command writes into (made relative by `localized`)
        // exist, as they did where the line came from.
        for dir in output_dirs(args) {
            let _ = std::fs::create_dir_all(work.path().join(dir));
        }
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("WITHCACHE_REVALIDATE", "off") // (see common::clean_command)
            .env("XDG_STATE_HOME", super::STATE_HOME)
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.shims.path().display()),
            )
            .env("HOME", home.path())
            .env("LC_ALL", "C.UTF-8")
            .env("http_proxy", &self.proxy_url)
            .env("https_proxy", &self.proxy_url)
            .env("no_proxy", "127.0.0.1")
            .env("WITHCACHE_DOWN_TTL", "0")
            .current_dir(work.path())
            .args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = run_bounded(&mut cmd, Duration::from_secs(60));
        Outcome {
            code: out.status.code(),
            stdout: out.stdout,
            files: files_under(work.path()),
            mtimes: mtimes_under(work.path()),
        }
    }

    pub fn shim(&self, tool: &str) -> PathBuf {
        self.shims.path().join(tool)
    }
}

/// The parent directories of relative output paths, and `-P`/`--output-dir`
/// directories.
fn output_dirs(args: &[OsString]) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let mut next_is: Option<bool> = None;
    for a in args {
        let text = a.to_string_lossy();
        match next_is.take() {
            Some(true) => dirs.push(PathBuf::from(&*text)),
            Some(false) => {
                if let Some(parent) = Path::new(&*text).parent() {
                    dirs.push(parent.to_path_buf());
                }
            }
            None => match &*text {
                "-P" | "--directory-prefix" | "--output-dir" => next_is = Some(true),
                "-o" | "--output" | "-O" | "--output-document" => next_is = Some(false),
                _ => {}
            },
        }
    }
    dirs.retain(|d| !d.as_os_str().is_empty() && d.is_relative());
    dirs
}

fn mtimes_under(root: &Path) -> BTreeMap<String, i64> {
    use std::os::unix::fs::MetadataExt;
    let mut found = BTreeMap::new();
    for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
        if let Ok(m) = e.metadata() {
            found.insert(e.file_name().to_string_lossy().into_owned(), m.mtime());
        }
    }
    found
}

fn files_under(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap();
                let name = String::from_utf8_lossy(rel.as_os_str().as_bytes()).into_owned();
                found.insert(name, std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    found
}

/// Output paths in a command line made relative to the working directory
/// (`-o /usr/local/bin/kubectl` -> `-o usr/local/bin/kubectl`, with curl's
/// `--create-dirs` implied by creating nothing: the tests add it where the
/// tool needs the directory), and https made http (see the module comment).
pub fn localized(tool: &str, args: &[String]) -> Vec<String> {
    let value_opts: &[&str] = match tool {
        "curl" => &[
            "-o",
            "--output",
            "--output-dir",
            "-D",
            "--dump-header",
            "-c",
            "--cookie-jar",
        ],
        _ => &[
            "-O",
            "--output-document",
            "-P",
            "--directory-prefix",
            "-o",
            "--output-file",
            "-a",
            "--append-output",
        ],
    };
    let mut out = Vec::with_capacity(args.len());
    let mut take_value = false;
    for a in args {
        let mut a = a.replace("https://", "http://");
        if take_value {
            a = a.trim_start_matches('/').to_string();
            if a.is_empty() {
                a = ".".into();
            }
            take_value = false;
        } else if value_opts.contains(&a.as_str()) {
            take_value = true;
        } else if let Some((opt, v)) = a.split_once('=')
            && value_opts.contains(&opt)
            && v.starts_with('/')
        {
            a = format!("{opt}={}", v.trim_start_matches('/'));
        } else if tool == "wget" && a.starts_with("-O/") {
            a = format!("-O{}", a[2..].trim_start_matches('/'));
        } else if tool == "curl" && a.starts_with("-o/") {
            a = format!("-o{}", a[2..].trim_start_matches('/'));
        }
        out.push(a);
    }
    out
}
