//! The probe of an https cache host, asked with the real tool itself: it
//! succeeds exactly when the real tool's download of the cache URL would,
//! with the trust the tool will use (its CA settings and environment, the
//! command's own TLS options), and no TLS stack enters this binary.
//!
//! - curl: one `curl -q -s --parallel -K -` for every cache URL (HEADs), the
//!   command's route and TLS options spelled out (from argv and the config
//!   files the planner read), `SSL_CERT_FILE`/`CURL_CA_BUNDLE` inherited.
//! - GNU wget: `wget --no-config --spider -S` per cache URL, with the
//!   command's trust options; BusyBox wget: `wget --spider`, which accepts
//!   what the download will accept (it verifies no certificate at all).
//!
//! Each process is bounded by the probe's deadline and killed there.

use crate::env_view::EnvView;
use crate::planner::{CacheCopy, CheckOption, Prepared, ProbeAnswer, Probed};
use crate::tool::Tool;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// The answers, one per candidate (same order), and whether the cache host
/// itself could not be reached or gave no answer in time (for the
/// dead-cache memory: never a certificate the command does not trust, which
/// says nothing about the next command's trust).
pub fn probe_all(
    tool: Tool,
    busybox: bool,
    real: &Path,
    prepared: &Prepared,
    timeout: std::time::Duration,
    chain: &[(&str, String)],
    env: &dyn EnvView,
) -> Probed {
    let deadline = Instant::now() + timeout;
    let options = match tool {
        Tool::Curl => &prepared.origin_check_args,
        Tool::Wget => &prepared.probe_args,
    };
    if crate::origin_check::non_regular_input(options, env).is_some() {
        // Asking would read the user's input: not asked, a miss.
        return Probed {
            answers: vec![ProbeAnswer::Unprobeable; prepared.candidates.len()],
            copies: vec![CacheCopy::default(); prepared.candidates.len()],
            host_dead: false,
        };
    }
    match tool {
        Tool::Curl => curl_probe(real, prepared, deadline, chain),
        Tool::Wget => {
            let each: Vec<(ProbeAnswer, bool, CacheCopy)> = prepared
                .candidates
                .iter()
                .map(|c| {
                    wget_probe(
                        real,
                        busybox,
                        &WgetProbe {
                            options: &prepared.probe_args,
                            wgetrc: &prepared.probe_wgetrc,
                        },
                        &c.cache_url,
                        deadline,
                        chain,
                    )
                })
                .collect();
            Probed {
                host_dead: each.iter().all(|(_, dead, _)| *dead),
                answers: each.iter().map(|(a, _, _)| *a).collect(),
                copies: each.into_iter().map(|(_, _, c)| c).collect(),
            }
        }
    }
}

fn curl_probe(
    real: &Path,
    prepared: &Prepared,
    deadline: Instant,
    chain: &[(&str, String)],
) -> Probed {
    let left = deadline.saturating_duration_since(Instant::now());
    let limit = left - left / 10;
    let seconds = crate::settings::seconds_text(limit);
    let mut config = Vec::new();
    for (i, cand) in prepared.candidates.iter().enumerate() {
        if i > 0 {
            config.extend_from_slice(b"--next\n");
        }
        let mut line = |name: &str, value: Option<&[u8]>| {
            crate::origin_check::config_line(&mut config, name, value)
        };
        for (name, value) in &prepared.origin_check_args {
            line(name, value.as_deref());
        }
        line("url", Some(cand.cache_url.as_bytes()));
        line("head", None);
        line("globoff", None);
        line("output", Some(b"/dev/null"));
        line("connect-timeout", Some(seconds.as_bytes()));
        line("max-time", Some(seconds.as_bytes()));
        line(
            "write-out",
            Some(
                format!(
                    "{i}\\t%{{http_code}}\\t%header{{accept-ranges}}\\t%{{exitcode}}\\t%header{{content-length}}\\t%header{{last-modified}}\\t%header{{x-amz-meta-origin-etag}}\\t%header{{x-amz-meta-origin-last-modified}}\\t%header{{x-amz-meta-origin-length}}\\t%header{{x-withcache-origin-etag}}\\t%header{{x-withcache-origin-last-modified}}\\t%header{{x-withcache-origin-length}}\\n"
                )
                .as_bytes(),
            ),
        );
    }
    let mut cmd = Command::new(real);
    cmd.args(["-q", "-s", "--parallel", "--parallel-max", "8", "-K", "-"])
        .envs(chain.iter().map(|(k, v)| (*k, v.as_str())));
    let done = crate::bounded_run::run(cmd, &config, deadline);
    let mut answers = vec![ProbeAnswer::Unreachable; prepared.candidates.len()];
    let mut copies = vec![CacheCopy::default(); prepared.candidates.len()];
    // No line at all (killed at the deadline) counts as no answer in time.
    let mut dead = vec![true; prepared.candidates.len()];
    for l in String::from_utf8_lossy(&done.stdout).lines() {
        let mut f = l.split('\t');
        let (Some(i), Some(status)) = (f.next(), f.next()) else {
            continue;
        };
        let (Ok(i), Ok(status)) = (i.parse::<usize>(), status.parse::<u16>()) else {
            continue;
        };
        let ranges = f
            .next()
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("bytes")));
        let exit: i32 = f.next().and_then(|e| e.trim().parse().ok()).unwrap_or(0);
        let values: Vec<&str> = f.collect();
        if let Some(c) = copies.get_mut(i) {
            *c = CacheCopy::from_headers(
                CacheCopy::HEADERS
                    .iter()
                    .zip(values)
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, v)| (*k, v)),
            );
        }
        if let Some(a) = answers.get_mut(i) {
            *a = crate::probe::answer_for_status(status, ranges);
            // No name, no connection, no answer in time: dead. A TLS
            // failure is about this command's trust.
            dead[i] = status == 0 && matches!(exit, 5 | 6 | 7 | 28);
        }
    }
    Probed {
        host_dead: dead.iter().all(|d| *d),
        answers,
        copies,
    }
}

/// wget's spider on one cache URL: exit 0 is there, a 4xx on stderr is a
/// miss, anything else (a certificate it does not trust, no connection)
/// means the download could not be served from there. Also whether the host
/// could not be reached at all (wget's network failure, exit 4, that is not
/// about TLS; or no end before the deadline).
/// What GNU wget's probe carries from the command: its trust and route
/// options, and its wgetrc proxy commands (the probe reads no config).
struct WgetProbe<'a> {
    options: &'a [CheckOption],
    wgetrc: &'a [(String, Vec<u8>)],
}

fn wget_probe(
    real: &Path,
    busybox: bool,
    carried: &WgetProbe,
    url: &str,
    deadline: Instant,
    chain: &[(&str, String)],
) -> (ProbeAnswer, bool, CacheCopy) {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return (ProbeAnswer::Unreachable, true, CacheCopy::default());
    }
    let secs = left.as_secs().max(1).to_string();
    let mut cmd = Command::new(real);
    if busybox {
        // argv[0] is what makes a BusyBox binary wget.
        use std::os::unix::process::CommandExt;
        cmd.arg0("wget");
        // (No -S: BusyBox 1.35 crashes printing an https answer's headers.)
        cmd.args(["--spider", "-T", &secs]);
    } else {
        cmd.args(["--no-config", "--spider", "-S", "-t", "1", "-T", &secs]);
        for (name, value) in carried.wgetrc {
            let command = match name.as_str() {
                "httpproxy" => "http_proxy",
                "httpsproxy" => "https_proxy",
                _ => "no_proxy",
            };
            cmd.arg("-e")
                .arg(format!("{command}={}", String::from_utf8_lossy(value)));
        }
        for (name, value) in carried.options {
            match value {
                Some(v) => cmd.arg(format!("--{name}={}", String::from_utf8_lossy(v))),
                None => cmd.arg(format!("--{name}")),
            };
        }
    }
    cmd.arg("--")
        .arg(url)
        .envs(chain.iter().map(|(k, v)| (*k, v.as_str())));
    let done = crate::bounded_run::run(cmd, b"", deadline);
    let raw = String::from_utf8_lossy(&done.stderr);
    let text = raw.to_ascii_lowercase();
    let ranges = text.contains("accept-ranges: bytes");
    // `-S` prints the answer's header lines, indented.
    let copy = CacheCopy::from_headers(raw.lines().filter_map(|l| l.trim_start().split_once(": ")));
    let (answer, dead) = match done.status {
        Some(s) if s.success() => (
            ProbeAnswer::Hit {
                accepts_ranges: ranges,
            },
            false,
        ),
        Some(_)
            if [" 404", " 403", " 410", " 400"].iter().any(|c| {
                text.contains(&format!("http/1.1{c}")) || text.contains(&format!("http/1.0{c}"))
            }) =>
        {
            (ProbeAnswer::Miss, false)
        }
        Some(s) => {
            let tls = text.contains("ssl") || text.contains("tls") || text.contains("certificate");
            (ProbeAnswer::Unreachable, s.code() == Some(4) && !tls)
        }
        None => (ProbeAnswer::Unreachable, true),
    };
    (answer, dead, copy)
}

/// One HEAD of `url` with the real tool, as `doctor` asks an https cache
/// host: its status, or why the tool could not get one (refused, not
/// trusted, no answer in time), in the tool's words.
pub fn ask(
    tool: Tool,
    busybox: bool,
    real: &Path,
    url: &str,
    timeout: std::time::Duration,
) -> Result<u16, String> {
    let deadline = Instant::now() + timeout;
    let secs = crate::settings::seconds_text(timeout);
    let mut cmd = Command::new(real);
    match tool {
        Tool::Curl => {
            cmd.args(["-q", "-s", "-I", "-o", "/dev/null", "--connect-timeout"])
                .arg(&secs)
                .args([
                    "-m",
                    &secs,
                    "-w",
                    "%{http_code}\t%{exitcode}\t%{errormsg}",
                    "--",
                ])
                .arg(url);
            let done = crate::bounded_run::run(cmd, b"", deadline);
            let out = String::from_utf8_lossy(&done.stdout).into_owned();
            let mut f = out.split('\t');
            match (
                f.next().and_then(|s| s.parse::<u16>().ok()),
                f.next(),
                f.next(),
            ) {
                (Some(status), _, _) if status != 0 => Ok(status),
                (_, Some(exit), Some(msg)) => Err(format!("curl exit {exit}: {}", msg.trim())),
                _ => Err("no answer in time".into()),
            }
        }
        Tool::Wget => match wget_probe(
            real,
            busybox,
            &WgetProbe {
                options: &[],
                wgetrc: &[],
            },
            url,
            deadline,
            &[],
        ) {
            (ProbeAnswer::Hit { .. }, _, _) => Ok(200),
            (ProbeAnswer::Miss, _, _) => Ok(404),
            (_, true, _) => Err("wget could not reach it".into()),
            (_, false, _) => Err("wget refused it (TLS or an error answer)".into()),
        },
    }
}
