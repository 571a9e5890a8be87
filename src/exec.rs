//! Becoming the real tool: exec, not spawn, so its exit status, signals and
//! stdin/stdout/stderr are the user's.
//!
//! `execve` directly, not `execvp`: glibc's `execvp` quietly re-runs a file it
//! cannot execute through /bin/sh, which would turn "this is not a program"
//! into whatever sh makes of it.

use crate::tool::Tool;
use std::ffi::{CStr, CString, OsString, c_char};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

unsafe extern "C" {
    static environ: *const *const c_char;
}

/// Only returns on failure. `set` replaces or adds environment variables.
pub fn exec_real_tool(
    real: &Path,
    tool: Tool,
    args: &[OsString],
    set: &[(&str, String)],
) -> std::io::Error {
    let cstr = |b: Vec<u8>| {
        CString::new(b).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
    };
    let build = || -> std::io::Result<(CString, Vec<CString>, Vec<CString>)> {
        let path = cstr(real.as_os_str().as_bytes().to_vec())?;
        // argv[0] is the bare name, so a BusyBox multi-call binary knows to be wget.
        let mut argv = vec![cstr(tool.name().as_bytes().to_vec())?];
        for a in args {
            argv.push(cstr(a.clone().into_vec())?);
        }
        let added = set
            .iter()
            .map(|(k, v)| cstr(format!("{k}={v}").into_bytes()))
            .collect::<std::io::Result<_>>()?;
        Ok((path, argv, added))
    };
    let (path, argv, added) = match build() {
        Ok(parts) => parts,
        Err(e) => return e,
    };
    // The inherited environment is passed on as it is, by pointer (this runs
    // before every pass-through exec: no copies), less the entries we replace.
    let mut envp: Vec<&CStr> = inherited_environment()
        .filter(|entry| {
            let name = entry
                .to_bytes()
                .split(|&b| b == b'=')
                .next()
                .unwrap_or_default();
            !set.iter().any(|(k, _)| k.as_bytes() == name)
        })
        .collect();
    envp.extend(added.iter().map(CString::as_c_str));
    match nix::unistd::execve(&path, &argv, &envp) {
        Err(errno) => std::io::Error::from_raw_os_error(errno as i32),
        Ok(never) => match never {},
    }
}

/// The process environment, entry by entry (`NAME=value`).
fn inherited_environment() -> impl Iterator<Item = &'static CStr> {
    // SAFETY: `environ` is the C runtime's NULL-terminated array of
    // NUL-terminated strings; nothing in this process changes it (we never
    // call setenv), so the entries live until exec.
    let mut at = unsafe { environ };
    std::iter::from_fn(move || {
        if at.is_null() {
            return None;
        }
        // SAFETY: as above; `at` stays within the array up to its NULL.
        let entry = unsafe { *at };
        if entry.is_null() {
            return None;
        }
        at = unsafe { at.add(1) };
        Some(unsafe { CStr::from_ptr(entry) })
    })
}

/// Linux refuses one argument or environment string over 32 pages.
const MAX_ARG_STRLEN: usize = 32 * 4096;

/// What execve is handed, besides the arguments after argv[0]: the program's
/// path, argv[0] (the tool's name, see `exec_real_tool`), the variables the
/// shim sets (each replacing an inherited one of the same name).
pub struct ExecImage<'a> {
    pub path: &'a Path,
    pub tool: Tool,
    pub set: &'a [(&'a str, String)],
}

/// Whether `args` fit what execve accepts, counted as Linux counts them
/// (fs/exec.c: the file name, then every environment and argument string
/// with its NUL, plus a pointer for each of those): each string at most
/// `MAX_ARG_STRLEN`, the total at most `arg_max`. A rewrite that does not
/// fit would turn a working command into "Argument list too long".
pub fn fits_exec_limits(
    image: &ExecImage,
    args: &[OsString],
    env: impl Iterator<Item = &'static CStr>,
    arg_max: usize,
) -> bool {
    let ptr = std::mem::size_of::<usize>();
    let replaced = |entry: &CStr| {
        let name = entry
            .to_bytes()
            .split(|&b| b == b'=')
            .next()
            .unwrap_or_default();
        image.set.iter().any(|(k, _)| k.as_bytes() == name)
    };
    let inherited = env.filter(|e| !replaced(e)).map(|e| e.to_bytes().len());
    let strings = std::iter::once(image.tool.name().len())
        .chain(args.iter().map(|a| a.len()))
        .chain(inherited)
        .chain(image.set.iter().map(|(k, v)| k.len() + 1 + v.len()));
    let path = image.path.as_os_str().len() + 1;
    if path > MAX_ARG_STRLEN {
        return false;
    }
    let mut total = path;
    for len in strings {
        if len + 1 > MAX_ARG_STRLEN {
            return false;
        }
        total += len + 1 + ptr;
    }
    total <= arg_max
}

/// The inherited environment's entries.
pub fn inherited_environment_entries() -> impl Iterator<Item = &'static CStr> {
    inherited_environment()
}

/// What execve accepts for all strings and their pointers together, as
/// Linux computes it (fs/exec.c): a quarter of the stack limit, at most
/// three quarters of 8 MiB, at least 32 pages. Not `sysconf(_SC_ARG_MAX)`:
/// musl answers a constant 128 KiB there, which refused every rewrite in a
/// job with a large environment.
pub fn arg_max() -> usize {
    use nix::sys::resource::{Resource, getrlimit};
    let stack = getrlimit(Resource::RLIMIT_STACK)
        .map(|(soft, _)| soft)
        .unwrap_or(8 << 20);
    kernel_arg_limit(stack)
}

/// Linux's limit for a stack rlimit of `stack` bytes (RLIM_INFINITY included).
pub fn kernel_arg_limit(stack: u64) -> usize {
    const FLOOR: u64 = 32 * 4096;
    const CEILING: u64 = (8 << 20) / 4 * 3;
    usize::try_from((stack / 4).clamp(FLOOR, CEILING)).unwrap_or(usize::MAX)
}

/// 127 when the file is not there, 126 when it is there but cannot be run.
pub fn exit_status_for(err: &std::io::Error) -> i32 {
    match err.kind() {
        std::io::ErrorKind::NotFound => 127,
        _ => 126,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernels_argument_limit_follows_the_stack_limit() {
        assert_eq!(kernel_arg_limit(8 << 20), 2 << 20);
        assert_eq!(kernel_arg_limit(u64::MAX), 6 << 20);
        assert_eq!(kernel_arg_limit(64 << 10), 128 << 10);
        assert_eq!(kernel_arg_limit(1 << 20), 256 << 10);
    }

    #[test]
    fn exec_limits() {
        let args = |n: usize, len: usize| vec![OsString::from("x".repeat(len)); n];
        let none: [(&str, String); 0] = [];
        let image = ExecImage {
            path: Path::new("/usr/bin/curl"),
            tool: Tool::Curl,
            set: &none,
        };
        let env = || std::iter::empty();
        // path 14 + argv[0] "curl" (5 + 8) + 3 × (11 + 8).
        let need = 14 + 13 + 3 * 19;
        assert!(fits_exec_limits(&image, &args(3, 10), env(), need));
        assert!(!fits_exec_limits(&image, &args(3, 10), env(), need - 1));
        // One string over 32 pages never fits, whatever ARG_MAX says.
        assert!(!fits_exec_limits(
            &image,
            &args(1, MAX_ARG_STRLEN),
            env(),
            1 << 30
        ));
        // A variable the shim sets counts once, replacing the inherited one.
        let set = [("CACHESHIM_CHAIN", "a".repeat(5000))];
        let image = ExecImage {
            path: Path::new("/usr/bin/curl"),
            tool: Tool::Curl,
            set: &set,
        };
        assert!(!fits_exec_limits(&image, &args(1, 10), env(), 4096));
        let inherited = [c"CACHESHIM_CHAIN=old", c"HOME=/root"];
        let with = 14 + 13 + 19 + (15 + 1 + 5000 + 1 + 8) + (10 + 1 + 8);
        assert!(fits_exec_limits(
            &image,
            &args(1, 10),
            inherited.into_iter(),
            with
        ));
    }
}
