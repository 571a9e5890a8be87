//! Becoming the real tool: exec, not spawn, so its exit status, signals and
//! stdin/stdout/stderr are the user's.
//!
//! `execve` directly, not `execvp`: glibc's `execvp` quietly re-runs a file it
//! cannot execute through /bin/sh, which would turn "this is not a program"
//! into whatever sh makes of it.

use crate::tool::Tool;
use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

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
        let mut envp = Vec::new();
        for (k, v) in std::env::vars_os() {
            if set.iter().any(|(name, _)| OsStr::new(name) == k) {
                continue;
            }
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.into_vec());
            envp.push(cstr(kv)?);
        }
        for (k, v) in set {
            envp.push(cstr(format!("{k}={v}").into_bytes())?);
        }
        Ok((path, argv, envp))
    };
    match build() {
        Ok((path, argv, envp)) => match nix::unistd::execve(&path, &argv, &envp) {
            Err(errno) => std::io::Error::from_raw_os_error(errno as i32),
            Ok(never) => match never {},
        },
        Err(e) => e,
    }
}

/// 127 when the file is not there, 126 when it is there but cannot be run.
pub fn exit_status_for(err: &std::io::Error) -> i32 {
    match err.kind() {
        std::io::ErrorKind::NotFound => 127,
        _ => 126,
    }
}
