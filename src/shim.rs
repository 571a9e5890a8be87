//! Shim mode: the thin shell around the planner. Look up the real tool, decide
//! (pure planner + one probe), say what was decided if asked, exec.

use crate::config_files::RealFiles;
use crate::down_memory::DownMemory;
use crate::env_view::{EnvView, ProcessEnv};
use crate::exec::{
    ExecImage, arg_max, exec_real_tool, exit_status_for, fits_exec_limits,
    inherited_environment_entries,
};
use crate::loop_guard::{self, Chain};
use crate::planner::{self, Outcome, PlanInput, Preparation, Prepared, ProbeAnswer};
use crate::policy::Reason;
use crate::probe::TargetBytes;
use crate::real_tool;
use crate::tool::Tool;
use crate::{origin_check, probe, settings};
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::time::{Instant, SystemTime};

/// Returns only when the real tool could not be run: the exit status to use.
pub fn run(tool: Tool, argv0: &OsStr, args: Vec<OsString>) -> i32 {
    let started = Instant::now();
    let env = ProcessEnv;
    let name = tool.name();
    let chain = Chain::from_env(&env);
    if chain.exhausted() {
        errln!(
            "{name}: cacheshim: passed through {} shims without reaching the real {name} \
             ({} loop guard); set {} to the real {name}",
            chain.hops,
            loop_guard::HOPS_VAR,
            tool.real_override_var()
        );
        return 127;
    }
    let (me, real) = real_tool::locate_from_env(tool, argv0, &env, &chain);
    let Some(real) = real else {
        errln!(
            "{name}: cacheshim: no real {name} found on PATH (set {} to its path)",
            tool.real_override_var()
        );
        return 127;
    };
    let debug = settings::debug_enabled(&env);
    let passed_on = chain.passed_on(me.id, real.override_id);
    let (final_args, said) = if settings::server_setting(tool, &env).is_none() {
        // Pure pass-through: no parsing, no network, no files.
        (args, "pass-through (no-server)".to_string())
    } else {
        // The probe sends the request line the way this real tool will.
        let target_bytes = if tool == Tool::Wget && real_tool::is_busybox(&real.path) {
            TargetBytes::Raw
        } else {
            TargetBytes::Escaped
        };
        reserve_standard_fds();
        let written = args.clone();
        let (rewritten, said, mut facts) =
            decide_or_fall_back(tool, args, &env, target_bytes, &real.path, &passed_on);
        let image = ExecImage {
            path: &real.path,
            tool,
            set: &passed_on,
        };
        let fits = rewritten == written
            || fits_exec_limits(
                &image,
                &rewritten,
                inherited_environment_entries(),
                arg_max(),
            );
        let (final_args, said) = if fits {
            (rewritten, said)
        } else {
            // The kernel would refuse the rewritten command ("Argument list
            // too long") where the command as written runs.
            let said = format!(
                "pass-through ({}: the rewritten command is over the exec limits)",
                Reason::ArgListTooLong.code()
            );
            facts = LogFacts::pass(Reason::ArgListTooLong, &written);
            (written, said)
        };
        if crate::decision_log::enabled(&env) {
            crate::decision_log::append(&env, &facts.entry(tool, &env));
        }
        (final_args, said)
    };
    if debug {
        let skipped = if real.skipped.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = real
                .skipped
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            format!(" (skipped shims {})", list.join(", "))
        };
        let mut warned = String::new();
        for w in settings::flag_warnings(&env) {
            warned.push_str(&format!("; {w}"));
        }
        errln!(
            "cacheshim: {name}: {said}; exec {}{skipped}{warned}; {} ms",
            real.path.display(),
            settings::millis(started.elapsed())
        );
    }
    let err = exec_real_tool(&real.path, tool, &final_args, &passed_on);
    errln!(
        "{name}: cacheshim: cannot run {}: {err}",
        real.path.display()
    );
    exit_status_for(&err)
}

/// A closed stdin, stdout or stderr would otherwise be the next socket or
/// file we open: the debug line would go to the cache host, a probe's bytes
/// to the user's terminal. /dev/null holds the slot, close-on-exec, so the
/// real tool still starts with it closed, as it would run directly.
fn reserve_standard_fds() {
    use nix::fcntl::{FcntlArg, OFlag, fcntl, open};
    for fd in 0..=2 {
        // SAFETY: only asks whether the descriptor is open.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        if fcntl(borrowed, FcntlArg::F_GETFD).is_err() {
            // Lands on the lowest free descriptor: this one. Kept open (leaked)
            // until exec closes it.
            if let Ok(held) = open(
                "/dev/null",
                OFlag::O_RDWR | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            ) {
                std::mem::forget(held);
            }
        }
    }
}

/// Planning and probing must never cost the user the download: a bug that
/// panics in them means the real tool runs exactly as written (the panic
/// hook execs it; see `panics`).
fn decide_or_fall_back(
    tool: Tool,
    args: Vec<OsString>,
    env: &dyn EnvView,
    target_bytes: TargetBytes,
    real: &Path,
    chain_vars: &[(&'static str, String)],
) -> (Vec<OsString>, String, LogFacts) {
    crate::panics::fall_back_to(real.to_path_buf(), tool, args.clone(), chain_vars.to_vec());
    decide(tool, args, env, target_bytes, real, chain_vars)
}

/// The final argv and a one-line account of the decision (server set).
fn decide(
    tool: Tool,
    args: Vec<OsString>,
    env: &dyn EnvView,
    target_bytes: TargetBytes,
    real: &Path,
    chain_vars: &[(&str, String)],
) -> (Vec<OsString>, String, LogFacts) {
    // In every build, so the tests prove the fallback above on the shipped
    // binary (it costs one lookup, only when a server is set).
    if env.var("CACHESHIM_TEST_PANIC").is_some() {
        panic!("CACHESHIM_TEST_PANIC is set");
    }
    let input = PlanInput {
        tool,
        args: &args,
        env,
        config: &RealFiles,
        busybox: target_bytes == TargetBytes::Raw,
    };
    match planner::prepare(&input) {
        Preparation::PassThrough(p) => {
            let said = describe_pass(&p);
            let facts = LogFacts::pass(p.reason, &args);
            (args, said, facts)
        }
        Preparation::Probe(prepared) => {
            let image = ExecImage {
                path: real,
                tool,
                set: chain_vars,
            };
            if !rewrite_can_fit(&args, &prepared, &image) {
                // Checked before the probe: a command that cannot be
                // rewritten pays nothing for asking.
                let said = format!(
                    "pass-through ({}: the rewritten command would be over the exec limits)",
                    Reason::ArgListTooLong.code()
                );
                let facts = LogFacts::pass(Reason::ArgListTooLong, &args);
                return (args, said, facts);
            }
            let memory = DownMemory::open(env);
            let base = &prepared.server.base;
            // Remembered per route: a dead proxy named by one command says
            // nothing about the commands that go direct.
            let route = prepared.route.key(base);
            if let Some(left) = memory
                .as_ref()
                .and_then(|m| m.down_for(&route, SystemTime::now()))
            {
                let said = format!(
                    "pass-through ({}: {base} did not answer; retrying in {} s)",
                    Reason::CacheDown.code(),
                    settings::seconds_ceil(left)
                );
                let facts = LogFacts::pass(Reason::CacheDown, &args);
                return (args, said, facts);
            }
            let timeout = settings::probe_timeout(env);
            let https = prepared.server.scheme == crate::cache_url::ServerScheme::Https;
            let probed = if https {
                // Asked with the real tool: its trust is the download's.
                crate::tool_probe::probe_all(
                    tool,
                    target_bytes == TargetBytes::Raw,
                    real,
                    &prepared,
                    timeout,
                    chain_vars,
                    env,
                )
            } else {
                probe::probe_all(&prepared, timeout, target_bytes)
            };
            let host_dead = probed.host_dead;
            let copies = probed.copies;
            let mut answers = probed.answers;
            if host_dead && let Some(m) = &memory {
                m.mark_down(&route);
            }
            let checker = origin_check::checker(tool, real, env);
            let findings = origin_check::apply(
                checker.as_deref(),
                &prepared,
                &mut answers,
                &copies,
                timeout,
                chain_vars,
                env,
            );
            let outcome = planner::finish(&args, &prepared, &answers);
            let said = describe(&outcome, &prepared, &answers, &findings);
            let facts = LogFacts::planned(&outcome, &prepared, &answers, &copies, &args);
            match outcome {
                Outcome::PassThrough(_) => (args, said, facts),
                Outcome::Rewrite(r) => (r.argv, said, facts),
            }
        }
    }
}

/// Whether the longest rewrite (every candidate a hit) fits what execve
/// accepts. Any other rewrite is shorter: fewer cache URLs (each longer than
/// its origin), and credentials, removed only when all hit, make a partial
/// rewrite pass through.
pub fn rewrite_can_fit(args: &[OsString], prepared: &Prepared, image: &ExecImage) -> bool {
    let all_hit = vec![
        ProbeAnswer::Hit {
            accepts_ranges: true
        };
        prepared.candidates.len()
    ];
    match planner::finish(args, prepared, &all_hit) {
        Outcome::Rewrite(r) => {
            fits_exec_limits(image, &r.argv, inherited_environment_entries(), arg_max())
        }
        Outcome::PassThrough(_) => true,
    }
}

fn describe_pass(p: &planner::PassThrough) -> String {
    if p.detail.is_empty() {
        format!("pass-through ({})", p.reason.code())
    } else {
        format!("pass-through ({}: {})", p.reason.code(), p.detail)
    }
}

pub fn describe(
    outcome: &Outcome,
    prepared: &Prepared,
    answers: &[ProbeAnswer],
    findings: &[origin_check::Finding],
) -> String {
    let per_url: Vec<String> = prepared
        .candidates
        .iter()
        .zip(answers)
        .enumerate()
        .map(
            |(i, (c, a))| match findings.get(i).filter(|f| !f.said.is_empty()) {
                Some(f) => format!("{} {} ({})", a.code(), c.origin.url, f.said),
                // A release trusted without asking says so.
                None if c.stability.starts_with("trusted") => {
                    format!("{} {} ({})", a.code(), c.origin.url, c.stability)
                }
                None => format!("{} {}", a.code(), c.origin.url),
            },
        )
        .collect();
    match outcome {
        Outcome::PassThrough(p) => format!("{} [{}]", describe_pass(p), per_url.join(", ")),
        Outcome::Rewrite(r) => {
            let removed = if r.removed.is_empty() {
                String::new()
            } else {
                format!("; removed {}", r.removed.join(", "))
            };
            format!(
                "rewrote {}/{} from {} [{}]{removed}",
                r.hits.len(),
                prepared.candidates.len(),
                prepared.server.base,
                per_url.join(", ")
            )
        }
    }
}

/// What the decision log records of one planned command (`decision_log`).
pub struct LogFacts {
    decision: &'static str,
    reason: &'static str,
    urls: usize,
    bytes: u64,
    /// The URL the line names (sanitised when written), if any.
    origin: Option<Vec<u8>>,
    /// Already sanitised by the planner (a candidate: no userinfo, no
    /// secret, not someone else's machine-local name): its key less the
    /// query. Then no URL is parsed again for the log.
    checked_origin: Option<String>,
    /// The cache host's base, when the planner parsed it.
    host: Option<String>,
}

impl LogFacts {
    /// A pass-through decided before any probe: its first URL argument.
    fn pass(reason: Reason, args: &[OsString]) -> LogFacts {
        use std::os::unix::ffi::OsStrExt;
        let urls: Vec<&[u8]> = args
            .iter()
            .map(|a| a.as_bytes())
            .filter(|a| {
                a.get(..8)
                    .is_some_and(|p| p.eq_ignore_ascii_case(b"https://"))
                    || a.get(..7)
                        .is_some_and(|p| p.eq_ignore_ascii_case(b"http://"))
            })
            .collect();
        LogFacts {
            decision: "pass",
            reason: reason.code(),
            urls: urls.len(),
            bytes: 0,
            origin: urls.first().map(|u| u.to_vec()),
            checked_origin: None,
            host: None,
        }
    }

    fn planned(
        outcome: &Outcome,
        prepared: &Prepared,
        answers: &[ProbeAnswer],
        copies: &[crate::planner::CacheCopy],
        args: &[OsString],
    ) -> LogFacts {
        let hit = |i: usize| matches!(answers[i], ProbeAnswer::Hit { .. });
        let pick = |want_hit: bool| {
            (0..prepared.candidates.len())
                .find(|&i| hit(i) == want_hit)
                .or(Some(0))
                .and_then(|i| prepared.candidates.get(i))
        };
        // A cache host on this machine's loopback lets the planner keep
        // loopback origins; the log still never names one: checked again.
        let local_cache = crate::machine_local::is_loopback_host(&prepared.server.host);
        let first = |want_hit: bool| {
            pick(want_hit).filter(|_| !local_cache).map(|c| {
                let key = &c.origin.key;
                key[..key.find('?').unwrap_or(key.len())].to_string()
            })
        };
        let raw = |want_hit: bool| {
            use std::os::unix::ffi::OsStrExt;
            pick(want_hit)
                .filter(|_| local_cache)
                .map(|c| args[c.index].as_bytes().to_vec())
        };
        let host = Some(prepared.server.base.clone());
        match outcome {
            Outcome::Rewrite(_) => LogFacts {
                decision: "hit",
                reason: "hit",
                urls: prepared.candidates.len(),
                bytes: (0..prepared.candidates.len())
                    .filter(|&i| hit(i))
                    .filter_map(|i| copies.get(i)?.length)
                    .sum(),
                origin: raw(true),
                checked_origin: first(true),
                host,
            },
            Outcome::PassThrough(p) => LogFacts {
                decision: if p.reason == Reason::Miss {
                    "miss"
                } else {
                    "pass"
                },
                origin: raw(false),
                checked_origin: first(false),
                host,
                ..LogFacts::pass(p.reason, args)
            },
        }
    }

    fn entry(&self, tool: Tool, env: &dyn EnvView) -> crate::decision_log::Entry {
        let host = self.host.clone().unwrap_or_else(|| {
            settings::server_setting(tool, env)
                .and_then(|(_, v)| crate::cache_url::CacheServer::parse(&v.to_string_lossy()).ok())
                .map(|s| s.base)
                .unwrap_or_default()
        });
        let origin = self.checked_origin.clone().or_else(|| {
            let lan = crate::machine_local::LanOrigins::parse(
                &env.non_empty_str(crate::machine_local::LAN_ORIGINS_VAR)
                    .unwrap_or_default(),
            );
            crate::decision_log::loggable_origin(self.origin.as_deref()?, &lan)
        });
        crate::decision_log::Entry {
            time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            tool: tool.name().into(),
            decision: self.decision.into(),
            reason: self.reason.into(),
            host,
            urls: self.urls,
            bytes: self.bytes,
            origin: origin.unwrap_or_default(),
        }
    }
}
