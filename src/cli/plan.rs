//! `cacheshim plan`: what the shim would do with a command, as JSON.

use super::{Arg, Args, Usage, is, usage};
use crate::config_files::RealFiles;
use crate::env_view::ProcessEnv;
use crate::invocation::{Invocation, invoked_as};
use crate::loop_guard::Chain;
use crate::planner::{self, OriginReply, Outcome, PlanInput, Preparation, ProbeAnswer};
use crate::probe::{self, TargetBytes};
use crate::real_tool;
use crate::settings;
use serde_json::{Value, json};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

const HELP: &str = "\
Usage: cacheshim plan [--assume hit|hit-ranges|miss|unreachable]
                      [--assume-origin 2xx|redirect|refused|unreachable|slow|private|stale] -- curl|wget ARGS...

Prints, as JSON on stdout, what the shim would do with this command in this
environment: the real tool it would run, the URL candidates with their probe
answers (live unless --assume), the questions a hit depends on (redirect:
curl without -L; identity: credentials would be removed) and what the origin
answered (live unless --assume-origin: 2xx, a redirect, refused without the
credentials, or unreachable), the pass-through reason if any, the names of
removed credential options, and the final argv. With --assume alone the
origin is not asked. Only the live origin check runs anything.
";

pub fn run(args: &[OsString]) -> Result<i32, Usage> {
    let mut assume = None;
    let mut assume_origin: Option<(OriginReply, OriginReply, crate::planner::CacheCopy)> = None;
    let mut a = Args::new(args);
    let mut command = Vec::new();
    while let Some(arg) = a.next_arg() {
        match arg {
            Arg::Flag(f) if f == "--help" => {
                out!("{HELP}");
                return Ok(0);
            }
            Arg::Flag(f) if is(&f, "--assume") => {
                let v = a.value(&f)?.to_string_lossy().into_owned();
                assume = Some(ProbeAnswer::from_code(&v).ok_or_else(|| {
                    super::Usage(format!(
                        "--assume: '{v}' is not hit, hit-ranges, miss or unreachable"
                    ))
                })?);
            }
            Arg::Flag(f) if is(&f, "--assume-origin") => {
                let v = a.value(&f)?.to_string_lossy().into_owned();
                assume_origin = Some(assumed_origin(&v).ok_or_else(|| {
                    super::Usage(format!(
                        "--assume-origin: '{v}' is not 2xx, redirect, refused, unreachable, slow, private or stale"
                    ))
                })?);
            }
            Arg::Flag(f) => return usage(format!("unknown option {f}")),
            Arg::Operand(o) => {
                command.push(o);
                command.extend(a.remaining());
            }
            Arg::Rest(r) => command.extend(r),
        }
    }
    let Some((name, tool_args)) = command.split_first() else {
        return usage("plan: give the command after --, e.g. cacheshim plan -- curl -O URL");
    };
    let Invocation::Shim(tool) = invoked_as(name, None) else {
        return usage(format!(
            "plan: '{}' is neither curl nor wget",
            name.to_string_lossy()
        ));
    };
    let env = ProcessEnv;
    let chain = Chain::from_env(&env);
    let (_, real) = real_tool::locate_from_env(tool, name, &env, &chain);
    let busybox = tool == crate::tool::Tool::Wget
        && real
            .as_ref()
            .is_some_and(|r| real_tool::is_busybox(&r.path));
    let bytes = if busybox {
        TargetBytes::Raw
    } else {
        TargetBytes::Escaped
    };
    let input = PlanInput {
        tool,
        args: tool_args,
        env: &env,
        config: &RealFiles,
        busybox,
    };
    let server = settings::server_setting(tool, &env);
    let (outcome, candidates, skipped, server_base) = match planner::prepare(&input) {
        Preparation::PassThrough(p) => (Outcome::PassThrough(p), Vec::new(), Vec::new(), None),
        Preparation::Probe(prepared) => {
            let mut copies = vec![crate::planner::CacheCopy::default(); prepared.candidates.len()];
            let mut answers = match assume {
                Some(a) => vec![a; prepared.candidates.len()],
                None if prepared.server.scheme == crate::cache_url::ServerScheme::Https => {
                    match &real {
                        Some(r) => {
                            let probed = crate::tool_probe::probe_all(
                                tool,
                                busybox,
                                &r.path,
                                &prepared,
                                settings::probe_timeout(&env),
                                &chain.passed_on(None, r.override_id),
                                &env,
                            );
                            copies = probed.copies;
                            probed.answers
                        }
                        None => vec![ProbeAnswer::Unreachable; prepared.candidates.len()],
                    }
                }
                None => {
                    let probed = probe::probe_all(&prepared, settings::probe_timeout(&env), bytes);
                    copies = probed.copies;
                    probed.answers
                }
            };
            let mut origin = vec![String::new(); answers.len()];
            match (&assume_origin, assume) {
                (Some((main, anon, copy)), _) => {
                    for (i, c) in prepared.candidates.iter().enumerate() {
                        if matches!(answers[i], ProbeAnswer::Hit { .. }) && c.questions.any() {
                            let v =
                                planner::origin_verdict(c.questions, Some(main), Some(anon), copy);
                            origin[i] = format!("assumed: {}", v.code());
                            answers[i] = v.applied_to(answers[i]);
                        }
                    }
                }
                (None, None) => {
                    if let Some(r) = &real {
                        let chain_vars = chain.passed_on(None, r.override_id);
                        let checker = crate::origin_check::checker(tool, &r.path, &env);
                        let findings = crate::origin_check::apply(
                            checker.as_deref(),
                            &prepared,
                            &mut answers,
                            &copies,
                            settings::probe_timeout(&env),
                            &chain_vars,
                            &env,
                        );
                        origin = findings.into_iter().map(|f| f.said).collect();
                    }
                }
                (None, Some(_)) => {}
            }
            let mut outcome = planner::finish(tool_args, &prepared, &answers);
            // The shim's own last check: a rewrite execve would refuse runs
            // as written.
            if let (Outcome::Rewrite(r), Some(real)) = (&outcome, &real) {
                let chain_vars = chain.passed_on(None, real.override_id);
                let image = crate::exec::ExecImage {
                    path: &real.path,
                    tool,
                    set: &chain_vars,
                };
                if !crate::exec::fits_exec_limits(
                    &image,
                    &r.argv,
                    crate::exec::inherited_environment_entries(),
                    crate::exec::arg_max(),
                ) {
                    outcome = Outcome::PassThrough(planner::PassThrough {
                        reason: crate::policy::Reason::ArgListTooLong,
                        detail: "the rewritten command is over the exec limits".into(),
                    });
                }
            }
            let candidates = prepared
                .candidates
                .iter()
                .zip(&answers)
                .zip(&origin)
                .map(|((c, a), o)| {
                    json!({
                        "url": c.origin.url,
                        "cache_url": c.cache_url,
                        "answer": a.code(),
                        "questions": c.questions.names(),
                        "stability": c.stability,
                        "origin": (!o.is_empty()).then_some(o),
                    })
                })
                .collect();
            let skipped = prepared
                .skipped
                .iter()
                .map(|s| json!({"url": os_arg(&tool_args[s.index]), "why": s.why.code()}))
                .collect();
            (
                outcome,
                candidates,
                skipped,
                Some(prepared.server.base.clone()),
            )
        }
    };
    let (decision, reason, detail, removed, final_args) = match &outcome {
        Outcome::PassThrough(p) => (
            "pass-through",
            Some(p.reason.code()),
            Some(p.detail.as_str()),
            Vec::new(),
            tool_args.to_vec(),
        ),
        Outcome::Rewrite(r) => ("rewrite", None, None, r.removed.clone(), r.argv.clone()),
    };
    let argv: Vec<Value> = std::iter::once(Value::from(tool.name()))
        .chain(final_args.iter().map(|a| os_arg(a)))
        .collect();
    let plan = json!({
        "tool": tool.name(),
        "real_tool": real.as_ref().map(|r| r.path.display().to_string()),
        "server_variable": server.as_ref().map(|(name, _)| *name),
        "server": server_base,
        "candidates": Value::Array(candidates),
        "skipped": Value::Array(skipped),
        "decision": decision,
        "reason": reason,
        "detail": detail.filter(|d| !d.is_empty()),
        "removed": removed,
        "argv": argv,
    });
    outln!(
        "{}",
        serde_json::to_string_pretty(&plan).expect("a JSON value always serializes")
    );
    Ok(0)
}

/// The origin's answers `--assume-origin` stands for: (as the command
/// sends the request, without its credentials).
fn assumed_origin(v: &str) -> Option<(OriginReply, OriginReply, crate::planner::CacheCopy)> {
    let reply = |status: u16, exit: i32, location: &str| OriginReply {
        status,
        exit,
        etag: if status == 0 {
            String::new()
        } else {
            "\"assumed\"".into()
        },
        length: String::new(),
        location: location.into(),
        connects: u32::from(status != 0),
        ..OriginReply::default()
    };
    // The cache host recorded the origin's ETag: fresh unless "stale",
    // where the origin's ETag is another.
    let same = crate::planner::CacheCopy {
        origin_etag: "\"assumed\"".into(),
        ..Default::default()
    };
    let (main, anon) = match v {
        "2xx" => (reply(200, 0, ""), reply(200, 0, "")),
        "redirect" => (
            reply(302, 0, "https://elsewhere.example/"),
            reply(302, 0, "https://elsewhere.example/"),
        ),
        "refused" => (reply(200, 0, ""), reply(401, 0, "")),
        "unreachable" => (reply(0, 7, ""), reply(0, 7, "")),
        "slow" => {
            let reached = OriginReply {
                connects: 1,
                ..reply(0, 28, "")
            };
            (reached.clone(), reached)
        }
        "private" => {
            let private = OriginReply {
                cache_control: "private".into(),
                ..reply(200, 0, "")
            };
            (private.clone(), private)
        }
        "stale" => {
            let moved = OriginReply {
                etag: "\"newer\"".into(),
                ..reply(200, 0, "")
            };
            (moved.clone(), moved)
        }
        _ => return None,
    };
    Some((main, anon, same))
}

/// An argument: a JSON string, or `{"hex": "…"}` when it is not UTF-8 (the
/// same convention as the argv fixtures).
fn os_arg(a: &OsStr) -> Value {
    match a.to_str() {
        Some(s) => Value::from(s),
        None => {
            let hex: String = a.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
            json!({ "hex": hex })
        }
    }
}
