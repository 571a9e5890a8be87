//! Remembers, for `WITHCACHE_DOWN_TTL` seconds (default 30, 0 = off), that a
//! cache host did not answer, so a build with 200 downloads pays the probe
//! timeout once instead of 200 times.
//!
//! One file per server, `down-<hash>`, whose modification time is when it was
//! last found down. The directory is private to the user:
//! `$XDG_RUNTIME_DIR/cacheshim`, else `$TMPDIR` (or /tmp) `/cacheshim-<uid>`
//! created `0700`. A directory or file that is a symlink, belongs to someone
//! else or is open to others is not used, and files are opened with
//! `O_NOFOLLOW`: nobody can plant a link that makes us write elsewhere. Any
//! failure (read-only file system, no temp dir) simply means no memory.

use crate::env_view::EnvView;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub const TTL_VAR: &str = "WITHCACHE_DOWN_TTL";
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);

/// None when the memory is switched off (`WITHCACHE_DOWN_TTL=0`).
pub fn ttl(env: &dyn EnvView) -> Option<Duration> {
    match env
        .non_empty_str(TTL_VAR)
        .and_then(|v| crate::settings::parse_seconds(&v))
        .filter(|d| *d <= Duration::from_secs(86_400))
    {
        Some(d) if d.is_zero() => None,
        Some(d) => Some(d),
        None => Some(DEFAULT_TTL),
    }
}

pub struct DownMemory {
    dir: PathBuf,
    ttl: Duration,
}

impl DownMemory {
    /// Finds (creating if needed) the private directory; None when memory is
    /// off or no safe directory can be had.
    pub fn open(env: &dyn EnvView) -> Option<DownMemory> {
        let ttl = ttl(env)?;
        let uid = nix::unistd::geteuid().as_raw();
        let dir = match env.non_empty("XDG_RUNTIME_DIR").map(PathBuf::from) {
            Some(run) if run.is_absolute() => run.join("cacheshim"),
            _ => {
                let tmp = env
                    .non_empty("TMPDIR")
                    .map(PathBuf::from)
                    .filter(|p| p.is_absolute())
                    .unwrap_or_else(|| PathBuf::from("/tmp"));
                tmp.join(format!("cacheshim-{uid}"))
            }
        };
        let _ = fs::DirBuilder::new().mode(0o700).create(&dir);
        let md = fs::symlink_metadata(&dir).ok()?;
        let private = md.is_dir() && md.uid() == uid && md.mode() & 0o077 == 0;
        private.then_some(DownMemory { dir, ttl })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file_for(&self, server_base: &str) -> PathBuf {
        self.dir
            .join(format!("down-{:016x}", fnv1a(server_base.as_bytes())))
    }

    /// How much longer the server counts as down, if it does.
    pub fn down_for(&self, server_base: &str, now: SystemTime) -> Option<Duration> {
        let md = fs::symlink_metadata(self.file_for(server_base)).ok()?;
        if !md.is_file() || md.uid() != nix::unistd::geteuid().as_raw() {
            return None;
        }
        let since = now.duration_since(md.modified().ok()?).unwrap_or_default();
        self.ttl.checked_sub(since).filter(|left| !left.is_zero())
    }

    /// Best effort: errors mean no memory, never a failure.
    pub fn mark_down(&self, server_base: &str) {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(self.file_for(server_base));
        if let Ok(mut f) = file {
            let _ = writeln!(f, "{server_base}");
        }
    }
}

/// FNV-1a: a stable file name per server, no crypto needed.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env_view::MapEnv;

    fn env(pairs: &[(&str, &str)]) -> MapEnv {
        MapEnv::from_pairs(pairs)
    }

    #[test]
    fn ttl_values() {
        assert_eq!(ttl(&env(&[])), Some(DEFAULT_TTL));
        assert_eq!(ttl(&env(&[(TTL_VAR, "0")])), None);
        assert_eq!(ttl(&env(&[(TTL_VAR, "5")])), Some(Duration::from_secs(5)));
        assert_eq!(ttl(&env(&[(TTL_VAR, "junk")])), Some(DEFAULT_TTL));
    }

    #[test]
    fn remembers_for_the_ttl_only() {
        let tmp = tempfile::tempdir().unwrap();
        let e = env(&[
            ("XDG_RUNTIME_DIR", tmp.path().to_str().unwrap()),
            (TTL_VAR, "30"),
        ]);
        let m = DownMemory::open(&e).unwrap();
        let now = SystemTime::now();
        assert_eq!(m.down_for("http://c:1", now), None);
        m.mark_down("http://c:1");
        assert!(m.down_for("http://c:1", SystemTime::now()).is_some());
        assert_eq!(m.down_for("http://other:1", SystemTime::now()), None);
        assert_eq!(
            m.down_for("http://c:1", SystemTime::now() + Duration::from_secs(31)),
            None
        );
    }

    #[test]
    fn refuses_a_directory_open_to_others_or_a_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        let uid = nix::unistd::geteuid().as_raw();
        // Someone planted a world-writable directory under our name.
        let planted = tmp.path().join(format!("cacheshim-{uid}"));
        fs::DirBuilder::new().mode(0o777).create(&planted).unwrap();
        fs::set_permissions(
            &planted,
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        let e = env(&[("TMPDIR", tmp.path().to_str().unwrap())]);
        assert!(DownMemory::open(&e).is_none());
        // ... or a symlink to somewhere else.
        fs::remove_dir(&planted).unwrap();
        let elsewhere = tmp.path().join("elsewhere");
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&elsewhere)
            .unwrap();
        std::os::unix::fs::symlink(&elsewhere, &planted).unwrap();
        assert!(DownMemory::open(&e).is_none());
    }

    #[test]
    fn a_planted_file_symlink_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let e = env(&[("XDG_RUNTIME_DIR", tmp.path().to_str().unwrap())]);
        let m = DownMemory::open(&e).unwrap();
        let victim = tmp.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, m.file_for("http://c:1")).unwrap();
        m.mark_down("http://c:1");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(m.down_for("http://c:1", SystemTime::now()), None);
    }
}
