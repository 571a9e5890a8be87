//! curl without `-L` saves a redirect as it is, while the cache holds what
//! the URL finally resolves to. Before such a hit counts, the origin is asked
//! with the real curl itself (a HEAD, no `-L`, the command's own proxy and
//! TLS options, a tight timeout, nothing else of the user's): only a 2xx
//! answer keeps the hit. The real tool knows the origin's TLS and proxy rules
//! exactly as the download will meet them; a check that cannot be made
//! counts as "not 2xx", so the command passes through.

use crate::planner::{Prepared, ProbeAnswer};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// Replaces each hit that the origin does not answer with 2xx by
/// `OriginNot2xx`. The checks run at once, all within `timeout`.
/// `chain` is what the shim hands the programs it runs (the loop guard's
/// variables): a `REAL_CURL` wrapper that calls `curl` by name must reach the
/// real curl from the check too, never the shim again and again.
pub fn apply(
    real_curl: &Path,
    prepared: &Prepared,
    answers: &mut [ProbeAnswer],
    timeout: Duration,
    chain: &[(&str, String)],
) {
    if !prepared.origin_check {
        return;
    }
    let deadline = Instant::now() + timeout;
    let (tx, rx) = mpsc::channel();
    let mut pending = 0;
    for (i, (cand, answer)) in prepared.candidates.iter().zip(answers.iter()).enumerate() {
        if !matches!(answer, ProbeAnswer::Hit { .. }) {
            continue;
        }
        let mut cmd = Command::new(real_curl);
        cmd.args(&prepared.origin_check_args)
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-I",
                "-w",
                "%{http_code}",
                "--max-time",
            ])
            .arg(seconds(timeout))
            .arg("--")
            .arg(&cand.origin.url)
            .envs(chain.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        pending += 1;
        // Shared so that, when no thread can be had (RLIMIT_NPROC, a
        // container's pids.max), the check runs here instead: a failed spawn
        // drops its closure unrun, leaving the command in place.
        let slot = Arc::new(Mutex::new(Some(cmd)));
        let run = {
            let (slot, tx) = (slot.clone(), tx.clone());
            move || {
                let cmd = slot.lock().ok().and_then(|mut c| c.take());
                if let Some(cmd) = cmd {
                    let _ = tx.send((i, status_of(cmd, deadline)));
                }
            }
        };
        if std::thread::Builder::new().spawn(run).is_err() {
            let cmd = slot.lock().ok().and_then(|mut c| c.take());
            if let Some(cmd) = cmd {
                let _ = tx.send((i, status_of(cmd, deadline)));
            }
        }
    }
    drop(tx);
    let mut ok = vec![false; answers.len()];
    while pending > 0 {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok((i, status)) => {
                ok[i] = status.is_some_and(|s| (200..300).contains(&s));
                pending -= 1;
            }
            Err(_) => break,
        }
    }
    for (answer, ok) in answers.iter_mut().zip(ok) {
        if matches!(answer, ProbeAnswer::Hit { .. }) && !ok {
            *answer = ProbeAnswer::OriginNot2xx;
        }
    }
}

/// The HTTP status curl printed, or None (no answer, killed at the deadline).
fn status_of(mut cmd: Command, deadline: Instant) -> Option<u16> {
    let mut child = cmd.spawn().ok()?;
    let mut out = String::new();
    child.stdout.take()?.read_to_string(&mut out).ok()?;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    out.trim().parse().ok()
}

/// `2`, `0.5`: curl's `--max-time` takes fractions.
fn seconds(d: Duration) -> String {
    format!("{}.{:03}", d.as_secs(), d.subsec_millis())
}
