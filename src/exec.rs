//! Becoming the real tool: exec, not spawn, so its exit status, signals and
//! stdin/stdout/stderr are the user's.

use crate::tool::Tool;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// Only returns on failure.
pub fn exec_real_tool(
    real: &Path,
    tool: Tool,
    args: &[OsString],
    env: &[(&str, String)],
) -> std::io::Error {
    let mut cmd = Command::new(real);
    // argv[0] is the bare name, so a BusyBox multi-call binary knows to be wget.
    cmd.arg0(tool.name()).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.exec()
}

/// 127 when the file is not there, 126 when it is there but cannot be run.
pub fn exit_status_for(err: &std::io::Error) -> i32 {
    match err.kind() {
        std::io::ErrorKind::NotFound => 127,
        _ => 126,
    }
}
