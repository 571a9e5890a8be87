use cacheshim::invocation::{Invocation, invoked_as};
use std::ffi::OsString;

fn main() {
    // args_os: arguments are OS strings, non-UTF-8 bytes included.
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    let rest: Vec<OsString> = args.collect();
    let status = match invoked_as(&argv0) {
        Invocation::Shim(tool) => cacheshim::shim::run(tool, &argv0, rest),
        Invocation::Own => cacheshim::cli::run(&rest),
    };
    std::process::exit(status);
}
