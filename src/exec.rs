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

/// 127 when the file is not there, 126 when it is there but cannot be run.
pub fn exit_status_for(err: &std::io::Error) -> i32 {
    match err.kind() {
        std::io::ErrorKind::NotFound => 127,
        _ => 126,
    }
}
