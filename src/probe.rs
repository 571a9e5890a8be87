//! One HEAD per candidate, all at once, none following redirects, all bounded
//! by one deadline. 200 = hit; 4xx = miss; anything else (refused, timeout,
//! 3xx, 5xx, garbage, oversized headers) = unreachable.
//!
//! For an http cache host this is a small HTTP/1.1 client of our own: through
//! an HTTP proxy it sends the absolute-form request curl and wget send
//! (`HEAD http://cache/… HTTP/1.1`), where ureq would tunnel with CONNECT, a
//! method many proxies only allow to port 443. Each probe runs on its own
//! thread and the caller waits only until the deadline, so even a DNS lookup
//! that hangs cannot make the shim wait longer (the thread dies with exec).
//! An https cache host needs the `tls` feature (ureq with rustls; curl also
//! uses CONNECT for https).

use crate::planner::{Prepared, ProbeAnswer};
use crate::route::ProbeRoute;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const USER_AGENT: &str = concat!("cacheshim/", env!("CARGO_PKG_VERSION"));

/// How the real tool puts a URL's bytes on the request line; the probe does
/// the same, so a server that rejects one rejects the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetBytes {
    /// curl and GNU wget: spaces, controls and non-ASCII bytes as `%XX`.
    Escaped,
    /// BusyBox wget: as written.
    Raw,
}

/// The request target as the real tool would send it.
pub fn request_target(url_part: &str, bytes: TargetBytes) -> String {
    match bytes {
        TargetBytes::Raw => url_part.to_string(),
        TargetBytes::Escaped => {
            let mut out = String::with_capacity(url_part.len());
            for &b in url_part.as_bytes() {
                if b <= b' ' || b >= 0x7f {
                    out.push_str(&format!("%{b:02X}"));
                } else {
                    out.push(b as char);
                }
            }
            out
        }
    }
}

/// Headers larger than this are not a cache host we want to trust.
const MAX_HEADER_BYTES: usize = 64 * 1024;

pub fn probe_all(prepared: &Prepared, timeout: Duration, bytes: TargetBytes) -> Vec<ProbeAnswer> {
    let deadline = Instant::now() + timeout;
    let urls: Vec<String> = prepared
        .candidates
        .iter()
        .map(|c| c.cache_url.clone())
        .collect();
    let mut unique = urls.clone();
    unique.sort_unstable();
    unique.dedup();
    let route = &prepared.route;
    let answers = if unique.iter().any(|u| u.starts_with("https://")) {
        in_parallel(&unique, route, deadline, bytes, (0..unique.len()).collect())
    } else {
        pipelined_then_parallel(&unique, route, deadline, bytes)
    };
    urls.iter()
        .map(|u| answers[unique.binary_search(u).expect("deduplicated from urls")])
        .collect()
}

/// All HEADs on one keep-alive connection (every candidate is on the same
/// cache host), read back in order; whatever that connection did not answer
/// (a server that closes after one response, or mangles pipelining) is asked
/// again on connections of its own, within the same deadline. Connecting to
/// an IP address needs no DNS, so it runs without a thread.
fn pipelined_then_parallel(
    urls: &[String],
    route: &ProbeRoute,
    deadline: Instant,
    bytes: TargetBytes,
) -> Vec<ProbeAnswer> {
    let Some(first) = Target::new(&urls[0], route, bytes) else {
        return vec![ProbeAnswer::Unreachable; urls.len()];
    };
    let got: Option<Result<Vec<Option<ProbeAnswer>>, ()>> =
        if first.connect_host.parse::<std::net::IpAddr>().is_ok() {
            Some(pipelined(urls, route, deadline, bytes))
        } else {
            let (tx, rx) = mpsc::channel();
            let (owned, route2) = (urls.to_vec(), route.clone());
            // Detached on purpose: a lookup still stuck at the deadline is not waited for.
            std::thread::spawn(move || {
                let _ = tx.send(pipelined(&owned, &route2, deadline, bytes));
            });
            rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .ok()
        };
    match got {
        // Could not connect at all, or no answer in time: nothing to retry.
        None | Some(Err(())) => vec![ProbeAnswer::Unreachable; urls.len()],
        Some(Ok(answers)) => {
            let missing: Vec<usize> = (0..urls.len()).filter(|&i| answers[i].is_none()).collect();
            let retried = if missing.is_empty() {
                Vec::new()
            } else {
                in_parallel(urls, route, deadline, bytes, missing.clone())
            };
            let mut out: Vec<ProbeAnswer> = answers
                .into_iter()
                .map(|a| a.unwrap_or(ProbeAnswer::Unreachable))
                .collect();
            for (i, a) in missing.into_iter().zip(retried) {
                out[i] = a;
            }
            out
        }
    }
}

/// One connection per URL in `which`, each on its own thread.
fn in_parallel(
    urls: &[String],
    route: &ProbeRoute,
    deadline: Instant,
    bytes: TargetBytes,
    which: Vec<usize>,
) -> Vec<ProbeAnswer> {
    let (tx, rx) = mpsc::channel();
    for (slot, &i) in which.iter().enumerate() {
        let tx = tx.clone();
        let url = urls[i].clone();
        let route = route.clone();
        std::thread::spawn(move || {
            let _ = tx.send((slot, head(&url, &route, deadline, bytes)));
        });
    }
    drop(tx);
    let mut answers = vec![ProbeAnswer::Unreachable; which.len()];
    let mut pending = which.len();
    while pending > 0 {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok((slot, a)) => {
                answers[slot] = a;
                pending -= 1;
            }
            Err(_) => break,
        }
    }
    answers
}

/// `Err` when no connection could be made; otherwise one entry per URL,
/// `None` where the connection ended before its answer.
fn pipelined(
    urls: &[String],
    route: &ProbeRoute,
    deadline: Instant,
    bytes: TargetBytes,
) -> Result<Vec<Option<ProbeAnswer>>, ()> {
    let targets: Vec<Target> = urls
        .iter()
        .map(|u| Target::new(u, route, bytes))
        .collect::<Option<_>>()
        .ok_or(())?;
    let stream =
        connect(&targets[0].connect_host, targets[0].connect_port, deadline).map_err(|_| ())?;
    let mut requests = String::new();
    for (i, t) in targets.iter().enumerate() {
        requests.push_str(&t.request(i + 1 == targets.len()));
    }
    let mut answers = vec![None; urls.len()];
    let mut reader = HeadReader::new(stream);
    let sent = remaining(deadline)
        .and_then(|left| reader.stream.set_write_timeout(Some(left)))
        .and_then(|()| reader.stream.write_all(requests.as_bytes()));
    if sent.is_err() {
        return Ok(answers);
    }
    for slot in answers.iter_mut() {
        let Ok(head) = reader.next_head(deadline) else {
            break;
        };
        let Some(answer) = parse_head(&head) else {
            break;
        };
        *slot = Some(answer);
        if closes_connection(&head) {
            break;
        }
    }
    Ok(answers)
}

/// `Connection: close` in a response head: no more answers on this connection.
fn closes_connection(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    text.starts_with("http/1.0")
        || text.split("\r\n").any(|l| {
            l.split_once(':')
                .is_some_and(|(k, v)| k.trim() == "connection" && v.contains("close"))
        })
}

/// Where one probe connects and what it sends.
struct Target {
    connect_host: String,
    connect_port: u16,
    authority: String,
    request_target: String,
    proxy_auth: Option<String>,
}

impl Target {
    fn new(url: &str, route: &ProbeRoute, bytes: TargetBytes) -> Option<Target> {
        let (authority, host, port, path) = split_http_url(url)?;
        Some(match route {
            ProbeRoute::Direct => Target {
                connect_host: host,
                connect_port: port,
                authority: authority.to_string(),
                request_target: request_target(path, bytes),
                proxy_auth: None,
            },
            ProbeRoute::HttpProxy(proxy) => {
                let p = proxy
                    .strip_prefix("http://")
                    .unwrap_or(proxy)
                    .trim_end_matches('/');
                let (userinfo, hostport) = match p.rsplit_once('@') {
                    Some((u, h)) => (Some(u), h),
                    None => (None, p),
                };
                let (ph, pp) = split_host_port(hostport, 1080)?;
                Target {
                    connect_host: ph,
                    connect_port: pp,
                    authority: authority.to_string(),
                    // Absolute form, as curl and wget send through a proxy.
                    request_target: request_target(url, bytes),
                    proxy_auth: userinfo.map(basic_auth),
                }
            }
        })
    }

    fn request(&self, last: bool) -> String {
        let mut r = format!(
            "HEAD {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {USER_AGENT}\r\nAccept: */*\r\n",
            self.request_target, self.authority
        );
        if last {
            r.push_str("Connection: close\r\n");
        }
        if let Some(auth) = &self.proxy_auth {
            r.push_str(&format!("Proxy-Authorization: Basic {auth}\r\n"));
        }
        r.push_str("\r\n");
        r
    }
}

/// Reads response heads one after another from one connection.
struct HeadReader {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl HeadReader {
    fn new(stream: TcpStream) -> HeadReader {
        HeadReader {
            stream,
            buf: Vec::with_capacity(1024),
        }
    }

    /// The next head (up to the blank line); what follows stays buffered.
    fn next_head(&mut self, deadline: Instant) -> std::io::Result<Vec<u8>> {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = self.buf[..end].to_vec();
                self.buf.drain(..end + 4);
                return Ok(head);
            }
            if self.buf.len() > MAX_HEADER_BYTES {
                return Err(std::io::ErrorKind::InvalidData.into());
            }
            self.stream.set_read_timeout(Some(remaining(deadline)?))?;
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn head(url: &str, route: &ProbeRoute, deadline: Instant, bytes: TargetBytes) -> ProbeAnswer {
    if url.starts_with("https://") {
        return https_head(url, route, deadline);
    }
    match http_head(url, route, deadline, bytes) {
        Ok(answer) => answer,
        Err(_) => ProbeAnswer::Unreachable,
    }
}

/// Splits `http://authority/path` into (authority, host, port, path).
fn split_http_url(url: &str) -> Option<(&str, String, u16, &str)> {
    let rest = url.strip_prefix("http://")?;
    let slash = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(slash);
    let (host, port) = split_host_port(authority, 80)?;
    Some((
        authority,
        host,
        port,
        if path.is_empty() { "/" } else { path },
    ))
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
pub fn split_host_port(authority: &str, default_port: u16) -> Option<(String, u16)> {
    if let Some(inner) = authority.strip_prefix('[') {
        let close = inner.find(']')?;
        let port = match &inner[close + 1..] {
            "" => default_port,
            p => p.strip_prefix(':')?.parse().ok()?,
        };
        return Some((inner[..close].to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None => Some((authority.to_string(), default_port)),
    }
}

/// The status of one HEAD request (for `cacheshim doctor`), or why there was none.
pub fn head_status(
    url: &str,
    route: &ProbeRoute,
    timeout: Duration,
) -> Result<(u16, bool), String> {
    let deadline = Instant::now() + timeout;
    if url.starts_with("https://") {
        return Err("https needs the tls build".into());
    }
    let head =
        http_head_raw(url, route, deadline, TargetBytes::Escaped).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                "timed out".to_string()
            }
            _ => e.to_string(),
        })?;
    parse_status(&head).ok_or_else(|| "not an HTTP answer".to_string())
}

fn http_head(
    url: &str,
    route: &ProbeRoute,
    deadline: Instant,
    bytes: TargetBytes,
) -> std::io::Result<ProbeAnswer> {
    let head = http_head_raw(url, route, deadline, bytes)?;
    parse_head(&head).ok_or_else(|| std::io::ErrorKind::InvalidData.into())
}

fn http_head_raw(
    url: &str,
    route: &ProbeRoute,
    deadline: Instant,
    bytes: TargetBytes,
) -> std::io::Result<Vec<u8>> {
    let t = Target::new(url, route, bytes).ok_or(std::io::ErrorKind::InvalidInput)?;
    let stream = connect(&t.connect_host, t.connect_port, deadline)?;
    let mut reader = HeadReader::new(stream);
    reader
        .stream
        .set_write_timeout(Some(remaining(deadline)?))?;
    reader.stream.write_all(t.request(true).as_bytes())?;
    reader.next_head(deadline)
}

fn remaining(deadline: Instant) -> std::io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(std::io::ErrorKind::TimedOut.into())
    } else {
        Ok(left)
    }
}

fn connect(host: &str, port: u16, deadline: Instant) -> std::io::Result<TcpStream> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    let mut last = std::io::Error::from(std::io::ErrorKind::NotFound);
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, remaining(deadline)?) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Status line and `Accept-Ranges` of a response head, as a probe answer.
pub fn parse_head(head: &[u8]) -> Option<ProbeAnswer> {
    parse_status(head).map(|(status, ranges)| answer_for_status(status, ranges))
}

/// Status code and whether `Accept-Ranges: bytes` was sent.
fn parse_status(head: &[u8]) -> Option<(u16, bool)> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    let status: u16 = code.parse().ok()?;
    let accepts_ranges = lines.any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("accept-ranges")
                && v.split(',').any(|t| t.trim().eq_ignore_ascii_case("bytes"))
        })
    });
    Some((status, accepts_ranges))
}

pub fn answer_for_status(status: u16, accepts_ranges: bool) -> ProbeAnswer {
    match status {
        200 => ProbeAnswer::Hit { accepts_ranges },
        400..=499 => ProbeAnswer::Miss,
        _ => ProbeAnswer::Unreachable,
    }
}

/// `user:pass` as written in a proxy URL (percent-escapes decoded), base64.
fn basic_auth(userinfo: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .encode(crate::cache_url::percent_decode(userinfo.as_bytes()))
}

#[cfg(feature = "tls")]
fn https_head(url: &str, route: &ProbeRoute, deadline: Instant) -> ProbeAnswer {
    let proxy = match route {
        ProbeRoute::Direct => None,
        ProbeRoute::HttpProxy(p) => match ureq::Proxy::new(p) {
            Ok(p) => Some(p),
            Err(_) => return ProbeAnswer::Unreachable,
        },
    };
    let Ok(left) = remaining(deadline) else {
        return ProbeAnswer::Unreachable;
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(left))
        .max_redirects(0)
        .http_status_as_error(false)
        .user_agent(USER_AGENT)
        .proxy(proxy)
        .build()
        .into();
    match agent.head(url).call() {
        Ok(resp) => {
            let ranges = resp
                .headers()
                .get("accept-ranges")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("bytes")));
            answer_for_status(resp.status().as_u16(), ranges)
        }
        Err(_) => ProbeAnswer::Unreachable,
    }
}

#[cfg(not(feature = "tls"))]
fn https_head(_url: &str, _route: &ProbeRoute, _deadline: Instant) -> ProbeAnswer {
    // The planner passes https servers through in this build; never reached.
    ProbeAnswer::Unreachable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_and_ranges() {
        let hit = ProbeAnswer::Hit {
            accepts_ranges: false,
        };
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 3"),
            Some(hit)
        );
        assert_eq!(
            parse_head(b"HTTP/1.0 200 OK\r\naccept-ranges: none, Bytes"),
            Some(ProbeAnswer::Hit {
                accepts_ranges: true
            })
        );
        assert_eq!(
            parse_head(b"HTTP/1.1 404 Not Found"),
            Some(ProbeAnswer::Miss)
        );
        assert_eq!(parse_head(b"HTTP/1.1 410 Gone"), Some(ProbeAnswer::Miss));
        assert_eq!(
            parse_head(b"HTTP/1.1 302 Found\r\nLocation: /x"),
            Some(ProbeAnswer::Unreachable)
        );
        assert_eq!(
            parse_head(b"HTTP/1.1 503 Busy"),
            Some(ProbeAnswer::Unreachable)
        );
        assert_eq!(parse_head(b"SSH-2.0-OpenSSH_9.2"), None);
        assert_eq!(parse_head(b"HTTP/1.1 20 OK"), None);
        assert_eq!(parse_head(b"\xff\xfe"), None);
    }

    #[test]
    fn request_targets_like_the_real_tools() {
        let p = "/b/T/файл ü.bin";
        assert_eq!(
            request_target(p, TargetBytes::Escaped),
            "/b/T/%D1%84%D0%B0%D0%B9%D0%BB%20%C3%BC.bin"
        );
        assert_eq!(request_target(p, TargetBytes::Raw), p);
        assert_eq!(
            request_target("/b/T/a%20b{1}.tgz", TargetBytes::Escaped),
            "/b/T/a%20b{1}.tgz"
        );
    }

    #[test]
    fn authorities() {
        assert_eq!(split_host_port("h", 80), Some(("h".into(), 80)));
        assert_eq!(split_host_port("h:8081", 80), Some(("h".into(), 8081)));
        assert_eq!(
            split_host_port("[::1]:8081", 80),
            Some(("::1".into(), 8081))
        );
        assert_eq!(split_host_port("[::1]", 80), Some(("::1".into(), 80)));
        assert_eq!(split_host_port("h:x", 80), None);
        assert_eq!(
            split_http_url("http://[::1]:9/b/t/f.tgz"),
            Some(("[::1]:9", "::1".into(), 9, "/b/t/f.tgz"))
        );
    }

    #[test]
    fn proxy_credentials_are_decoded_before_encoding() {
        // "u:p w" -> dTpwIHc=
        assert_eq!(basic_auth("u:p%20w"), "dTpwIHc=");
        assert_eq!(basic_auth("u:p"), "dTpw");
    }
}
