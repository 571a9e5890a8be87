//! Before some hits count, the origin is asked, with the real curl itself:
//! curl without `-L` saves a redirect as it is while the cache holds what
//! the URL resolves to (the redirect question), a hit that removes
//! credentials must not serve someone else's answer, nor hide a refused
//! login (the identity question), and `--compressed` must not decode what
//! the cache holds as sent (the encoding question). The real tool knows the
//! origin's TLS, proxy and DNS rules exactly as the download will meet them.
//!
//! One bounded process per command (`bounded_run`): `curl -q --parallel -K
//! -`, every question an operation of the config handed in on stdin (no argv
//! limit), each with what the command sends to the origin
//! (`sent_to_origin`: route, trust, User-Agent, Referer, every
//! non-credential header, the `Accept-Encoding` of `--compressed`, from argv
//! and the config files the planner read; `-q` keeps curl from reading them
//! itself) and, for the request as the command sends it, its origin
//! credentials (the direct command sends them there too; never anything to
//! the cache host). Output to /dev/null, HEAD, `--globoff`, a connect
//! timeout and a per-transfer time limit, and the process killed at the
//! deadline. An origin that refuses HEAD (405, 501, 403) is asked again with
//! a GET whose body goes to /dev/full, so curl stops at its first byte, and
//! that URL is remembered.
//!
//! Offline means unreachable: no name, no connection, none within the
//! connect timeout (curl's exit code with `%{num_connects}` 0), or a proxy
//! that could not open a tunnel. Then the hit is served (an offline lab:
//! `planner::origin_verdict`) and the origin is remembered per host, port and
//! route for `WITHCACHE_DOWN_TTL`. An origin that was reached — slow, reset,
//! empty, refused at the TLS layer — answered: the command passes through,
//! and a slow or dropped answer is remembered for that URL alone. Nothing the
//! command's own configuration causes (a CA file, a client certificate) is
//! remembered. A file the check would open that is not a regular file (a
//! pipe from `<(…)`) means the origin is not asked at all: the real tool
//! must be the only reader of the user's input. `WITHCACHE_ORIGIN_CHECK=off`
//! asks nobody and counts every origin as one that cannot be asked.

use crate::down_memory::DownMemory;
use crate::env_view::EnvView;
use crate::planner::{
    CacheCopy, CheckOption, OriginReply, OriginVerdict, Prepared, ProbeAnswer, origin_verdict,
};
use crate::tool::Tool;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
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

/// Replaces each hit whose origin answers make it wrong by the pass-through
/// answer the verdict gives (without `real_curl` nobody asks, and such hits
/// pass through); returns one finding per candidate. `chain` is what the
/// shim hands the programs it runs (the loop guard's variables), so a
/// `REAL_CURL` wrapper that calls `curl` reaches the real curl.
pub fn apply(
    real_curl: Option<&Path>,
    prepared: &Prepared,
    answers: &mut [ProbeAnswer],
    copies: &[CacheCopy],
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
    let off = !crate::settings::ORIGIN_CHECK.get(env);
    let in_the_way = if off {
        None
    } else {
        let options = prepared
            .origin_check_args
            .iter()
            .chain(&prepared.identity_args);
        non_regular_input(options, env)
    };
    let memory = DownMemory::open(env);
    let route = route_key(prepared, env);
    let now = SystemTime::now();
    let remembered = |key: &str| memory.as_ref().and_then(|m| m.down_for(key, now)).is_some();

    let mut replies: Replies = vec![(None, None); answers.len()];
    let mut fresh_remembered = Vec::new();
    let fresh_ttl = crate::settings::revalidate_ttl(env);
    let mut head_ops = Vec::new();
    let mut get_ops = Vec::new();
    for &i in &asked {
        let url = &prepared.candidates[i].origin.url;
        let from_memory =
            |reply: OriginReply, said: String| (Some((Some(reply.clone()), Some(reply))), said);
        let (known, said) = if off {
            from_memory(UNREACHABLE, format!("origin not asked ({CHECK_VAR}=off)"))
        } else if let Some(what) = &in_the_way {
            (
                Some((None, None)),
                format!("origin not asked: {what} is not a regular file"),
            )
        } else if remembered(&offline_key(&authority(url), &route)) {
            from_memory(UNREACHABLE, "origin unreachable (remembered)".into())
        } else if remembered(&no_answer_key(url, &route)) {
            from_memory(SLOW, "origin gave no answer (remembered)".into())
        } else if only_freshness(prepared.candidates[i].questions)
            && memory
                .as_ref()
                .is_some_and(|m| m.marked_within(&fresh_key(url, &route), fresh_ttl, now))
        {
            // Confirmed fresh a moment ago: the hit stands, nobody is asked.
            (Some((None, None)), "fresh (remembered)".into())
        } else {
            (None, String::new())
        };
        match known {
            Some((None, None)) if said.starts_with("fresh") => {
                findings[i].said = said;
                fresh_remembered.push(i);
            }
            Some(reply) => {
                replies[i] = reply;
                findings[i].said = said;
            }
            None if remembered(&head_refused_key(url, &route)) => get_ops.push(i),
            None => head_ops.push(i),
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
    // the headers, and remember the URL.
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
            m.mark_down(&head_refused_key(
                &prepared.candidates[i].origin.url,
                &route,
            ));
        }
    }
    get_ops.extend(&refused_head);
    ask(&get_ops, true, &mut replies);
    // A host that answered any transfer of this check was reached: a
    // transfer to it that reports no connection reused one, and timed out.
    let reached: Vec<String> = head_ops
        .iter()
        .chain(&get_ops)
        .filter(|&&i| {
            let (main, anon) = &replies[i];
            [main, anon]
                .into_iter()
                .flatten()
                .any(|r| r.status != 0 || r.connects > 0)
        })
        .map(|&i| authority(&prepared.candidates[i].origin.url))
        .collect();

    for &i in asked.iter().filter(|i| !fresh_remembered.contains(i)) {
        let cand = &prepared.candidates[i];
        let asked_now = findings[i].said.is_empty();
        let authority = authority(&cand.origin.url);
        if asked_now && reached.contains(&authority) {
            let (main, anon) = &mut replies[i];
            for r in [main, anon].into_iter().flatten() {
                r.connects = r.connects.max(1);
            }
        }
        let (main, anon) = &replies[i];
        let copy = copies.get(i).cloned().unwrap_or_default();
        let verdict = origin_verdict(cand.questions, main.as_ref(), anon.as_ref(), &copy);
        if asked_now && let Some(m) = &memory {
            if verdict == OriginVerdict::Offline {
                m.mark_down(&offline_key(&authority, &route));
            } else if main.as_ref().is_some_and(OriginReply::dropped_or_slow) {
                m.mark_down(&no_answer_key(&cand.origin.url, &route));
            } else if verdict == OriginVerdict::Holds && cand.questions.freshness {
                // Remembered for the TTL, never longer than the origin's
                // own max-age.
                let valid = main
                    .as_ref()
                    .and_then(|r| crate::planner::max_age(&r.cache_control))
                    .map_or(fresh_ttl, |a| fresh_ttl.min(Duration::from_secs(a)));
                m.mark_valid_for(&fresh_key(&cand.origin.url, &route), valid, fresh_ttl);
            }
        }
        if asked_now {
            findings[i].said = match main {
                Some(r) if r.status != 0 => format!("origin {}", r.status),
                Some(r) if r.unreachable() => {
                    format!("origin unreachable (curl exit {})", r.exit)
                }
                Some(r) => format!("origin reached, no answer (curl exit {})", r.exit),
                None => "origin gave no answer in time".into(),
            };
            if get_ops.contains(&i) {
                findings[i].said.push_str(" to a GET");
            }
        }
        findings[i].said.push_str(&format!(": {}", verdict.code()));
        if cand.questions.freshness
            && let Some(r) = main.as_ref().filter(|r| r.status != 0)
        {
            let why = match crate::planner::freshness(r, &copy) {
                Ok(why) => format!(" (fresh: {why})"),
                Err(why) => format!(" (stale: {why})"),
            };
            findings[i].said.push_str(&why);
        }
        answers[i] = verdict.applied_to(answers[i]);
    }
    findings
}

/// No HTTP answer: curl's exit code, and how many connections it made.
const fn no_answer(exit: i32, connects: u32) -> OriginReply {
    OriginReply {
        status: 0,
        exit,
        etag: String::new(),
        length: String::new(),
        location: String::new(),
        encoding: String::new(),
        cache_control: String::new(),
        last_modified: String::new(),
        connects,
        tunnel: 0,
    }
}

/// What a remembered unreachable origin stands for.
const UNREACHABLE: OriginReply = no_answer(7, 0);

/// What a URL remembered as slow or dropped stands for.
const SLOW: OriginReply = no_answer(28, 1);

/// The first option (or environment variable) whose file the check's curl
/// would open that is not a regular file (a directory, for a CA directory):
/// a pipe from `<(…)`, `/dev/stdin`, a FIFO, a device. Reading it would take
/// the user's input from the real tool. A missing file is no one's input
/// (curl fails on it, as the direct command does).
pub fn non_regular_input<'a>(
    options: impl IntoIterator<Item = &'a CheckOption>,
    env: &dyn EnvView,
) -> Option<String> {
    use crate::sent_to_origin::{READ_FROM_ENV, Reads, reads};
    use std::os::unix::ffi::OsStrExt;
    let not_as_expected = |path: &[u8], kind: Reads| {
        std::fs::metadata(OsStr::from_bytes(path)).is_ok_and(|m| match kind {
            Reads::Dir => !m.is_dir(),
            _ => !m.is_file(),
        })
    };
    for (name, value) in options {
        if let Some((path, kind)) = reads(name, value.as_deref())
            && not_as_expected(&path, kind)
        {
            return Some(format!("--{name}"));
        }
        if matches!(name.as_str(), "netrc" | "netrc-optional")
            && let Some(home) = env.non_empty("HOME")
            && not_as_expected(
                Path::new(&home).join(".netrc").as_os_str().as_bytes(),
                Reads::File,
            )
        {
            return Some("~/.netrc".into());
        }
    }
    READ_FROM_ENV.iter().find_map(|(var, kind)| {
        let path = env.non_empty(var)?;
        not_as_expected(path.as_bytes(), *kind).then(|| (*var).to_string())
    })
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

fn no_answer_key(url: &str, route: &str) -> String {
    format!("origin-no-answer {url} {route}")
}

fn fresh_key(url: &str, route: &str) -> String {
    format!("origin-fresh {url} {route}")
}

/// Freshness is the only question: a remembered confirmation answers it.
fn only_freshness(q: crate::planner::OriginQuestions) -> bool {
    q.freshness && !q.redirect && !q.identity && !q.encoding
}

fn head_refused_key(url: &str, route: &str) -> String {
    format!("origin-refuses-head {url} {route}")
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
        .envs(chain.iter().map(|(k, v)| (*k, v.as_str())));
    let done = crate::bounded_run::run(cmd, &config, deadline);
    parse_lines(&done.stdout, prepared.candidates.len())
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
    line("globoff", None);
    if get {
        // The first byte of the body fails to be written (exit 23): curl
        // stops after the headers, announced length or not.
        line("output", Some(b"/dev/full"));
    } else {
        line("output", Some(b"/dev/null"));
        line("head", None);
    }
    let seconds = crate::settings::seconds_text(limit);
    // A connection not made within it means unreachable; one made, however
    // slow the answer, means reached (told apart by %{num_connects}).
    line("connect-timeout", Some(seconds.as_bytes()));
    line("max-time", Some(seconds.as_bytes()));
    line(
        "write-out",
        Some(
            format!(
                "{tag}\\t%{{http_code}}\\t%{{exitcode}}\\t%{{num_connects}}\\t%{{http_connect}}\\t%header{{etag}}\\t%header{{content-length}}\\t%{{redirect_url}}\\t%header{{content-encoding}}\\t%header{{cache-control}}\\t%header{{last-modified}}\\n"
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

/// `I W\tSTATUS\tEXIT\tCONNECTS\tTUNNEL\tETAG\tLENGTH\tLOCATION\tENCODING\tCACHE-CONTROL`
/// per transfer.
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
        let mut next = || f.next().unwrap_or_default();
        let connects = next().parse().unwrap_or(0);
        let tunnel = next().parse().unwrap_or(0);
        let reply = OriginReply {
            status,
            exit,
            connects,
            tunnel,
            etag: next().to_string(),
            length: next().to_string(),
            location: next().to_string(),
            encoding: next().to_string(),
            cache_control: next().to_string(),
            last_modified: next().to_string(),
        };
        if w == "1" {
            slot.0 = Some(reply);
        } else {
            slot.1 = Some(reply);
        }
    }
    replies
}
