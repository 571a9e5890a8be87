//! Finding the real curl/wget: `REAL_CURL`/`REAL_WGET` if it names an
//! executable, else the first `curl`/`wget` on PATH that is not a shim.
//!
//! "Not a shim" holds for symlinks, symlink chains and hard links (same file),
//! for byte-identical copies (same size, same bytes) and for any other shim
//! binary already passed through in this chain (`loop_guard`). The file system
//! is reached through `Executables`, so tests need none.

use crate::tool::Tool;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

/// What we know about our own binary.
#[derive(Clone, Debug, Default)]
pub struct SelfImage {
    pub id: Option<FileId>,
    pub size: Option<u64>,
    /// A path to read our own bytes from (for spotting copies).
    pub path: Option<PathBuf>,
}

pub trait Executables {
    /// Identity and size of an executable regular file (symlinks followed),
    /// or None when it is missing, not a file, or not executable.
    fn inspect(&self, path: &Path) -> Option<(FileId, u64)>;
    /// Whether two files hold the same bytes.
    fn same_bytes(&self, a: &Path, b: &Path) -> bool;
    /// Identity and size of a file we know is running (ourselves): no
    /// executable check needed.
    fn identify(&self, path: &Path) -> Option<(FileId, u64)> {
        self.inspect(path)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    pub path: PathBuf,
    /// Shims passed over on the way (for the debug line and `doctor`).
    pub skipped: Vec<PathBuf>,
    /// `REAL_*` was set but named a shim or no executable, or a file this
    /// chain already ran (a wrapper script that calls curl again).
    pub ignored_override: Option<OsString>,
    /// The identity of `REAL_*` when it is what runs (for the loop guard).
    pub override_id: Option<FileId>,
}

pub fn locate_real_tool(
    tool: Tool,
    override_path: Option<&OsStr>,
    path_var: Option<&OsStr>,
    me: &SelfImage,
    seen: &[FileId],
    overrides_taken: &[FileId],
    fs: &dyn Executables,
) -> Option<Located> {
    let mut skipped = Vec::new();
    let is_shim = |path: &Path, id: FileId, size: u64| {
        Some(id) == me.id
            || seen.contains(&id)
            || (Some(size) == me.size && me.path.as_deref().is_some_and(|p| fs.same_bytes(path, p)))
    };
    let mut ignored_override = None;
    if let Some(o) = override_path.filter(|o| !o.is_empty()) {
        let p = Path::new(o);
        match fs.inspect(p) {
            // Reached again through it: the override is a wrapper that calls
            // the tool by name; this time the real one on PATH is meant.
            Some((id, size)) if !is_shim(p, id, size) && !overrides_taken.contains(&id) => {
                return Some(Located {
                    path: p.to_path_buf(),
                    skipped,
                    ignored_override: None,
                    override_id: Some(id),
                });
            }
            _ => ignored_override = Some(o.to_os_string()),
        }
    }
    for dir in search_path(path_var).split(|&b| b == b':') {
        // An empty PATH entry is the current directory; keep a slash in the
        // result so exec does not search PATH again.
        let dir = if dir.is_empty() {
            OsStr::new(".")
        } else {
            OsStr::from_bytes(dir)
        };
        let candidate = Path::new(dir).join(tool.name());
        let Some((id, size)) = fs.inspect(&candidate) else {
            continue;
        };
        if is_shim(&candidate, id, size) {
            skipped.push(candidate);
            continue;
        }
        return Some(Located {
            path: candidate,
            skipped,
            ignored_override,
            override_id: None,
        });
    }
    None
}

/// With PATH unset, `execvp` searches the C library's default path; glibc's
/// (`confstr(_CS_PATH)`, what `env -i curl` on a glibc system searched to
/// find us) is `/bin:/usr/bin`. Never the current directory, unless PATH
/// names it (an empty entry does).
pub const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// The directories to search, as `execvp` would.
pub fn search_path(path_var: Option<&OsStr>) -> &[u8] {
    path_var.map_or(DEFAULT_PATH.as_bytes(), |p| p.as_bytes())
}

/// Our identity and the real tool, as this process would find it: the
/// sequence the shim, `cacheshim plan` and `doctor` share.
pub fn locate_from_env(
    tool: Tool,
    argv0: &OsStr,
    env: &dyn crate::env_view::EnvView,
    chain: &crate::loop_guard::Chain,
) -> (SelfImage, Option<Located>) {
    let fs = RealExecutables;
    let path_var = env.var("PATH");
    let me = self_image(argv0, path_var.as_deref(), &fs);
    let override_path = env.var(tool.real_override_var());
    let real = locate_real_tool(
        tool,
        override_path.as_deref(),
        path_var.as_deref(),
        &me,
        &chain.seen,
        &chain.overrides_taken,
        &fs,
    );
    (me, real)
}

/// BusyBox wget puts URL bytes on the wire as written (curl and GNU wget
/// escape them); known by the multi-call binary's name behind the links.
pub fn is_busybox(real: &Path) -> bool {
    std::fs::canonicalize(real)
        .ok()
        .and_then(|p| {
            p.file_name()
                .map(|n| n.as_bytes().windows(7).any(|w| w == b"busybox"))
        })
        .unwrap_or(false)
}

/// The real file system.
pub struct RealExecutables;

impl Executables for RealExecutables {
    fn inspect(&self, path: &Path) -> Option<(FileId, u64)> {
        use std::os::unix::fs::MetadataExt;
        let md = std::fs::metadata(path).ok()?;
        if !md.is_file() || md.mode() & 0o111 == 0 {
            return None;
        }
        nix::unistd::access(path, nix::unistd::AccessFlags::X_OK).ok()?;
        Some((
            FileId {
                dev: md.dev(),
                ino: md.ino(),
            },
            md.size(),
        ))
    }

    fn identify(&self, path: &Path) -> Option<(FileId, u64)> {
        use std::os::unix::fs::MetadataExt;
        let md = std::fs::metadata(path).ok()?;
        Some((
            FileId {
                dev: md.dev(),
                ino: md.ino(),
            },
            md.size(),
        ))
    }

    fn same_bytes(&self, a: &Path, b: &Path) -> bool {
        use std::io::Read;
        let (Ok(mut fa), Ok(mut fb)) = (std::fs::File::open(a), std::fs::File::open(b)) else {
            return false;
        };
        let mut ba = vec![0u8; 64 * 1024];
        let mut bb = vec![0u8; 64 * 1024];
        loop {
            let na = read_full(&mut fa, &mut ba);
            let nb = read_full(&mut fb, &mut bb);
            match (na, nb) {
                (Ok(0), Ok(0)) => return true,
                (Ok(x), Ok(y)) if x == y && ba[..x] == bb[..y] => continue,
                _ => return false,
            }
        }

        fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
            let mut n = 0;
            while n < buf.len() {
                match f.read(&mut buf[n..])? {
                    0 => break,
                    k => n += k,
                }
            }
            Ok(n)
        }
    }
}

/// The path the kernel executed (`AT_EXECFN`): what the caller passed to
/// execve, whatever argv[0] says. Relative paths are relative to our cwd,
/// which exec does not change.
pub fn executed_path() -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    // SAFETY: getauxval only reads the auxiliary vector; AT_EXECFN, when
    // present, points at a NUL-terminated string that lives as long as the
    // process.
    let ptr = unsafe { nix::libc::getauxval(nix::libc::AT_EXECFN) } as *const std::ffi::c_char;
    if ptr.is_null() {
        return None;
    }
    // SAFETY: see above.
    let bytes = unsafe { std::ffi::CStr::from_ptr(ptr) }.to_bytes().to_vec();
    (!bytes.is_empty()).then(|| PathBuf::from(OsString::from_vec(bytes)))
}

/// Our own binary: the file the kernel executed (a plain stat, cheaper than
/// /proc's magic link), else /proc/self/exe, else argv[0] as a path, or the
/// first match for its name on PATH (how the shell found us).
pub fn self_image(argv0: &OsStr, path_var: Option<&OsStr>, fs: &dyn Executables) -> SelfImage {
    let from = |p: &Path| {
        fs.identify(p).map(|(id, size)| SelfImage {
            id: Some(id),
            size: Some(size),
            path: Some(p.to_path_buf()),
        })
    };
    if let Some(me) = executed_path().and_then(|p| from(&p)) {
        return me;
    }
    if let Some(me) = from(Path::new("/proc/self/exe")) {
        return me;
    }
    if argv0.as_bytes().contains(&b'/') {
        return from(Path::new(argv0)).unwrap_or_default();
    }
    for dir in search_path(path_var).split(|&b| b == b':') {
        let dir = if dir.is_empty() {
            OsStr::new(".")
        } else {
            OsStr::from_bytes(dir)
        };
        if let Some(me) = from(&Path::new(dir).join(argv0)) {
            return me;
        }
    }
    SelfImage::default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// path -> (id, size, contents); symlinks are modelled by sharing an id.
    struct FakeFs(HashMap<PathBuf, (FileId, u64, &'static str)>);

    impl Executables for FakeFs {
        fn inspect(&self, path: &Path) -> Option<(FileId, u64)> {
            self.0.get(path).map(|(id, size, _)| (*id, *size))
        }
        fn same_bytes(&self, a: &Path, b: &Path) -> bool {
            match (self.0.get(a), self.0.get(b)) {
                (Some(x), Some(y)) => x.2 == y.2,
                _ => false,
            }
        }
    }

    fn id(ino: u64) -> FileId {
        FileId { dev: 1, ino }
    }

    fn fs(entries: &[(&str, u64, u64, &'static str)]) -> FakeFs {
        FakeFs(
            entries
                .iter()
                .map(|(p, ino, size, body)| (PathBuf::from(p), (id(*ino), *size, *body)))
                .collect(),
        )
    }

    fn me() -> SelfImage {
        SelfImage {
            id: Some(id(1)),
            size: Some(100),
            path: Some(PathBuf::from("/self")),
        }
    }

    fn locate(fs: &FakeFs, path: &str, over: Option<&str>, seen: &[FileId]) -> Option<Located> {
        locate_real_tool(
            Tool::Curl,
            over.map(OsStr::new),
            Some(OsStr::new(path)),
            &me(),
            seen,
            &[],
            fs,
        )
    }

    #[test]
    fn skips_links_and_copies_of_itself() {
        let f = fs(&[
            ("/self", 1, 100, "shim"),
            ("/a/curl", 1, 100, "shim"), // symlink or hard link: same file
            ("/b/curl", 7, 100, "shim"), // a copy
            ("/c/curl", 8, 100, "real-100b"), // same size, other bytes
        ]);
        let got = locate(&f, "/a:/b:/c", None, &[]).unwrap();
        assert_eq!(got.path, PathBuf::from("/c/curl"));
        assert_eq!(
            got.skipped,
            vec![PathBuf::from("/a/curl"), PathBuf::from("/b/curl")]
        );
    }

    #[test]
    fn skips_shims_already_in_the_chain() {
        let f = fs(&[
            ("/old/curl", 5, 90, "older shim"),
            ("/usr/bin/curl", 9, 300, "real"),
        ]);
        let got = locate(&f, "/old:/usr/bin", None, &[id(5)]).unwrap();
        assert_eq!(got.path, PathBuf::from("/usr/bin/curl"));
    }

    #[test]
    fn override_wins_unless_it_is_a_shim() {
        let f = fs(&[
            ("/opt/curl", 3, 10, "real"),
            ("/usr/bin/curl", 9, 300, "real"),
            ("/self", 1, 100, "shim"),
        ]);
        assert_eq!(
            locate(&f, "/usr/bin", Some("/opt/curl"), &[]).unwrap().path,
            PathBuf::from("/opt/curl")
        );
        let got = locate(&f, "/usr/bin", Some("/self"), &[]).unwrap();
        assert_eq!(got.path, PathBuf::from("/usr/bin/curl"));
        assert_eq!(got.ignored_override, Some(OsString::from("/self")));
        let got = locate(&f, "/usr/bin", Some("/missing"), &[]).unwrap();
        assert_eq!(got.path, PathBuf::from("/usr/bin/curl"));
    }

    #[test]
    fn an_override_already_taken_in_this_chain_is_a_wrapper_and_is_passed_over() {
        let f = fs(&[
            ("/opt/wrap-curl", 3, 10, "#!/bin/sh\nexec curl"),
            ("/usr/bin/curl", 9, 300, "real"),
        ]);
        let first = locate_real_tool(
            Tool::Curl,
            Some(OsStr::new("/opt/wrap-curl")),
            Some(OsStr::new("/usr/bin")),
            &me(),
            &[],
            &[],
            &f,
        )
        .unwrap();
        assert_eq!(first.path, PathBuf::from("/opt/wrap-curl"));
        assert_eq!(first.override_id, Some(id(3)));
        let again = locate_real_tool(
            Tool::Curl,
            Some(OsStr::new("/opt/wrap-curl")),
            Some(OsStr::new("/usr/bin")),
            &me(),
            &[],
            &[id(3)],
            &f,
        )
        .unwrap();
        assert_eq!(again.path, PathBuf::from("/usr/bin/curl"));
    }

    #[test]
    fn unset_path_is_the_default_path_never_the_current_directory() {
        let f = fs(&[
            ("./curl", 4, 10, "planted"),
            ("/usr/bin/curl", 9, 300, "real"),
        ]);
        let got = locate_real_tool(Tool::Curl, None, None, &me(), &[], &[], &f).unwrap();
        assert_eq!(got.path, PathBuf::from("/usr/bin/curl"));
        let f = fs(&[("./curl", 4, 10, "planted")]);
        assert!(locate_real_tool(Tool::Curl, None, None, &me(), &[], &[], &f).is_none());
    }

    #[test]
    fn empty_path_entry_is_current_directory_and_nothing_found_is_none() {
        let f = fs(&[("./curl", 4, 10, "real")]);
        assert_eq!(
            locate(&f, "/x::/y", None, &[]).unwrap().path,
            PathBuf::from("./curl")
        );
        assert!(locate(&fs(&[]), "/x:/y", None, &[]).is_none());
    }
}
