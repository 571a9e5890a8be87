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
use crate::planner::{CheckOption, Prepared, ProbeAnswer};
use crate::tool::Tool;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// GNU wget options (from argv and wgetrc) carried to its probe: how it
/// trusts and reaches the cache host. wget's probe runs with --no-config.
pub const WGET_PROBE_OPTIONS: &[&str] = &[
    "ca-certificate",
    "ca-directory",
    "check-certificate",
    "inet4-only",
    "inet6-only",
    "prefer-family",
    "proxy",
];

/// One answer per candidate (same order).
pub fn probe_all(
    tool: Tool,
    busybox: bool,
    real: &Path,
    prepared: &Prepared,
    timeout: Duration,
    chain: &[(&str, String)],
    _env: &dyn EnvView,
) -> Vec<ProbeAnswer> {
    let deadline = Instant::now() + timeout;
    match tool {
        Tool::Curl => curl_probe(real, prepared, deadline, chain),
        Tool::Wget => prepared
            .candidates
            .iter()
            .map(|c| {
                wget_probe(
                    real,
                    busybox,
                    &prepared.probe_args,
                    &c.cache_url,
                    deadline,
                    chain,
                )
            })
            .collect(),
    }
}

fn curl_probe(
    real: &Path,
    prepared: &Prepared,
    deadline: Instant,
    chain: &[(&str, String)],
) -> Vec<ProbeAnswer> {
    let left = deadline.saturating_duration_since(Instant::now());
    let limit = left - left / 10;
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
        line(
            "max-time",
            Some(format!("{}.{:03}", limit.as_secs(), limit.subsec_millis()).as_bytes()),
        );
        line(
            "write-out",
            Some(format!("{i}\\t%{{http_code}}\\t%header{{accept-ranges}}\\n").as_bytes()),
        );
    }
    let mut cmd = Command::new(real);
    cmd.args(["-q", "-s", "--parallel", "--parallel-max", "8", "-K", "-"])
        .envs(chain.iter().map(|(k, v)| (*k, v.as_str())))
        .stderr(Stdio::null());
    let out = crate::origin_check::run_with_deadline(cmd, config, deadline);
    let mut answers = vec![ProbeAnswer::Unreachable; prepared.candidates.len()];
    for l in String::from_utf8_lossy(&out).lines() {
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
        if let Some(a) = answers.get_mut(i) {
            *a = crate::probe::answer_for_status(status, ranges);
        }
    }
    answers
}

/// wget's spider on one cache URL: exit 0 is there, a 4xx on stderr is a
/// miss, anything else (a certificate it does not trust, no connection)
/// means the download could not be served from there.
fn wget_probe(
    real: &Path,
    busybox: bool,
    options: &[CheckOption],
    url: &str,
    deadline: Instant,
    chain: &[(&str, String)],
) -> ProbeAnswer {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return ProbeAnswer::Unreachable;
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
        for (name, value) in options {
            match value {
                Some(v) => cmd.arg(format!("--{name}={}", String::from_utf8_lossy(v))),
                None => cmd.arg(format!("--{name}")),
            };
        }
    }
    cmd.arg("--")
        .arg(url)
        .envs(chain.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let Ok(mut child) = cmd.spawn() else {
        return ProbeAnswer::Unreachable;
    };
    let mut err = Vec::new();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_end(&mut err);
    }
    let text = String::from_utf8_lossy(&err).to_ascii_lowercase();
    let ranges = text.contains("accept-ranges: bytes");
    match status {
        Some(s) if s.success() => ProbeAnswer::Hit {
            accepts_ranges: ranges,
        },
        Some(_)
            if [" 404", " 403", " 410", " 400"].iter().any(|c| {
                text.contains(&format!("http/1.1{c}")) || text.contains(&format!("http/1.0{c}"))
            }) =>
        {
            ProbeAnswer::Miss
        }
        _ => ProbeAnswer::Unreachable,
    }
}
