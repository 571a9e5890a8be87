//! The entry point is C's `main`, not Rust's: std's start-up would set
//! SIGPIPE to "ignored" (which survives `execve`, so the real tool would
//! not die of a closed pipe as it does when run directly), install
//! stack-overflow handlers and poll fds 0-2: about ten system calls before
//! every pass-through exec, for nothing. Without it std has no argv on musl,
//! so the arguments are taken from C's `argv` here, as OS strings.
#![no_main]

use cacheshim::invocation::{Invocation, invoked_as};
use std::ffi::{CStr, OsString, c_char, c_int};
use std::os::unix::ffi::OsStringExt;

#[unsafe(no_mangle)]
/// # Safety
/// Called by the C runtime with its argc and argv.
pub unsafe extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    let mut args = (0..usize::try_from(argc).unwrap_or(0)).map(|i| {
        // SAFETY: the C runtime hands `main` argc valid NUL-terminated strings.
        let arg = unsafe { CStr::from_ptr(*argv.add(i)) };
        OsString::from_vec(arg.to_bytes().to_vec())
    });
    let argv0 = args.next().unwrap_or_default();
    let rest: Vec<OsString> = args.collect();
    let executed = cacheshim::real_tool::executed_path();
    let status = match invoked_as(&argv0, executed.as_deref().map(|p| p.as_os_str())) {
        // The shim catches its own panics (it falls back to the real tool).
        Invocation::Shim(tool) => cacheshim::shim::run(tool, &argv0, rest),
        Invocation::Own => cacheshim::cli::run_catching_panics(&rest),
    };
    // Flushes stdout, which returning from C's main would not.
    std::process::exit(status)
}
