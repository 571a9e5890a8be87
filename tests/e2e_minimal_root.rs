//! The static musl binary as `wget` in an otherwise empty root that holds
//! only BusyBox: no libc, no shell, no /etc, no /proc. BusyBox wget is the
//! only real wget there. Run with chroot where the machine allows it (root);
//! otherwise the test says why it is skipped.

mod common;

use common::servers::*;
use common::*;
use std::collections::HashMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Built by `scripts/test` (and `scripts/release`) before the tests run.
pub fn static_binary() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/x86_64-unknown-linux-musl/release/cacheshim");
    if p.is_file() {
        Some(p)
    } else {
        missing_part(
            "the static musl build (cargo build --release --target x86_64-unknown-linux-musl)",
        );
        None
    }
}

fn chroot_allowed() -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("chroot needs root; this test runs as an unprivileged user".into());
    }
    if which("chroot").is_none() {
        return Err("no chroot command".into());
    }
    Ok(())
}

#[test]
fn static_shim_as_wget_in_a_root_with_only_busybox() {
    let Some(shim) = static_binary() else { return };
    let Some(busybox) = which("busybox") else {
        missing_part("busybox (Debian busybox-static)");
        return;
    };
    if let Err(why) = chroot_allowed() {
        eprintln!("SKIPPED (documented): {why}");
        return;
    }
    let Some(nginx) = Nginx::start() else { return };
    let body: Vec<u8> = (0..50_000u32).map(|i| (i % 241) as u8).collect();
    let mut files = HashMap::new();
    files.insert(b"/pub/fw.bin".to_vec(), body.clone());
    let origin = origin(files, HashMap::new());
    let url = format!("{}/pub/fw.bin", origin.url());
    nginx.put(&url, &body);

    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for d in ["bin", "usr/bin", "tmp"] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    std::fs::copy(&busybox, r.join("bin/busybox")).unwrap();
    std::fs::copy(&shim, r.join("bin/cacheshim")).unwrap();
    symlink("cacheshim", r.join("bin/wget")).unwrap();
    symlink("../../bin/busybox", r.join("usr/bin/wget")).unwrap();

    let run = |program: &str, out: &str, server: Option<&str>| {
        let mut cmd = Command::new(which("chroot").unwrap());
        cmd.env_clear()
            .env("WITHCACHE_REVALIDATE", "off") // (see common::clean_command)
            .env("PATH", "/bin:/usr/bin")
            .arg(r)
            .args([program, "-q", "-O", out, &url]);
        if let Some(s) = server {
            cmd.env("WITHCACHE_SERVER", s).env("WITHCACHE_DEBUG", "1");
        }
        run_bounded(&mut cmd, Duration::from_secs(30))
    };
    origin.clear();
    let direct = run("/usr/bin/wget", "/tmp/direct", None);
    assert!(
        direct.status.success(),
        "{}",
        String::from_utf8_lossy(&direct.stderr)
    );
    assert!(!origin.requests().is_empty());
    origin.clear();
    let shimmed = run("/bin/wget", "/tmp/shim", Some(&nginx.url()));
    let err = String::from_utf8_lossy(&shimmed.stderr);
    assert!(shimmed.status.success(), "{err}");
    assert!(
        err.contains("rewrote 1/1") && err.contains("exec /usr/bin/wget"),
        "{err}"
    );
    assert_eq!(std::fs::read(r.join("tmp/shim")).unwrap(), body);
    assert_eq!(std::fs::read(r.join("tmp/direct")).unwrap(), body);
    assert!(
        origin.requests().is_empty(),
        "the origin was asked: {:?}",
        origin.requests()
    );
    assert!(nginx.access_log().lines().any(|l| l.starts_with("GET /b/")));
    // Nothing else in the root: no libc, no shell, no /etc, no /proc.
    let mut names: Vec<String> = walk(r);
    names.sort();
    assert_eq!(
        names,
        [
            "bin/busybox",
            "bin/cacheshim",
            "bin/wget",
            "tmp/direct",
            "tmp/shim",
            "usr/bin/wget"
        ],
    );
}

fn walk(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            if md.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out
}
