//! Before some hits count, the origin is asked, with the real curl itself:
//! curl without `-L` saves a redirect as it is while the cache holds what
//! the URL resolves to (the redirect question), and a hit that removes
//! credentials must not serve someone else's answer (the identity
//! question). The real tool knows the origin's TLS, proxy and DNS rules
//! exactly as the download will meet them.
//!
//! One bounded process per command: `curl -q --parallel -K -`, every
//! question an operation of the config handed in on stdin (no argv limit),
//! each with the command's route and TLS options (from argv and the config
//! files the planner read; `-q` keeps curl from reading them itself) and,
//! for the request as the command sends it, its origin credentials (the
//! direct command sends them there too; never anything to the cache host).
//! Output to /dev/null, HEAD, `--globoff`, a per-transfer time limit, and
//! the process killed at the deadline. An origin that refuses HEAD (405,
//! 501, 403) is asked again with a GET that stops after the headers
//! (`--max-filesize 1`), in a second process, and remembered.
//!
//! "Could not be asked" (no name, no connection, no answer in time, no TLS
//! session) is told apart from an answer: the lab is offline and the hit is
//! served (`planner::origin_verdict`), and the origin is remembered as such
//! for `WITHCACHE_DOWN_TTL`, per origin and route, so later calls do not
//! wait. `WITHCACHE_ORIGIN_CHECK=off` asks nobody and counts every origin
//! as one that cannot be asked.

use crate::down_memory::DownMemory;
use crate::env_view::EnvView;
use crate::planner::{
    CheckOption, OriginReply, OriginVerdict, Prepared, ProbeAnswer, origin_verdict,
};
use crate::tool::Tool;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

pub const CHECK_VAR: &str = "WITHCACHE_ORIGIN_CHECK";

/// How many transfers the check's curl runs at once.
const PARALLEL: usize = 16;

/// What the check found for one candidate, for the debug line and `plan`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Finding {
    /// `origin 200`, `origin unreachable (remembered)`, …; empty: not asked.
    pub said: String,
}

/// The real curl that asks: the command's own for curl; for wget, the
/// real curl on PATH (skipping shims), if there is one.
pub fn checker(tool: Tool, real: &Path, env: &dyn EnvView) -> Option<PathBuf> {
    match tool {
        Tool::Curl => Some(real.to_path_buf()),
        Tool::Wget => {
            let chain = crate::loop_guard::Chain::from_env(env);
            crate::real_tool::locate_from_env(Tool::Curl, OsStr::new("curl"), env, &chain)
                .1
                .map(|l| l.path)
        }
    }
}

/// Replaces each hit whose origin answers make it wrong by `OriginNot2xx`
/// or `OriginIdentity` (without `real_curl` nobody asks, and such hits pass
/// through); returns one finding per candidate. `chain` is what
/// the shim hands the programs it runs (the loop guard's variables), so a
/// `REAL_CURL` wrapper that calls `curl` reaches the real curl.
pub fn apply(
    real_curl: Option<&Path>,
    prepared: &Prepared,
    answers: &mut [ProbeAnswer],
    timeout: Duration,
    chain: &[(&str, String)],
    env: &dyn EnvView,
) -> Vec<Finding> {
    let mut findings = vec![Finding::default(); answers.len()];
    let asked: Vec<usize> = (0..answers.len())
        .filter(|&i| {
            matches!(answers[i], ProbeAnswer::Hit { .. }) && prepared.candidates[i].questions.any()
        })
        .collect();
    if asked.is_empty() {
        return findings;
    }
    let off = env
        .non_empty_str(CHECK_VAR)
        .is_some_and(|v| v.eq_ignore_ascii_case("off") || v == "0");
    let memory = DownMemory::open(env);
    let route = route_key(prepared, env);
    let now = SystemTime::now();
    let remembered = |key: &str| memory.as_ref().and_then(|m| m.down_for(key, now)).is_some();

    let mut replies: Replies = vec![(None, None); answers.len()];
    let mut head_ops = Vec::new();
    let mut get_ops = Vec::new();
    for &i in &asked {
        let authority = authority(&prepared.candidates[i].origin.url);
        if off || remembered(&offline_key(&authority, &route)) {
            let unreachable = OriginReply {
                exit: 7,
                ..Default::default()
            };
            replies[i] = (Some(unreachable.clone()), Some(unreachable));
            findings[i].said = if off {
                format!("origin not asked ({CHECK_VAR}=off)")
            } else {
                "origin unreachable (remembered)".into()
            };
        } else if remembered(&head_refused_key(&authority)) {
            get_ops.push(i);
        } else {
            head_ops.push(i);
        }
    }
    let deadline = Instant::now() + timeout;
    let ask = |ops: &[usize], get: bool, replies: &mut Replies| {
        let Some(real_curl) = real_curl.filter(|_| !ops.is_empty()) else {
            return;
        };
        let mut got = run_check(real_curl, prepared, ops, get, deadline, chain);
        for &i in ops {
            replies[i] = std::mem::take(&mut got[i]);
        }
    };
    ask(&head_ops, false, &mut replies);
    // Origins that refuse HEAD: ask those again with a GET that stops after
    // the headers, and remember them.
    let refused_head: Vec<usize> = head_ops
        .iter()
        .copied()
        .filter(|&i| {
            replies[i]
                .0
                .as_ref()
                .is_some_and(|r| matches!(r.status, 403 | 405 | 501))
        })
        .collect();
    for &i in &refused_head {
        if let Some(m) = &memory {
            m.mark_down(&head_refused_key(&authority(
                &prepared.candidates[i].origin.url,
            )));
        }
    }
    get_ops.extend(&refused_head);
    ask(&get_ops, true, &mut replies);

    for &i in &asked {
        let (main, anon) = &replies[i];
        let cand = &prepared.candidates[i];
        let verdict = origin_verdict(cand.questions, main.as_ref(), anon.as_ref());
        if verdict == OriginVerdict::Offline
            && findings[i].said.is_empty()
            && let Some(m) = &memory
        {
            m.mark_down(&offline_key(&authority(&cand.origin.url), &route));
        }
        if findings[i].said.is_empty() {
            findings[i].said = match main {
                Some(r) if r.status != 0 => format!("origin {}", r.status),
                Some(r) if r.could_not_ask() => {
                    format!("origin unreachable (curl exit {})", r.exit)
                }
                Some(r) => format!("origin gave no answer (curl exit {})", r.exit),
                None => "origin gave no answer in time".into(),
            };
            if get_ops.contains(&i) {
                findings[i].said.push_str(" to a GET");
            }
        }
        findings[i].said.push_str(&format!(": {}", verdict.code()));
        answers[i] = verdict.applied_to(answers[i]);
    }
    findings
}

/// The origin's `scheme://host:port`, as the memory keys it.
fn authority(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| url.to_string())
}

fn offline_key(authority: &str, route: &str) -> String {
    format!("origin-offline {authority} {route}")
}

fn head_refused_key(authority: &str) -> String {
    format!("origin-refuses-head {authority}")
}

/// How the check's curl reaches origins: its route options and the proxy
/// variables it reads.
fn route_key(prepared: &Prepared, env: &dyn EnvView) -> String {
    let mut key = String::new();
    for (name, value) in &prepared.origin_check_args {
        key.push_str(name);
        if let Some(v) = value {
            key.push('=');
            key.push_str(&String::from_utf8_lossy(v));
        }
        key.push(' ');
    }
    for var in [
        "http_proxy",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
    ] {
        if let Some(v) = env.non_empty_str(var) {
            key.push_str(&format!("{var}={v} "));
        }
    }
    key
}

/// One curl process asking every candidate of `ops` (the request as the
/// command sends it, and, for the identity question, without its
/// credentials). Keyed by (candidate, with credentials).
fn run_check(
    real_curl: &Path,
    prepared: &Prepared,
    ops: &[usize],
    get: bool,
    deadline: Instant,
    chain: &[(&str, String)],
) -> Replies {
    let left = deadline.saturating_duration_since(Instant::now());
    // curl's own limit a little inside ours, so a slow origin reports a
    // timeout (exit 28) before the process is killed.
    let per_transfer = left - left / 10;
    let mut config = Vec::new();
    for &i in ops {
        let cand = &prepared.candidates[i];
        let mut variants = vec![true];
        if cand.questions.identity {
            variants.push(false);
        }
        for with_credentials in variants {
            let mut options: Vec<CheckOption> = prepared.origin_check_args.clone();
            if with_credentials {
                options.extend(prepared.identity_args.iter().cloned());
            }
            if !cand.questions.redirect {
                // The command follows redirects (-L): so does the question.
                options.push(("location".into(), None));
            }
            write_operation(
                &mut config,
                &cand.origin.url,
                &options,
                get,
                per_transfer,
                &format!("{i} {}", u8::from(with_credentials)),
            );
        }
    }
    let mut cmd = Command::new(real_curl);
    cmd.args(["-q", "-s", "--parallel", "--parallel-max"])
        .arg(PARALLEL.to_string())
        .args(["-K", "-"])
        .envs(chain.iter().map(|(k, v)| (*k, v.as_str())))
        .stderr(Stdio::null());
    let out = run_with_deadline(cmd, config, deadline);
    parse_lines(&out, prepared.candidates.len())
}

/// Per candidate: (with the command's credentials, without them).
type Replies = Vec<(Option<OriginReply>, Option<OriginReply>)>;

/// One operation of the check's config (curl's config file syntax).
fn write_operation(
    config: &mut Vec<u8>,
    url: &str,
    options: &[CheckOption],
    get: bool,
    limit: Duration,
    tag: &str,
) {
    if !config.is_empty() {
        // Between operations only: a trailing `next` is an operation
        // without a URL, which fails the whole run.
        config.extend_from_slice(b"--next\n");
    }
    let mut line = |name: &str, value: Option<&[u8]>| config_line(config, name, value);
    for (name, value) in options {
        line(name, value.as_deref());
    }
    line("url", Some(url.as_bytes()));
    line("output", Some(b"/dev/null"));
    line("globoff", None);
    if get {
        // Stops after the headers when a length is announced (exit 63).
        line("max-filesize", Some(b"1"));
    } else {
        line("head", None);
    }
    line(
        "max-time",
        Some(format!("{}.{:03}", limit.as_secs(), limit.subsec_millis()).as_bytes()),
    );
    line(
        "write-out",
        Some(
            format!(
                "{tag}\\t%{{http_code}}\\t%{{exitcode}}\\t%header{{etag}}\\t%header{{content-length}}\\t%{{redirect_url}}\\t%header{{content-encoding}}\\n"
            )
            .as_bytes(),
        ),
    );
}

/// One `--name "value"` line of a curl config file.
pub(crate) fn config_line(config: &mut Vec<u8>, name: &str, value: Option<&[u8]>) {
    config.extend_from_slice(b"--");
    config.extend_from_slice(name.as_bytes());
    if let Some(v) = value {
        config.push(b' ');
        quote_into(config, v);
    }
    config.push(b'\n');
}

/// A config-file value in double quotes: `\` and `"` escaped, and the
/// line breaks curl would end the value at.
pub(crate) fn quote_into(out: &mut Vec<u8>, v: &[u8]) {
    out.push(b'"');
    for &b in v {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Runs `cmd` with `input` on its stdin and returns its stdout, killing it
/// at the deadline (what it printed by then still counts). Both are
/// memory files, not pipes: no thread is needed to feed or drain them, and
/// a curl that dies early cannot kill the shim with SIGPIPE (which the
/// shim leaves at its default, for the real tool's sake).
pub(crate) fn run_with_deadline(mut cmd: Command, input: Vec<u8>, deadline: Instant) -> Vec<u8> {
    use nix::sys::memfd::{MFdFlags, memfd_create};
    use std::io::Seek;
    let memory =
        || memfd_create(c"cacheshim-check", MFdFlags::MFD_CLOEXEC).map(std::fs::File::from);
    let (Ok(mut stdin), Ok(stdout)) = (memory(), memory()) else {
        return Vec::new();
    };
    if stdin
        .write_all(&input)
        .and_then(|_| stdin.rewind())
        .is_err()
    {
        return Vec::new();
    }
    let Ok(reader) = stdout.try_clone() else {
        return Vec::new();
    };
    cmd.stdin(Stdio::from(stdin)).stdout(Stdio::from(stdout));
    let Ok(mut child) = cmd.spawn() else {
        return Vec::new();
    };
    // The command is dropped with its copies of the descriptors.
    drop(cmd);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_micros(500)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
        }
    }
    let mut out = Vec::new();
    let mut reader = reader;
    let _ = reader.rewind().and_then(|_| reader.read_to_end(&mut out));
    out
}

/// `I W\tSTATUS\tEXIT\tETAG\tLENGTH\tLOCATION` per transfer.
fn parse_lines(out: &[u8], candidates: usize) -> Replies {
    let text = String::from_utf8_lossy(out);
    let mut replies: Replies = vec![(None, None); candidates];
    for line in text.lines() {
        let mut f = line.split('\t');
        let (Some(tag), Some(status), Some(exit)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let Some((i, w)) = tag.split_once(' ') else {
            continue;
        };
        let (Ok(i), Ok(status), Ok(exit)) = (i.parse::<usize>(), status.parse(), exit.parse())
        else {
            continue;
        };
        let Some(slot) = replies.get_mut(i) else {
            continue;
        };
        let reply = OriginReply {
            status,
            exit,
            etag: f.next().unwrap_or_default().to_string(),
            length: f.next().unwrap_or_default().to_string(),
            location: f.next().unwrap_or_default().to_string(),
            encoding: f.next().unwrap_or_default().to_string(),
        };
        if w == "1" {
            slot.0 = Some(reply);
        } else {
            slot.1 = Some(reply);
        }
    }
    replies
}
