//! Every deployment mode in the README, run verbatim: the ```bash deploy-NAME
//! blocks are extracted from README.md and run with `CACHE` (a loopback cache
//! host holding the artifact) and `URL` (its origin) set, `cacheshim` on PATH,
//! a fresh HOME and working directory, and WITHCACHE_DEBUG=1.

mod common;

use common::servers::*;
use common::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn readme_block(name: &str) -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let fence = format!("```bash deploy-{name}\n");
    let start = readme
        .find(&fence)
        .unwrap_or_else(|| panic!("README has no block deploy-{name}"))
        + fence.len();
    let len = readme[start..].find("```").expect("closing fence");
    readme[start..start + len].to_string()
}

struct Setup {
    origin: TestServer,
    cache: TestServer,
    url: String,
    body: Vec<u8>,
    bin: tempfile::TempDir,
}

impl Setup {
    fn new() -> Option<Setup> {
        if which("curl").is_none() || which("wget").is_none() {
            missing_part("curl and wget");
            return None;
        }
        let body: Vec<u8> = (0..70_000u32).map(|i| (i % 253) as u8).collect();
        let mut files = HashMap::new();
        // A release (a version in its name): trusted as it is, like a real
        // vendor artifact (an unversioned small file is revalidated: issue 23).
        files.insert(b"/pub/1.2.3/f.tgz".to_vec(), body.clone());
        let origin = origin(files, HashMap::new());
        let url = format!("{}/pub/1.2.3/f.tgz", origin.url());
        let path = cache_path(&url);
        let cached = body.clone();
        let cache = TestServer::start(move |req| {
            if req.target == path {
                Reply::Http {
                    status: 200,
                    headers: vec![],
                    body: cached.clone(),
                }
            } else {
                Reply::Http {
                    status: 404,
                    headers: vec![],
                    body: vec![],
                }
            }
        });
        let bin = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(shim_binary(), bin.path().join("cacheshim")).unwrap();
        Some(Setup {
            origin,
            cache,
            url,
            body,
            bin,
        })
    }

    /// Runs the README block in a fresh HOME and working directory.
    fn run(&self, name: &str, extra: &[(&str, PathBuf)]) -> (tempfile::TempDir, String) {
        let work = tempfile::tempdir().unwrap();
        let home = work.path().join("home");
        let cwd = work.path().join("cwd");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&cwd).unwrap();
        let mut cmd = Command::new("bash");
        cmd.env_clear()
            .env("WITHCACHE_REVALIDATE", "off") // (see common::clean_command)
            .env("XDG_STATE_HOME", common::STATE_HOME)
            .env("HOME", &home)
            .env(
                "PATH",
                format!(
                    "{}:/usr/sbin:/usr/bin:/sbin:/bin",
                    self.bin.path().display()
                ),
            )
            .env("CACHE", self.cache.url())
            .env("URL", &self.url)
            .env("WITHCACHE_DEBUG", "1")
            .env("WITHCACHE_DOWN_TTL", "0")
            .current_dir(&cwd)
            .args(["-e", "-o", "pipefail", "-c", &readme_block(name)]);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = run_bounded(&mut cmd, Duration::from_secs(60));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "deploy-{name} failed:\n{stderr}");
        (work, stderr)
    }

    fn file(&self, work: &tempfile::TempDir, rel: &str) -> Vec<u8> {
        std::fs::read(work.path().join("cwd").join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }
}

fn hits(stderr: &str) -> usize {
    stderr.matches("rewrote 1/1").count()
}

#[test]
fn by_name() {
    let Some(s) = Setup::new() else { return };
    let (w, err) = s.run("by-name", &[]);
    assert_eq!(s.file(&w, "f.tgz"), s.body);
    assert_eq!(s.file(&w, "by-name-wget.bin"), s.body);
    assert_eq!(hits(&err), 2, "{err}");
    assert!(s.origin.requests().is_empty(), "the origin was asked");
}

#[test]
fn this_shell() {
    let Some(s) = Setup::new() else { return };
    let (w, err) = s.run("this-shell", &[]);
    assert_eq!(s.file(&w, "f.tgz"), s.body);
    assert_eq!(hits(&err), 1, "{err}");
    assert!(s.origin.requests().is_empty());
}

#[test]
fn per_user_rc_file() {
    let Some(s) = Setup::new() else { return };
    let (w, err) = s.run("per-user", &[]);
    assert_eq!(s.file(&w, "f.tgz"), s.body);
    assert_eq!(hits(&err), 1, "{err}");
    assert!(s.origin.requests().is_empty());
}

#[test]
fn one_project_with_direnv() {
    let Some(s) = Setup::new() else { return };
    if which("direnv").is_none() {
        missing_part("direnv (Debian direnv)");
        return;
    }
    let (w, err) = s.run("direnv", &[]);
    assert_eq!(s.file(&w, "project/inside.bin"), s.body);
    assert_eq!(s.file(&w, "elsewhere/outside.bin"), s.body);
    // Inside the project the shim served it; outside, the real curl asked the origin.
    assert_eq!(hits(&err), 1, "{err}");
    assert_eq!(s.origin.requests().len(), 1, "{:?}", s.origin.requests());
}

#[test]
fn machine_wide() {
    let Some(s) = Setup::new() else { return };
    let (w, err) = s.run("machine-wide", &[]);
    assert_eq!(s.file(&w, "f.tgz"), s.body);
    assert_eq!(hits(&err), 1, "{err}");
    let link = w.path().join("cwd/root/usr/local/bin/curl");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(s.origin.requests().is_empty());
}

#[test]
fn minimal_root_with_busybox() {
    let Some(s) = Setup::new() else { return };
    let static_bin = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/x86_64-unknown-linux-musl/release/cacheshim");
    if !static_bin.is_file() {
        missing_part("the static musl build (scripts/test builds it)");
        return;
    }
    if which("busybox").is_none() {
        missing_part("busybox (Debian busybox-static)");
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED (documented): chroot needs root");
        return;
    }
    let (w, err) = s.run("minimal-root", &[("CACHESHIM_STATIC", static_bin)]);
    assert_eq!(s.file(&w, "root/tmp/fw.bin"), s.body);
    assert_eq!(hits(&err), 1, "{err}");
    assert!(s.origin.requests().is_empty());
}
