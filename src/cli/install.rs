//! `cacheshim install` / `uninstall`: the symlinks, idempotently, never
//! replacing anything that is not already ours without `--force`.

use super::{Arg, Args, Usage, is, usage};
use crate::env_view::{EnvView, ProcessEnv};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const INSTALL_HELP: &str = "\
Usage: cacheshim install [--dir DIR | --system] [--root DIR] [--names LIST] [--force]

Creates symlinks to this binary named curl and wget (or LIST, comma-separated,
from curl, wget, curlwithcache, wgetwithcache) in DIR (default
~/.withcache/bin; --system: /usr/local/bin). --root DIR installs into DIR as if
it were / (for building images). Running it again changes nothing. A file that
is not a symlink to this binary is never replaced without --force.
Prints the lines to add to a shell rc, a direnv .envrc or /etc/profile.d.
";

const UNINSTALL_HELP: &str = "\
Usage: cacheshim uninstall [--dir DIR | --system] [--root DIR] [--names LIST]

Removes the symlinks in DIR that point at this binary; anything else stays.
";

const NAMES: &[&str] = &["curl", "wget", "curlwithcache", "wgetwithcache"];

struct Options {
    dir: PathBuf,
    system: bool,
    names: Vec<String>,
    force: bool,
}

fn parse(args: &[OsString], help: &str, allow_force: bool) -> Result<Option<Options>, Usage> {
    let env = ProcessEnv;
    let mut dir: Option<PathBuf> = None;
    let mut system = false;
    let mut root: Option<PathBuf> = None;
    let mut names = vec!["curl".to_string(), "wget".to_string()];
    let mut force = false;
    let mut a = Args::new(args);
    while let Some(arg) = a.next_arg() {
        match arg {
            Arg::Flag(f) if f == "--help" => {
                out!("{help}");
                return Ok(None);
            }
            Arg::Flag(f) if is(&f, "--dir") => dir = Some(PathBuf::from(a.value(&f)?)),
            Arg::Flag(f) if f == "--system" => system = true,
            Arg::Flag(f) if is(&f, "--root") => root = Some(PathBuf::from(a.value(&f)?)),
            Arg::Flag(f) if is(&f, "--names") => {
                let list = a.value(&f)?.to_string_lossy().into_owned();
                names = list
                    .split(',')
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty())
                    .collect();
                if let Some(bad) = names.iter().find(|n| !NAMES.contains(&n.as_str())) {
                    return usage(format!(
                        "--names: unknown name '{bad}' (use {})",
                        NAMES.join(", ")
                    ));
                }
                if names.is_empty() {
                    return usage("--names: give at least one name");
                }
            }
            Arg::Flag(f) if allow_force && f == "--force" => force = true,
            Arg::Flag(f) => return usage(format!("unknown option {f}")),
            Arg::Operand(o) => {
                return usage(format!("unexpected argument '{}'", o.to_string_lossy()));
            }
            Arg::Rest(r) if r.is_empty() => {}
            Arg::Rest(r) => {
                return usage(format!("unexpected argument '{}'", r[0].to_string_lossy()));
            }
        }
    }
    if system && dir.is_some() {
        return usage("--dir and --system exclude each other");
    }
    let dir = match (dir, system) {
        (Some(d), _) => d,
        (None, true) => PathBuf::from("/usr/local/bin"),
        (None, false) => match env.non_empty("HOME") {
            Some(h) => Path::new(&h).join(".withcache/bin"),
            None => return usage("HOME is not set: give --dir DIR"),
        },
    };
    let dir = match root {
        Some(r) => r.join(dir.strip_prefix("/").unwrap_or(&dir)),
        None => dir,
    };
    // The printed PATH lines must mean the same from any directory.
    let dir = if dir.is_absolute() {
        dir
    } else {
        std::env::current_dir()
            .map_err(|e| Usage(format!("cannot make {} absolute: {e}", dir.display())))?
            .join(dir)
    };
    if dir.as_os_str().as_bytes().contains(&b':') {
        return usage(format!(
            "{}: a directory with ':' cannot be a PATH entry",
            dir.display()
        ));
    }
    Ok(Some(Options {
        dir,
        system,
        names,
        force,
    }))
}

/// This binary's real path, or a one-line error.
fn this_binary() -> Option<PathBuf> {
    match std::env::current_exe().and_then(|p| p.canonicalize()) {
        Ok(p) => Some(p),
        Err(e) => {
            errln!("cacheshim: cannot find this binary's path: {e}");
            None
        }
    }
}

/// Whether `path` is a symlink that ends at this very binary.
fn is_our_link(path: &Path, me: &Path) -> bool {
    let (Ok(link), Ok(target), Ok(mine)) = (
        std::fs::symlink_metadata(path),
        std::fs::metadata(path),
        std::fs::metadata(me),
    ) else {
        return false;
    };
    link.file_type().is_symlink() && target.dev() == mine.dev() && target.ino() == mine.ino()
}

pub fn install(args: &[OsString]) -> Result<i32, Usage> {
    let Some(o) = parse(args, INSTALL_HELP, true)? else {
        return Ok(0);
    };
    let Some(me) = this_binary() else {
        return Ok(1);
    };
    if let Err(e) = std::fs::create_dir_all(&o.dir) {
        errln!("cacheshim: cannot create {}: {e}", o.dir.display());
        return Ok(1);
    }
    let mut failed = false;
    for name in &o.names {
        let path = o.dir.join(name);
        if is_our_link(&path, &me) {
            outln!("already installed: {} -> {}", path.display(), me.display());
            continue;
        }
        let exists = std::fs::symlink_metadata(&path).is_ok();
        if exists && !o.force {
            errln!(
                "cacheshim: refusing to replace {} (not a symlink to this cacheshim); use --force",
                path.display()
            );
            failed = true;
            continue;
        }
        if exists && let Err(e) = std::fs::remove_file(&path) {
            errln!("cacheshim: cannot replace {}: {e}", path.display());
            failed = true;
            continue;
        }
        match std::os::unix::fs::symlink(&me, &path) {
            Ok(()) => outln!("installed: {} -> {}", path.display(), me.display()),
            Err(e) => {
                errln!("cacheshim: cannot create {}: {e}", path.display());
                failed = true;
            }
        }
    }
    print_setup(&o);
    Ok(if failed { 1 } else { 0 })
}

/// The lines a user adds for the chosen mode, shell-quoted: pasted, they
/// set what they say and run nothing else.
fn print_setup(o: &Options) {
    let server = ProcessEnv
        .non_empty("WITHCACHE_SERVER")
        .unwrap_or_else(|| "http://CACHE-HOST:8081".into());
    let server = shell_quote(server.as_bytes());
    let dir = shell_quote(o.dir.as_os_str().as_bytes());
    // `"DIR:$PATH"` for a plain directory, `'D I R':"$PATH"` otherwise.
    let path_value = if dir.first() == Some(&b'\'') {
        [&dir[..], b":\"$PATH\""].concat()
    } else {
        [b"\"", &dir[..], b":$PATH\""].concat()
    };
    let line = |parts: &[&[u8]]| {
        let mut text = parts.concat();
        text.push(b'\n');
        crate::output::write_stdout(&text);
    };
    outln!();
    if o.system {
        outln!(
            "Machine-wide: {} comes before /usr/bin on the default PATH.",
            o.dir.display()
        );
        outln!("Set the cache host for every user in /etc/profile.d/withcache.sh:");
        line(&[b"  export WITHCACHE_SERVER=", &server]);
    } else {
        outln!("This shell only:");
        line(&[b"  export PATH=", &path_value, b"; hash -r"]);
        outln!("Every shell of this user (add to ~/.bashrc or ~/.profile):");
        line(&[b"  export PATH=", &path_value]);
        line(&[b"  export WITHCACHE_SERVER=", &server]);
        outln!("One project (its .envrc, then `direnv allow`):");
        line(&[b"  PATH_add ", &dir]);
        line(&[b"  export WITHCACHE_SERVER=", &server]);
    }
}

/// POSIX shell quoting: as it is when every byte is plainly safe, else in
/// single quotes (a `'` becomes `'\''`), bytes kept as they are.
pub fn shell_quote(s: &[u8]) -> Vec<u8> {
    let plain = |b: &u8| b.is_ascii_alphanumeric() || b"/._-+,:@%=".contains(b);
    if !s.is_empty() && s.iter().all(plain) {
        return s.to_vec();
    }
    let mut q = vec![b'\''];
    for &b in s {
        if b == b'\'' {
            q.extend_from_slice(b"'\\''");
        } else {
            q.push(b);
        }
    }
    q.push(b'\'');
    q
}

pub fn uninstall(args: &[OsString]) -> Result<i32, Usage> {
    let Some(o) = parse(args, UNINSTALL_HELP, false)? else {
        return Ok(0);
    };
    let Some(me) = this_binary() else {
        return Ok(1);
    };
    let mut failed = false;
    for name in &o.names {
        let path = o.dir.join(name);
        if is_our_link(&path, &me) {
            match std::fs::remove_file(&path) {
                Ok(()) => outln!("removed: {}", path.display()),
                Err(e) => {
                    errln!("cacheshim: cannot remove {}: {e}", path.display());
                    failed = true;
                }
            }
        } else if std::fs::symlink_metadata(&path).is_ok() {
            outln!(
                "left alone: {} (not a symlink to this cacheshim)",
                path.display()
            );
        }
    }
    Ok(if failed { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn quoting_leaves_plain_words_and_quotes_the_rest() {
        let q = |s: &str| String::from_utf8(shell_quote(s.as_bytes())).unwrap();
        assert_eq!(q("/home/lab/.withcache/bin"), "/home/lab/.withcache/bin");
        assert_eq!(q("http://c:8081"), "http://c:8081");
        assert_eq!(q("/d$(touch PWNED)"), "'/d$(touch PWNED)'");
        assert_eq!(q("it's"), "'it'\\''s'");
        assert_eq!(q(""), "''");
        assert_eq!(q("a b"), "'a b'");
    }
}
