//! One HEAD per candidate, all at once, none following redirects, all bounded
//! by one deadline. 200 = hit; 4xx = miss; anything else = unreachable.

use crate::planner::{Prepared, ProbeAnswer};
use crate::route::ProbeRoute;
use std::time::Duration;

pub const USER_AGENT: &str = concat!("cacheshim/", env!("CARGO_PKG_VERSION"));

pub fn probe_all(prepared: &Prepared, timeout: Duration) -> Vec<ProbeAnswer> {
    let agent = match agent(&prepared.route, timeout) {
        Some(a) => a,
        None => return vec![ProbeAnswer::Unreachable; prepared.candidates.len()],
    };
    let urls: Vec<&str> = prepared
        .candidates
        .iter()
        .map(|c| c.cache_url.as_str())
        .collect();
    if let [only] = urls.as_slice() {
        return vec![head(&agent, only)];
    }
    // Same URL twice in one command: ask once.
    let mut unique: Vec<&str> = urls.clone();
    unique.sort_unstable();
    unique.dedup();
    let answers: Vec<(&str, ProbeAnswer)> = std::thread::scope(|s| {
        let handles: Vec<_> = unique
            .iter()
            .map(|&u| {
                let agent = agent.clone();
                (u, s.spawn(move || head(&agent, u)))
            })
            .collect();
        handles
            .into_iter()
            .map(|(u, h)| (u, h.join().unwrap_or(ProbeAnswer::Unreachable)))
            .collect()
    });
    urls.iter()
        .map(|u| {
            answers
                .iter()
                .find(|(v, _)| v == u)
                .map(|(_, a)| *a)
                .unwrap_or(ProbeAnswer::Unreachable)
        })
        .collect()
}

fn agent(route: &ProbeRoute, timeout: Duration) -> Option<ureq::Agent> {
    let proxy = match route {
        ProbeRoute::Direct => None,
        ProbeRoute::HttpProxy(url) => Some(ureq::Proxy::new(url).ok()?),
    };
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        .user_agent(USER_AGENT)
        .proxy(proxy)
        .build();
    Some(config.into())
}

fn head(agent: &ureq::Agent, url: &str) -> ProbeAnswer {
    match agent.head(url).call() {
        Ok(resp) => {
            let status = resp.status().as_u16();
            match status {
                200 => ProbeAnswer::Hit {
                    accepts_ranges: resp
                        .headers()
                        .get("accept-ranges")
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| {
                            v.split(',').any(|t| t.trim().eq_ignore_ascii_case("bytes"))
                        }),
                },
                400..=499 => ProbeAnswer::Miss,
                _ => ProbeAnswer::Unreachable,
            }
        }
        Err(_) => ProbeAnswer::Unreachable,
    }
}
