//! Remembers, for `WITHCACHE_DOWN_TTL` seconds (default 30, 0 = off), that a
//! cache host did not answer by a given route (directly, or through a given
//! proxy), so a build with 200 downloads pays the probe timeout once instead
//! of 200 times, and a dead proxy named by one command does not turn caching
//! off for the commands that go direct.
//!
//! One file per route, `down-<hash>`, whose modification time is when it was
//! last found down; an entry counts only within [now - TTL, now], so a clock
//! stepped back cannot keep a host "down" for longer. The directory is private
//! to the user: `$XDG_RUNTIME_DIR/cacheshim` when that runtime directory
//! exists and belongs to us (not after `su`), else `$TMPDIR` (or /tmp)
//! `/cacheshim-<uid>`, created `0700`. It is opened once (`O_DIRECTORY |
//! O_NOFOLLOW`), its owner and mode are checked on that descriptor, and the
//! files are created and read relative to it with `O_NOFOLLOW`: nobody can
//! swap in a link between the check and the write. Any failure (read-only
//! file system, no temp dir) simply means no memory.

use crate::env_view::EnvView;
use nix::fcntl::{AtFlags, OFlag, open, openat};
use nix::sys::stat::{Mode, fstat, fstatat, mkdirat};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    path: PathBuf,
    parent: OwnedFd,
    /// Opened when first needed, created only to remember something.
    dir: std::cell::OnceCell<OwnedFd>,
    ttl: Duration,
}

impl DownMemory {
    /// Finds (creating if needed) the private directory; None when memory is
    /// off or no safe directory can be had.
    pub fn open(env: &dyn EnvView) -> Option<DownMemory> {
        let ttl = ttl(env)?;
        let uid = nix::unistd::geteuid().as_raw();
        let runtime = env
            .non_empty("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.is_dir() && m.uid() == uid));
        let path = match runtime {
            Some(run) => run.join("cacheshim"),
            None => {
                let tmp = env
                    .non_empty("TMPDIR")
                    .map(PathBuf::from)
                    .filter(|p| p.is_absolute())
                    .unwrap_or_else(|| PathBuf::from("/tmp"));
                tmp.join(format!("cacheshim-{uid}"))
            }
        };
        let parent = open(
            path.parent()?,
            OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        path.file_name()?;
        let memory = DownMemory {
            path,
            parent,
            dir: std::cell::OnceCell::new(),
            ttl,
        };
        // An existing directory that is not private means no memory at all.
        if memory.exists() && memory.private_dir(false).is_none() {
            return None;
        }
        Some(memory)
    }

    fn exists(&self) -> bool {
        self.path.file_name().is_some_and(|name| {
            fstatat(self.parent.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW).is_ok()
        })
    }

    /// The private directory, opened (and with `create`, made) on first
    /// use; its owner and mode are checked on the descriptor.
    fn private_dir(&self, create: bool) -> Option<std::os::fd::BorrowedFd<'_>> {
        if let Some(d) = self.dir.get() {
            return Some(d.as_fd());
        }
        let name = self.path.file_name()?;
        if create {
            let _ = mkdirat(self.parent.as_fd(), name, Mode::S_IRWXU);
        }
        let dir = openat(
            self.parent.as_fd(),
            name,
            OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        let st = fstat(dir.as_fd()).ok()?;
        let uid = nix::unistd::geteuid().as_raw();
        if st.st_uid != uid || st.st_mode & 0o077 != 0 {
            return None;
        }
        let _ = self.dir.set(dir);
        self.dir.get().map(|d| d.as_fd())
    }

    pub fn dir(&self) -> &Path {
        &self.path
    }

    fn file_for(route: &str) -> String {
        format!("down-{:016x}", fnv1a(route.as_bytes()))
    }

    /// How much longer the route counts as down, if it does.
    pub fn down_for(&self, route: &str, now: SystemTime) -> Option<Duration> {
        let st = fstatat(
            self.private_dir(false)?,
            Self::file_for(route).as_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .ok()?;
        let is_file = st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFREG;
        if !is_file || st.st_uid != nix::unistd::geteuid().as_raw() {
            return None;
        }
        let marked = UNIX_EPOCH
            + Duration::new(
                u64::try_from(st.st_mtime).ok()?,
                u32::try_from(st.st_mtime_nsec).ok()?,
            );
        // A time in the future (the clock was stepped back) is not believed.
        let since = now.duration_since(marked).ok()?;
        self.ttl.checked_sub(since).filter(|left| !left.is_zero())
    }

    /// Whether `key` was marked within the last `ttl` (not in the future).
    pub fn marked_within(&self, key: &str, ttl: Duration, now: SystemTime) -> bool {
        if ttl.is_zero() {
            return false;
        }
        let Some(dir) = self.private_dir(false) else {
            return false;
        };
        let Ok(st) = fstatat(
            dir,
            Self::file_for(key).as_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        ) else {
            return false;
        };
        let is_file = st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFREG;
        if !is_file || st.st_uid != nix::unistd::geteuid().as_raw() {
            return false;
        }
        let (Ok(secs), Ok(nanos)) = (u64::try_from(st.st_mtime), u32::try_from(st.st_mtime_nsec))
        else {
            return false;
        };
        let marked = UNIX_EPOCH + Duration::new(secs, nanos);
        now.duration_since(marked).is_ok_and(|since| since < ttl)
    }

    /// Marks `key` so that `marked_within(key, ttl)` holds for `valid` (at
    /// most `ttl`): its time is set `ttl - valid` in the past.
    pub fn mark_valid_for(&self, key: &str, valid: Duration, ttl: Duration) {
        if valid.is_zero() {
            return;
        }
        self.mark_down(key);
        let back = ttl.saturating_sub(valid);
        if back.is_zero() {
            return;
        }
        let Ok(now) = SystemTime::now().duration_since(UNIX_EPOCH) else {
            return;
        };
        let at = now.saturating_sub(back);
        let t = nix::sys::time::TimeSpec::new(
            i64::try_from(at.as_secs()).unwrap_or(0),
            i64::from(at.subsec_nanos()),
        );
        let Some(dir) = self.private_dir(false) else {
            return;
        };
        let _ = nix::sys::stat::utimensat(
            dir,
            Self::file_for(key).as_str(),
            &t,
            &t,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        );
    }

    /// Best effort: errors mean no memory, never a failure.
    pub fn mark_down(&self, route: &str) {
        let Some(dir) = self.private_dir(true) else {
            return;
        };
        let file = openat(
            dir,
            Self::file_for(route).as_str(),
            OFlag::O_WRONLY
                | OFlag::O_CREAT
                | OFlag::O_TRUNC
                | OFlag::O_NOFOLLOW
                | OFlag::O_CLOEXEC,
            Mode::S_IRUSR | Mode::S_IWUSR,
        );
        // The file stays empty: its name is a hash and its time the mark, so
        // nothing of the key (a proxy's credentials, a URL) is on disk.
        if let Ok(fd) = file {
            // O_TRUNC of an existing empty file may not touch its time.
            let _ = nix::sys::stat::futimens(
                &fd,
                &nix::sys::time::TimeSpec::UTIME_NOW,
                &nix::sys::time::TimeSpec::UTIME_NOW,
            );
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
    use std::fs;
    use std::os::unix::fs::DirBuilderExt;

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
        // A mark from the future (the clock was stepped back) does not count.
        assert_eq!(
            m.down_for("http://c:1", SystemTime::now() - Duration::from_secs(60)),
            None
        );
    }

    #[test]
    fn a_runtime_dir_that_is_missing_or_not_ours_falls_back_to_the_temp_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("no-such-runtime-dir");
        let e = env(&[
            ("XDG_RUNTIME_DIR", missing.to_str().unwrap()),
            ("TMPDIR", tmp.path().to_str().unwrap()),
        ]);
        let m = DownMemory::open(&e).expect("falls back to TMPDIR");
        assert!(m.dir().starts_with(tmp.path()) && !m.dir().starts_with(&missing));
        // Not owned by us: a directory of another user (root's /, for a
        // non-root test; for root, a directory chowned away).
        let foreign = tmp.path().join("foreign");
        fs::create_dir(&foreign).unwrap();
        if nix::unistd::geteuid().is_root() {
            nix::unistd::chown(&foreign, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
        }
        let e = env(&[
            (
                "XDG_RUNTIME_DIR",
                if nix::unistd::geteuid().is_root() {
                    foreign.to_str().unwrap()
                } else {
                    "/"
                },
            ),
            ("TMPDIR", tmp.path().to_str().unwrap()),
        ]);
        let m = DownMemory::open(&e).expect("falls back to TMPDIR");
        assert!(m.dir().starts_with(tmp.path()) && !m.dir().starts_with(&foreign));
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
    fn the_directory_is_made_only_to_remember_something() {
        let tmp = tempfile::tempdir().unwrap();
        let e = env(&[("XDG_RUNTIME_DIR", tmp.path().to_str().unwrap())]);
        let m = DownMemory::open(&e).unwrap();
        assert_eq!(m.down_for("http://c:1", SystemTime::now()), None);
        assert!(!m.dir().exists(), "asking made the directory");
        m.mark_down("http://c:1");
        assert!(m.dir().is_dir());
        assert!(m.down_for("http://c:1", SystemTime::now()).is_some());
    }

    #[test]
    fn a_planted_file_symlink_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let e = env(&[("XDG_RUNTIME_DIR", tmp.path().to_str().unwrap())]);
        let m = DownMemory::open(&e).unwrap();
        // (The directory exists once something was remembered.)
        fs::DirBuilder::new().mode(0o700).create(m.dir()).unwrap();
        let victim = tmp.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, m.dir().join(DownMemory::file_for("http://c:1")))
            .unwrap();
        m.mark_down("http://c:1");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(m.down_for("http://c:1", SystemTime::now()), None);
    }
}
