//! The `cacheshim` command (the binary invoked under its own name): set
//! itself up and explain itself. Usage errors are one line and exit 2.

mod doctor;
mod install;
mod plan;
mod stats;
mod url;

use std::ffi::OsString;

const HELP: &str = "\
cacheshim: curl and wget that fetch from a withcache cache host when it has the file

Symlinked as curl/wget ahead of the real tools on PATH, it re-points a download
at $WITHCACHE_SERVER when the cache holds it, and otherwise runs the real tool
exactly as written.

Usage:
  cacheshim install [--dir DIR | --system] [--root DIR] [--names LIST] [--force]
  cacheshim uninstall [--dir DIR | --system] [--root DIR] [--names LIST]
  cacheshim doctor [--url ORIGIN]
  cacheshim plan [--assume ANSWER] [--assume-origin ANSWER] -- curl|wget ARGS...
  cacheshim url [--server URL] [--decoded] ORIGIN...
  cacheshim stats [--since WHEN] [--json | --misses] [--zero]
  cacheshim --version | --help
Each command has --help.
";

/// A usage error: one line on stderr, exit 2.
pub struct Usage(pub String);

pub fn usage<T>(msg: impl Into<String>) -> Result<T, Usage> {
    Err(Usage(msg.into()))
}

/// `run`, with a bug reported as one line and exit status 70 (EX_SOFTWARE)
/// instead of a panic message and an abort.
pub fn run_catching_panics(args: &[OsString]) -> i32 {
    crate::panics::exit_on_panic();
    run(args)
}

/// Returns the exit status.
pub fn run(args: &[OsString]) -> i32 {
    let Some(first) = args.first() else {
        errln!(
            "cacheshim: no command (install, uninstall, doctor, plan, url, stats; cacheshim --help)"
        );
        return 2;
    };
    let rest = &args[1..];
    let result = match first.to_str() {
        Some("--version" | "-V" | "version") => {
            outln!("cacheshim {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
        Some("--help" | "-h" | "help") => {
            out!("{HELP}");
            Ok(0)
        }
        Some("install") => install::install(rest),
        Some("uninstall") => install::uninstall(rest),
        Some("doctor") => doctor::run(rest),
        Some("plan") => plan::run(rest),
        Some("url") => url::run(rest),
        Some("stats") => stats::run(rest),
        _ => usage(format!(
            "unknown command '{}' (try cacheshim --help)",
            first.to_string_lossy()
        )),
    };
    let code = match result {
        Ok(code) => code,
        Err(Usage(msg)) => {
            errln!("cacheshim: {msg}");
            2
        }
    };
    // Output that did not arrive is a failure, whatever the command found.
    match crate::output::stdout_failure() {
        Some(e) => {
            errln!("cacheshim: cannot write to standard output: {e}");
            if code == 0 { 1 } else { code }
        }
        None => code,
    }
}

/// Options of a subcommand: `--flag`, `--opt VALUE` / `--opt=VALUE`, and
/// operands (everything after `--` is an operand).
pub struct Args {
    items: Vec<OsString>,
    at: usize,
}

pub enum Arg {
    Flag(String),
    Operand(OsString),
    Rest(Vec<OsString>),
}

impl Args {
    pub fn new(items: &[OsString]) -> Args {
        Args {
            items: items.to_vec(),
            at: 0,
        }
    }

    pub fn next_arg(&mut self) -> Option<Arg> {
        let a = self.items.get(self.at)?.clone();
        self.at += 1;
        match a.to_str() {
            Some("--") => {
                let rest = self.items[self.at..].to_vec();
                self.at = self.items.len();
                Some(Arg::Rest(rest))
            }
            Some(s) if s.starts_with("--") && s.len() > 2 => Some(Arg::Flag(s.to_string())),
            _ => Some(Arg::Operand(a)),
        }
    }

    /// The value of `--name VALUE` or `--name=VALUE` (`flag` as returned by `next`).
    pub fn value(&mut self, flag: &str) -> Result<OsString, Usage> {
        if let Some((_, v)) = flag.split_once('=') {
            return Ok(OsString::from(v));
        }
        match self.items.get(self.at) {
            Some(v) => {
                self.at += 1;
                Ok(v.clone())
            }
            None => usage(format!("{flag} needs a value")),
        }
    }

    /// Everything not yet read, as-is.
    pub fn remaining(&mut self) -> Vec<OsString> {
        let rest = self.items[self.at..].to_vec();
        self.at = self.items.len();
        rest
    }
}

/// `--name` or `--name=…` matches `name`.
pub fn is(flag: &str, name: &str) -> bool {
    flag == name || flag.strip_prefix(name).is_some_and(|r| r.starts_with('='))
}
