//! The `cacheshim` command (invoked under its own name).

use std::ffi::OsString;

const HELP: &str = "\
cacheshim: curl and wget that fetch from a withcache cache host when it has the file

Symlink this binary as `curl` and `wget` ahead of the real tools on PATH and set
WITHCACHE_SERVER (e.g. http://cache.lab:8081). Unset, it is a pure pass-through.

Usage:
  cacheshim --version
  cacheshim --help
";

/// Returns the exit status.
pub fn run(args: &[OsString]) -> i32 {
    match args.first().map(|a| a.to_string_lossy()) {
        Some(a) if a == "--version" || a == "-V" => {
            println!("cacheshim {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Some(a) if a == "--help" || a == "-h" || a == "help" => {
            print!("{HELP}");
            0
        }
        None => {
            eprint!("{HELP}");
            2
        }
        Some(other) => {
            eprintln!("cacheshim: unknown command '{other}' (try cacheshim --help)");
            2
        }
    }
}
