//! One HEAD per candidate, several at once, none following redirects, all
//! bounded by one deadline that covers DNS, connect and the answer. 200 = hit;
//! 4xx = miss; anything else (refused, timeout, 3xx, 5xx, garbage, oversized
//! headers) = unreachable.
//!
//! `ureq` speaks HTTP. What goes on the wire is ours to decide: the request
//! target as the real tool will send it, our User-Agent, nothing else of the
//! user's. Through an HTTP proxy curl and wget send an absolute-form request
//! (`HEAD http://cache/… HTTP/1.1`), where ureq would tunnel with CONNECT, a
//! method many proxies allow only to port 443: `forward_proxy` makes ureq do
//! what the tools do, so the probe and the download take the same road.

use crate::planner::{CacheCopy, Prepared, ProbeAnswer, Probed};
use crate::route::{IpFamily, ProbeRoute};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};
use ureq::Agent;
use ureq::http::Uri;

pub const USER_AGENT: &str = concat!("cacheshim/", env!("CARGO_PKG_VERSION"));

/// At most this many connections at once: enough to overlap the round
/// trips of a long URL list, few enough to reuse each kept-alive connection.
/// Fewer on a machine with fewer cores (measured on 2 cores, 16 URLs: 2
/// workers ~1.1 ms, 4 ~1.6 ms, 8 ~1.4 ms, 1 ~1.9 ms of probing).
const MAX_WORKERS: usize = 4;

fn workers_for(urls: usize) -> usize {
    // sysconf, one sched_getaffinity: std's available_parallelism reads
    // cgroup files (slower, and ~12 KB of binary).
    let cores = nix::unistd::sysconf(nix::unistd::SysconfVar::_NPROCESSORS_ONLN)
        .ok()
        .flatten()
        .map_or(2, |n| usize::try_from(n).unwrap_or(2));
    urls.min(cores.clamp(2, MAX_WORKERS))
}

/// How the real tool puts a URL's bytes on the request line; the probe does
/// the same, so a server that rejects one rejects the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetBytes {
    /// curl and GNU wget: spaces, controls and non-ASCII bytes as `%XX`.
    Escaped,
    /// BusyBox wget: as written.
    Raw,
}

/// The cache URL as the real tool would put it on the wire, as a URI ureq
/// can send; None when ureq cannot carry those bytes (BusyBox sends raw
/// non-ASCII, which no URI holds): that URL is then not probed at all.
pub fn request_uri(url: &str, bytes: TargetBytes) -> Option<Uri> {
    let text = match bytes {
        TargetBytes::Raw => url.to_string(),
        TargetBytes::Escaped => {
            let mut out = String::with_capacity(url.len());
            for &b in url.as_bytes() {
                if b <= b' ' || b >= 0x7f {
                    out.push_str(&format!("%{b:02X}"));
                } else {
                    out.push(b as char);
                }
            }
            out
        }
    };
    let uri: Uri = text.parse().ok()?;
    // The http crate would accept a request target it re-encodes; send only
    // what the tool sends.
    (uri.to_string() == text).then_some(uri)
}

pub fn probe_all(prepared: &Prepared, timeout: Duration, bytes: TargetBytes) -> Probed {
    let deadline = Instant::now() + timeout;
    let urls: Vec<&str> = prepared
        .candidates
        .iter()
        .map(|c| c.cache_url.as_str())
        .collect();
    let mut unique = urls.clone();
    unique.sort_unstable();
    unique.dedup();
    let uris: Vec<Option<Uri>> = unique.iter().map(|u| request_uri(u, bytes)).collect();
    let got = head_all(&uris, &prepared.route, prepared.ip_family, deadline);
    let at = |u: &&str| unique.binary_search(u).expect("deduplicated from urls");
    let answers: Vec<ProbeAnswer> = urls.iter().map(|u| got[at(u)].0).collect();
    Probed {
        host_dead: answers.iter().all(|a| *a == ProbeAnswer::Unreachable),
        copies: urls.iter().map(|u| got[at(u)].1.clone()).collect(),
        answers,
    }
}

/// Every URI on up to `MAX_WORKERS` threads sharing one agent (so each
/// thread keeps its connection alive for the next HEAD); one URI runs on
/// this thread. The caller waits no longer than the deadline whatever
/// happens inside a request.
fn head_all(
    uris: &[Option<Uri>],
    route: &ProbeRoute,
    family: IpFamily,
    deadline: Instant,
) -> Vec<(ProbeAnswer, CacheCopy)> {
    let prober = Prober::new(route, family, &uris.iter().flatten().collect::<Vec<_>>());
    let ask = move |uri: &Option<Uri>| match uri {
        None => (ProbeAnswer::Unprobeable, CacheCopy::default()),
        Some(uri) => match prober.head(uri, deadline) {
            Ok((status, ranges, copy)) => (answer_for_status(status, ranges), copy),
            Err(_) => (ProbeAnswer::Unreachable, CacheCopy::default()),
        },
    };
    if uris.len() == 1 {
        return vec![ask(&uris[0])];
    }
    let uris: Arc<Vec<Option<Uri>>> = Arc::new(uris.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let ask = Arc::new(ask);
    let (tx, rx) = mpsc::channel();
    let work = {
        let (uris, next, ask) = (uris.clone(), next.clone(), ask.clone());
        move |tx: mpsc::Sender<(usize, (ProbeAnswer, CacheCopy))>| {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(uri) = uris.get(i) else { break };
                if tx.send((i, ask(uri))).is_err() {
                    break;
                }
            }
        }
    };
    let mut started = 0;
    for _ in 0..workers_for(uris.len()) {
        let (work, tx) = (work.clone(), tx.clone());
        // Detached on purpose: a request still stuck at the deadline is not
        // waited for (the thread ends with exec).
        if std::thread::Builder::new().spawn(move || work(tx)).is_err() {
            // No threads to be had (RLIMIT_NPROC, a container's pids.max).
            break;
        }
        started += 1;
    }
    if started == 0 {
        // Then this thread asks them all, one after another, still within
        // the one deadline (each request is bounded by it).
        work(tx.clone());
    }
    drop(tx);
    let mut answers = vec![(ProbeAnswer::Unreachable, CacheCopy::default()); uris.len()];
    let mut pending = uris.len();
    while pending > 0 {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok((i, a)) => {
                answers[i] = a;
                pending -= 1;
            }
            Err(_) => break,
        }
    }
    answers
}

/// An agent that never follows redirects, takes any status as an answer,
/// sends our User-Agent and nothing of the user's, and reaches the cache
/// host the way the real tool will.
struct Prober {
    agent: Agent,
    /// For the proxy, which consumes it: the real tool sends it there too.
    proxy_auth: Option<String>,
}

impl Prober {
    fn new(route: &ProbeRoute, family: IpFamily, uris: &[&Uri]) -> Prober {
        let first = uris.first().copied();
        let longest = uris.iter().map(|u| u.to_string().len()).max().unwrap_or(0);
        let output_buffer = (2 * longest + 1024).next_power_of_two();
        let builder = Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(USER_AGENT)
            .accept("*/*")
            // ureq would read the proxy variables itself; the route is ours.
            .proxy(None)
            // A HEAD's request and answer are a few hundred bytes; ureq's
            // default buffers (128 KiB each, zeroed) cost more than the round
            // trip. The request buffer fits the longest request line (twice
            // the URI: absolute form through a proxy); an answer head over
            // 8 KiB is not a cache host we trust.
            .input_buffer_size(8 * 1024)
            .output_buffer_size(output_buffer)
            .max_response_header_size(8 * 1024)
            // One HEAD needs no pool (and its liveness check on return);
            // several share kept-alive connections.
            .max_idle_connections(if uris.len() > 1 { MAX_WORKERS } else { 0 })
            // (ureq keeps 3 per host by default: the fourth worker would
            // reconnect for every HEAD.)
            .max_idle_connections_per_host(MAX_WORKERS)
            .ip_family(match family {
                IpFamily::Any => ureq::config::IpFamily::Any,
                IpFamily::V4Only => ureq::config::IpFamily::Ipv4Only,
                IpFamily::V6Only => ureq::config::IpFamily::Ipv6Only,
            });
        let https = first.is_some_and(|u| u.scheme_str() == Some("https"));
        let agent = match route {
            _ if https => https_agent(builder, route),
            ProbeRoute::Direct => Agent::with_parts(
                builder.build(),
                ureq::unversioned::transport::TcpConnector::default(),
                forward_proxy::LiteralFirst { via: None },
            ),
            ProbeRoute::HttpProxy(p) => forward_proxy::agent(builder.build(), p),
        };
        let proxy_auth = match route {
            ProbeRoute::HttpProxy(p) if !https => p.basic_auth.clone(),
            _ => None,
        };
        Prober { agent, proxy_auth }
    }

    /// Status code, whether `Accept-Ranges: bytes` was sent, and what the
    /// answer says of the copy.
    fn head(&self, uri: &Uri, deadline: Instant) -> Result<(u16, bool, CacheCopy), ureq::Error> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ureq::Error::Timeout(ureq::Timeout::Global));
        }
        let mut request = self.agent.head(uri);
        if let Some(auth) = &self.proxy_auth {
            request = request.header("Proxy-Authorization", format!("Basic {auth}"));
        }
        let response = request.config().timeout_global(Some(left)).build().call()?;
        let ranges = response
            .headers()
            .get_all("accept-ranges")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("bytes")));
        let headers = response.headers();
        let copy = CacheCopy::from_headers(
            CacheCopy::HEADERS
                .iter()
                .filter_map(|name| Some((*name, headers.get(*name)?.to_str().ok()?))),
        );
        Ok((response.status().as_u16(), ranges, copy))
    }
}

/// The status of one HEAD request (for `cacheshim doctor`), or why there was none.
pub fn head_status(
    url: &str,
    route: &ProbeRoute,
    timeout: Duration,
) -> Result<(u16, bool), String> {
    let deadline = Instant::now() + timeout;
    let uri = request_uri(url, TargetBytes::Escaped).ok_or("not a URL ureq can send")?;
    Prober::new(route, IpFamily::Any, &[&uri])
        .head(&uri, deadline)
        .map(|(status, ranges, _)| (status, ranges))
        .map_err(|e| match e {
            ureq::Error::Timeout(_) => "timed out".to_string(),
            e => e.to_string(),
        })
}

pub fn answer_for_status(status: u16, accepts_ranges: bool) -> ProbeAnswer {
    match status {
        200 => ProbeAnswer::Hit { accepts_ranges },
        400..=499 => ProbeAnswer::Miss,
        _ => ProbeAnswer::Unreachable,
    }
}

/// An https cache host is probed with the real tool (`tool_probe`); only
/// `doctor` may still ask here, and gets a plain TCP agent that cannot speak
/// TLS (an error, not a hit). ureq's default connector chain (CONNECT
/// proxies, TLS) stays out of the binary.
fn https_agent(
    builder: ureq::config::ConfigBuilder<ureq::typestate::AgentScope>,
    _route: &ProbeRoute,
) -> Agent {
    Agent::with_parts(
        builder.build(),
        ureq::unversioned::transport::TcpConnector::default(),
        forward_proxy::LiteralFirst { via: None },
    )
}

/// Absolute-form requests through a plain HTTP proxy, as curl and wget send
/// them: connect to the proxy, and put `http://authority` before the path on
/// the request line ureq writes. ureq's transport layer is pluggable; these
/// are its extension points (`ureq::unversioned`).
mod forward_proxy {
    use crate::route::HttpProxy;
    use std::net::{IpAddr, SocketAddr};
    use ureq::config::Config;
    use ureq::http::Uri;
    use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
    use ureq::unversioned::transport::{
        Buffers, ConnectionDetails, Connector, NextTimeout, TcpConnector, Transport,
    };
    use ureq::{Agent, Error};

    pub fn agent(config: Config, proxy: &HttpProxy) -> Agent {
        let via: Option<Uri> = format!("http://{}", authority(&proxy.host, proxy.port))
            .parse()
            .ok();
        Agent::with_parts(
            config,
            TcpConnector::default().chain(AbsoluteForm),
            LiteralFirst { via },
        )
    }

    fn authority(host: &str, port: u16) -> String {
        if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        }
    }

    /// Resolves `via` (the proxy) instead of the URI when set; an IP
    /// literal needs no lookup, and so no thread. Names go to ureq's own
    /// resolver, which bounds the lookup by the timeout with a thread.
    #[derive(Debug)]
    pub struct LiteralFirst {
        pub via: Option<Uri>,
    }

    impl Resolver for LiteralFirst {
        fn resolve(
            &self,
            uri: &Uri,
            config: &Config,
            timeout: NextTimeout,
        ) -> Result<ResolvedSocketAddrs, Error> {
            let uri = self.via.as_ref().unwrap_or(uri);
            let literal = uri.host().and_then(|h| {
                h.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .ok()
            });
            if let Some(ip) = literal {
                let wanted = match config.ip_family() {
                    ureq::config::IpFamily::Any => true,
                    ureq::config::IpFamily::Ipv4Only => ip.is_ipv4(),
                    ureq::config::IpFamily::Ipv6Only => ip.is_ipv6(),
                };
                if !wanted {
                    return Err(Error::HostNotFound);
                }
                let default_port = if uri.scheme_str() == Some("https") {
                    443
                } else {
                    80
                };
                let mut addrs = self.empty();
                addrs.push(SocketAddr::new(ip, uri.port_u16().unwrap_or(default_port)));
                return Ok(addrs);
            }
            bounded_lookup(uri, config, timeout)
        }
    }

    /// A name lookup bounded by the timeout on a thread of its own, as
    /// ureq's resolver does; but where no thread can be had (RLIMIT_NPROC, a
    /// container's pids.max) ureq's would panic, and this one looks the name
    /// up here instead, bounded by the C library's resolver timeouts.
    fn bounded_lookup(
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, Error> {
        use std::net::ToSocketAddrs;
        let scheme = uri.scheme().ok_or(Error::HostNotFound)?;
        let authority = uri.authority().ok_or(Error::HostNotFound)?;
        let addr = DefaultResolver::host_and_port(scheme, authority).ok_or(Error::HostNotFound)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let lookup = {
            let addr = addr.clone();
            move || {
                let _ = tx.send(addr.to_socket_addrs());
            }
        };
        let unbounded = timeout.after.is_not_happening();
        let found = match std::thread::Builder::new().spawn(lookup) {
            Ok(_) if unbounded => rx.recv().map_err(|_| Error::HostNotFound)?,
            Ok(_) => match rx.recv_timeout(*timeout.after) {
                Ok(found) => found,
                Err(_) => return Err(Error::Timeout(timeout.reason)),
            },
            Err(_) => addr.to_socket_addrs(),
        }?;
        let mut addrs = DefaultResolver::default().empty();
        for a in config.ip_family().keep_wanted(found).take(16) {
            addrs.push(a);
        }
        if addrs.is_empty() {
            Err(Error::HostNotFound)
        } else {
            Ok(addrs)
        }
    }

    /// Wraps the TCP connection to the proxy.
    #[derive(Debug)]
    struct AbsoluteForm;

    impl<In: Transport> Connector<In> for AbsoluteForm {
        type Out = AbsoluteFormTransport;

        fn connect(
            &self,
            details: &ConnectionDetails,
            chained: Option<In>,
        ) -> Result<Option<Self::Out>, Error> {
            let origin = format!(
                "{}://{}",
                details.uri.scheme_str().unwrap_or("http"),
                details
                    .uri
                    .authority()
                    .map(|a| a.as_str())
                    .unwrap_or_default()
            );
            Ok(chained.map(|inner| AbsoluteFormTransport {
                inner: inner.boxed(),
                origin,
            }))
        }
    }

    #[derive(Debug)]
    struct AbsoluteFormTransport {
        inner: Box<dyn Transport>,
        /// `http://authority` of the request's URI.
        origin: String,
    }

    impl Transport for AbsoluteFormTransport {
        fn buffers(&mut self) -> &mut dyn Buffers {
            self.inner.buffers()
        }

        fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
            let output = self.inner.buffers().output();
            // A HEAD has no body: every transmission is one request head,
            // `METHOD /path HTTP/1.1\r\n…`.
            let at = output[..amount]
                .iter()
                .position(|&b| b == b' ')
                .filter(|&i| output.get(i + 1) == Some(&b'/'));
            let Some(at) = at else {
                return self.inner.transmit_output(amount, timeout);
            };
            let total = amount + self.origin.len();
            if total > output.len() {
                return Err(Error::LargeResponseHeader(total, output.len()));
            }
            output.copy_within(at + 1..amount, at + 1 + self.origin.len());
            output[at + 1..at + 1 + self.origin.len()].copy_from_slice(self.origin.as_bytes());
            self.inner.transmit_output(total, timeout)
        }

        fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
            self.inner.await_input(timeout)
        }

        fn is_open(&mut self) -> bool {
            self.inner.is_open()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(
            answer_for_status(200, true),
            ProbeAnswer::Hit {
                accepts_ranges: true
            }
        );
        assert_eq!(answer_for_status(404, false), ProbeAnswer::Miss);
        assert_eq!(answer_for_status(410, false), ProbeAnswer::Miss);
        for s in [204, 206, 302, 500, 503] {
            assert_eq!(answer_for_status(s, false), ProbeAnswer::Unreachable, "{s}");
        }
    }

    #[test]
    fn request_targets_like_the_real_tools() {
        let url = "http://c:1/b/T/файл ü.bin";
        assert_eq!(
            request_uri(url, TargetBytes::Escaped).unwrap().to_string(),
            "http://c:1/b/T/%D1%84%D0%B0%D0%B9%D0%BB%20%C3%BC.bin"
        );
        // BusyBox would send these bytes raw: no URI carries them, so no probe.
        assert_eq!(request_uri(url, TargetBytes::Raw), None);
        assert_eq!(
            request_uri("http://c:1/b/T/a%20b{1}.tgz", TargetBytes::Escaped)
                .unwrap()
                .to_string(),
            "http://c:1/b/T/a%20b{1}.tgz"
        );
    }
}
