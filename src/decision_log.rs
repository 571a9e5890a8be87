//! The decision log: when a cache host is set, one line per command the shim
//! planned, appended to `$XDG_STATE_HOME/cacheshim/decisions.log` (else
//! `~/.local/state/cacheshim/`), for `cacheshim stats`. Never written when
//! no cache host is set (that path stays a bare exec), nor with
//! `WITHCACHE_LOG=off`; nothing is ever printed about it.
//!
//! One `write(2)` per line on an `O_APPEND` descriptor: lines are far under
//! `PIPE_BUF`, so concurrent shims never interleave. The file is private
//! (0600, in a 0700 directory) and bounded: past `MAX_BYTES` it becomes
//! `decisions.log.1` (the one old file kept). A line names the origin only as
//! `scheme://host/path` (no query, userinfo or fragment), and never one that
//! is machine-local or holds a secret by its shape: those are logged by
//! their reason only.

use crate::env_view::EnvView;
use std::path::PathBuf;

pub const LOG_VAR: &str = "WITHCACHE_LOG";
pub const FILE: &str = "decisions.log";
pub const OLD_FILE: &str = "decisions.log.1";
pub const MAX_BYTES: u64 = 1 << 20;
/// The first field of every line: the format's version.
pub const FORMAT: &str = "v1";

/// One planned command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    pub time: u64,
    pub tool: String,
    /// `hit`, `miss` or `pass`.
    pub decision: String,
    /// The reason code (`miss`, `origin-not-2xx`, …); for a hit, `hit`.
    pub reason: String,
    /// The cache host (`WITHCACHE_SERVER`'s base), or `-`.
    pub host: String,
    pub urls: usize,
    /// What the cache host announced for the hits (`Content-Length`).
    pub bytes: u64,
    /// `scheme://host/path`, or `-`.
    pub origin: String,
}

impl Entry {
    pub fn line(&self) -> String {
        let clean = |s: &str| -> String {
            let s: String = s
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            if s.is_empty() { "-".into() } else { s }
        };
        format!(
            "{FORMAT}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            self.time,
            clean(&self.tool),
            clean(&self.decision),
            clean(&self.reason),
            clean(&self.host),
            self.urls,
            self.bytes,
            clean(&self.origin)
        )
    }

    pub fn parse(line: &str) -> Option<Entry> {
        let f: Vec<&str> = line.trim_end_matches('\n').split('\t').collect();
        if f.len() != 9 || f[0] != FORMAT {
            return None;
        }
        Some(Entry {
            time: f[1].parse().ok()?,
            tool: f[2].into(),
            decision: f[3].into(),
            reason: f[4].into(),
            host: f[5].into(),
            urls: f[6].parse().ok()?,
            bytes: f[7].parse().ok()?,
            origin: f[8].into(),
        })
    }
}

pub fn enabled(env: &dyn EnvView) -> bool {
    env.non_empty_str(LOG_VAR)
        .is_none_or(|v| crate::settings::parse_bool(&v) != Some(false))
}

/// `$XDG_STATE_HOME/cacheshim`, else `$HOME/.local/state/cacheshim`.
pub fn dir(env: &dyn EnvView) -> Option<PathBuf> {
    let state = env
        .non_empty("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            env.non_empty("HOME")
                .map(|h| PathBuf::from(h).join(".local/state"))
        })?;
    Some(state.join("cacheshim"))
}

/// The URL as the log may name it: `scheme://host[:port]/path`, or None
/// when it is machine-local, holds a secret by its shape, or is no URL.
pub fn loggable_origin(raw: &[u8], lan: &crate::machine_local::LanOrigins) -> Option<String> {
    let origin = crate::cache_url::Origin::parse(raw).ok()?;
    if crate::machine_local::machine_local(&origin.url, lan).is_some()
        || crate::secrets::secret_in_url(&origin.url, true).is_some()
    {
        return None;
    }
    let u = url::Url::parse(&origin.url).ok()?;
    Some(format!("{}{}", &u[..url::Position::BeforePath], u.path()))
}

/// Best effort: appends the line, rotating past `MAX_BYTES`; any failure
/// (read-only home, full disk) is silent.
pub fn append(env: &dyn EnvView, entry: &Entry) {
    use nix::fcntl::{OFlag, open};
    use nix::sys::stat::Mode;
    let Some(dir) = dir(env) else { return };
    let path = dir.join(FILE);
    let line = entry.line();
    let flags = OFlag::O_WRONLY
        | OFlag::O_APPEND
        | OFlag::O_CREAT
        | OFlag::O_CLOEXEC
        | OFlag::O_NOFOLLOW
        | OFlag::O_NONBLOCK;
    let mode = Mode::S_IRUSR | Mode::S_IWUSR;
    let open_log = || open(&path, flags, mode);
    // The directory is made the first time only (one system call a line
    // otherwise).
    let fd = match open_log() {
        Err(nix::errno::Errno::ENOENT) => {
            use std::os::unix::fs::DirBuilderExt;
            let _ = std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir);
            open_log()
        }
        other => other,
    };
    let Ok(mut fd) = fd else { return };
    let Ok(st) = nix::sys::stat::fstat(&fd) else {
        return;
    };
    if st.st_mode & nix::libc::S_IFMT != nix::libc::S_IFREG {
        return;
    }
    if u64::try_from(st.st_size).unwrap_or(0) + line.len() as u64 > MAX_BYTES {
        // Rotate: the old file is replaced; a shim that rotates at the same
        // moment loses nothing but the order of two renames.
        let _ = std::fs::rename(&path, dir.join(OLD_FILE));
        match open_log() {
            Ok(f) => fd = f,
            Err(_) => return,
        }
    }
    let _ = nix::unistd::write(&fd, line.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env_view::MapEnv;

    #[test]
    fn a_line_round_trips_and_never_breaks() {
        let e = Entry {
            time: 1_700_000_000,
            tool: "curl".into(),
            decision: "pass".into(),
            reason: "origin-not-2xx".into(),
            host: "http://cache.lab:8081".into(),
            urls: 2,
            bytes: 0,
            origin: "https://dl.example.com/a\tb\nc".into(),
        };
        let line = e.line();
        assert_eq!(line.matches('\n').count(), 1);
        let back = Entry::parse(&line).unwrap();
        assert_eq!(back.origin, "https://dl.example.com/a b c");
        assert_eq!(back.reason, "origin-not-2xx");
        assert_eq!(Entry::parse("v0\tjunk\n"), None);
    }

    #[test]
    fn origins_are_logged_without_query_userinfo_or_secrets() {
        let lan = crate::machine_local::LanOrigins::default();
        let log = |u: &str| loggable_origin(u.as_bytes(), &lan);
        assert_eq!(
            log("https://dl.example.com/pub/f.tgz?v=2#x").as_deref(),
            Some("https://dl.example.com/pub/f.tgz")
        );
        assert_eq!(log("http://localhost:8080/f.bin"), None);
        assert_eq!(log("https://dl.example.com/f.tgz?token=abc"), None);
        assert_eq!(log("https://alice:pw@dl.example.com/f.tgz"), None);
        assert_eq!(
            log("https://dl.example.com/ghp_0123456789abcdefghijklmnopqrstuvwxyzAB/f"),
            None
        );
        assert_eq!(log("not a url"), None);
    }

    #[test]
    fn appends_with_a_private_file_and_rotates_past_the_bound() {
        let tmp = tempfile::tempdir().unwrap();
        let env = MapEnv::from_pairs(&[("XDG_STATE_HOME", tmp.path().to_str().unwrap())]);
        let e = Entry {
            time: 1,
            tool: "curl".into(),
            decision: "hit".into(),
            reason: "hit".into(),
            ..Entry::default()
        };
        append(&env, &e);
        let log = tmp.path().join("cacheshim").join(FILE);
        assert_eq!(std::fs::read_to_string(&log).unwrap(), e.line());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&log).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(&log, vec![b'x'; MAX_BYTES as usize]).unwrap();
        append(&env, &e);
        assert_eq!(std::fs::read_to_string(&log).unwrap(), e.line());
        let old = tmp.path().join("cacheshim").join(OLD_FILE);
        assert_eq!(std::fs::metadata(old).unwrap().len(), MAX_BYTES);
    }

    #[test]
    fn where_and_whether() {
        let e = MapEnv::from_pairs(&[("HOME", "/home/u")]);
        assert_eq!(
            dir(&e),
            Some(PathBuf::from("/home/u/.local/state/cacheshim"))
        );
        let e = MapEnv::from_pairs(&[("HOME", "/home/u"), ("XDG_STATE_HOME", "/s")]);
        assert_eq!(dir(&e), Some(PathBuf::from("/s/cacheshim")));
        assert!(enabled(&MapEnv::from_pairs(&[])));
        assert!(!enabled(&MapEnv::from_pairs(&[(LOG_VAR, "off")])));
    }
}
