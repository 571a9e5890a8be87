//! What a bug costs: one line on stderr, then, in shim mode, the real tool
//! exactly as written. The fallback is the panic hook itself, which execs
//! the real tool (from whichever thread panicked; exec ends the others), so
//! it needs no unwinding: the release build aborts on panic and carries no
//! unwind tables (~170 KB). Under its own name the hook exits 70.
//! Reporting can never fail in turn: the line is best effort.

use crate::tool::Tool;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::OnceLock;

/// How to run the real tool as written, set before anything can panic.
struct Fallback {
    real: PathBuf,
    tool: Tool,
    args: Vec<OsString>,
    env: Vec<(&'static str, String)>,
}

static FALLBACK: OnceLock<Fallback> = OnceLock::new();

/// Shim mode: a panic from here on runs `real` with `args` as written.
pub fn fall_back_to(
    real: PathBuf,
    tool: Tool,
    args: Vec<OsString>,
    env: Vec<(&'static str, String)>,
) {
    let _ = FALLBACK.set(Fallback {
        real,
        tool,
        args,
        env,
    });
    let name = tool.name();
    std::panic::set_hook(Box::new(move |info| {
        report(info, &|at, msg| {
            format!(
                "{name}: cacheshim: internal error at {at}: {msg}; running the real {name} as written"
            )
        });
        let Some(f) = FALLBACK.get() else {
            std::process::exit(70)
        };
        let err = crate::exec::exec_real_tool(&f.real, f.tool, &f.args, &f.env);
        errln!("{name}: cacheshim: cannot run {}: {err}", f.real.display());
        std::process::exit(crate::exec::exit_status_for(&err))
    }));
}

/// Under its own name: one line, exit status 70 (EX_SOFTWARE).
pub fn exit_on_panic() {
    std::panic::set_hook(Box::new(|info| {
        report(info, &|at, msg| {
            format!("cacheshim: internal error at {at}: {msg}")
        });
        std::process::exit(70)
    }));
}

fn report(info: &std::panic::PanicHookInfo, line: &dyn Fn(&str, &str) -> String) {
    let payload = info.payload();
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
        .replace('\n', " ");
    let at = info
        .location()
        .map(|l| format!("{}:{}", l.file(), l.line()))
        .unwrap_or_default();
    errln!("{}", line(&at, &msg));
}
