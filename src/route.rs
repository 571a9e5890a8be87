//! How the probe reaches the cache host: the same way the real tool will,
//! directly or through the same HTTP proxy, so a hit in the probe means the
//! real tool can fetch it too.

use crate::cache_url::{CacheServer, ServerScheme, host_text, with_default_scheme};
use crate::env_view::EnvView;
use crate::tool::Tool;
use base64::Engine as _;
use percent_encoding::percent_decode_str;
use url::Url;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeRoute {
    Direct,
    HttpProxy(HttpProxy),
}

impl ProbeRoute {
    /// The server and the way to it: the dead-cache memory's key.
    pub fn key(&self, server_base: &str) -> String {
        match self {
            ProbeRoute::Direct => server_base.to_string(),
            ProbeRoute::HttpProxy(p) => format!("{server_base} via {}", p.shown()),
        }
    }
}

/// Which addresses the real tool may connect to (`-4`/`-6`): the probe
/// keeps to the same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IpFamily {
    #[default]
    Any,
    V4Only,
    V6Only,
}

/// A plain HTTP proxy, as the real tool will use it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpProxy {
    /// Without brackets.
    pub host: String,
    pub port: u16,
    /// `Proxy-Authorization: Basic` value, from the proxy URL's user:password.
    pub basic_auth: Option<String>,
}

impl HttpProxy {
    /// `http://host:port` (never the credentials): for messages.
    pub fn shown(&self) -> String {
        if self.host.contains(':') {
            format!("http://[{}]:{}", self.host, self.port)
        } else {
            format!("http://{}:{}", self.host, self.port)
        }
    }
}

/// What the command line (and wgetrc) said about proxies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyOverrides {
    /// curl `-x VALUE` / wgetrc `http_proxy`: last one wins; empty disables.
    pub proxy: Option<Vec<u8>>,
    /// curl `--noproxy LIST` (replaces the environment's).
    pub no_proxy: Option<Vec<u8>>,
    /// wgetrc `no_proxy` lines in order: each adds to the environment's
    /// list, an empty one clears it (wget's cmd_vector).
    pub wgetrc_no_proxy: Vec<Vec<u8>>,
    /// wget `--no-proxy` / `use_proxy = off`.
    pub disabled: bool,
    /// BusyBox wget reads no `no_proxy` (its `wget.c` has none).
    pub ignores_no_proxy: bool,
    /// curl `-U user:password`, wget `--proxy-user`: beats the proxy URL's.
    pub user: Option<Vec<u8>>,
    /// wget `--proxy-password`.
    pub password: Option<Vec<u8>>,
}

/// Err carries a short description of a proxy the probe cannot use.
pub fn probe_route(
    tool: Tool,
    server: &CacheServer,
    overrides: &ProxyOverrides,
    env: &dyn EnvView,
) -> Result<ProbeRoute, String> {
    if overrides.disabled {
        return Ok(ProbeRoute::Direct);
    }
    let bypassed = match tool {
        _ if overrides.ignores_no_proxy => false,
        Tool::Curl => match &overrides.no_proxy {
            Some(v) => curl_no_proxy_matches(&server.host, &String::from_utf8_lossy(v)),
            None => env_no_proxy(tool, env)
                .is_some_and(|list| curl_no_proxy_matches(&server.host, &list)),
        },
        Tool::Wget => {
            let mut list = env_no_proxy(tool, env)
                .map(|v| wget_list(v.as_bytes()))
                .unwrap_or_default();
            for v in &overrides.wgetrc_no_proxy {
                if v.is_empty() {
                    list.clear();
                } else {
                    list.extend(wget_list(v));
                }
            }
            wget_no_proxy_matches(&server.host, &list)
        }
    };
    if bypassed {
        return Ok(ProbeRoute::Direct);
    }
    let proxy = match &overrides.proxy {
        Some(v) => Some(String::from_utf8_lossy(v).into_owned()),
        None => env_proxy(tool, server.scheme, env),
    };
    match proxy {
        None => Ok(ProbeRoute::Direct),
        Some(p) if p.trim().is_empty() => Ok(ProbeRoute::Direct),
        Some(p) => {
            let mut proxy = http_proxy(p.trim(), default_proxy_port(tool))?;
            // Proxy credentials go to the proxy with the probe, Basic and at
            // once, as both tools send them (never to the cache host).
            if let Some(user) = &overrides.user {
                let mut pair = user.clone();
                if let Some(pw) = &overrides.password {
                    pair.push(b':');
                    pair.extend(pw);
                } else if !pair.contains(&b':') {
                    pair.push(b':');
                }
                proxy.basic_auth = Some(base64::engine::general_purpose::STANDARD.encode(pair));
            }
            Ok(ProbeRoute::HttpProxy(proxy))
        }
    }
}

/// curl ignores upper-case `HTTP_PROXY` (CGI's `Proxy:` header problem); wget
/// reads only the lower-case names. curl falls back to `ALL_PROXY`.
fn env_proxy(tool: Tool, scheme: ServerScheme, env: &dyn EnvView) -> Option<String> {
    let names: &[&str] = match (tool, scheme) {
        (Tool::Curl, ServerScheme::Http) => &["http_proxy", "all_proxy", "ALL_PROXY"],
        (Tool::Curl, ServerScheme::Https) => {
            &["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]
        }
        (Tool::Wget, ServerScheme::Http) => &["http_proxy"],
        (Tool::Wget, ServerScheme::Https) => &["https_proxy"],
    };
    names.iter().find_map(|n| env.non_empty_str(n))
}

fn env_no_proxy(tool: Tool, env: &dyn EnvView) -> Option<String> {
    let names: &[&str] = match tool {
        Tool::Curl => &["no_proxy", "NO_PROXY"],
        Tool::Wget => &["no_proxy"],
    };
    names.iter().find_map(|n| env.non_empty_str(n))
}

/// curl's rule (lib/noproxy.c, Curl_check_noproxy, 7.88.1), byte for byte:
/// `*` matches every host only as the whole value (`" *"` does not);
/// entries are separated by blanks and commas; an IPv4 host is compared
/// with each entry as an address, with an optional `/bits` read by `atoi`
/// (`/8x` is 8, `/-1` and `/33` never match, none or `/0` or `/32` is the
/// exact address); any other host (IPv6 too: curl holds it without
/// brackets) by name, ignoring one trailing dot on both and one leading dot
/// on the entry, as the same name or a name below it, ignoring ASCII case.
pub fn curl_no_proxy_matches(host: &str, list: &str) -> bool {
    let (name, list) = (host.as_bytes(), list.as_bytes());
    if name.is_empty() || list.is_empty() {
        return false;
    }
    if list == b"*" {
        return true;
    }
    let v4 = host.parse::<std::net::Ipv4Addr>().ok();
    let name = match v4 {
        Some(_) => name,
        None => name.strip_suffix(b".").unwrap_or(name),
    };
    list.split(|&b| b == b' ' || b == b'\t' || b == b',')
        .filter(|t| !t.is_empty())
        .any(|token| match v4 {
            Some(ip) => curl_cidr4_match(ip, token),
            None => {
                let token = token.strip_suffix(b".").unwrap_or(token);
                let token = token.strip_prefix(b".").unwrap_or(token);
                if token.len() == name.len() {
                    token.eq_ignore_ascii_case(name)
                } else if token.len() < name.len() {
                    let at = name.len() - token.len();
                    name[at - 1] == b'.' && name[at..].eq_ignore_ascii_case(token)
                } else {
                    false
                }
            }
        })
}

/// `Curl_cidr4_match(host, entry-before-slash, atoi(after-slash))`.
fn curl_cidr4_match(ip: std::net::Ipv4Addr, token: &[u8]) -> bool {
    if token.len() >= 128 {
        return false;
    }
    let (net, bits) = match token.iter().position(|&b| b == b'/') {
        Some(at) => (&token[..at], c_atoi_unsigned(&token[at + 1..])),
        None => (token, 0),
    };
    if bits > 32 {
        return false;
    }
    let Some(net) = std::str::from_utf8(net)
        .ok()
        .and_then(|n| n.parse::<std::net::Ipv4Addr>().ok())
    else {
        return false;
    };
    if bits != 0 && bits != 32 {
        let mask = u32::MAX << (32 - bits);
        return (u32::from(ip) ^ u32::from(net)) & mask == 0;
    }
    ip == net
}

/// C's `atoi` stored in an `unsigned int`: leading white space, a sign,
/// digits up to the first other byte; a negative number wraps (so never
/// a valid mask length).
fn c_atoi_unsigned(s: &[u8]) -> u64 {
    let s = s.trim_ascii_start();
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: u64 = 0;
    for &d in digits.iter().take_while(|d| d.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(u64::from(d - b'0'));
    }
    match (negative, n) {
        (true, 0) => 0,
        (true, _) => u64::MAX,
        _ => n,
    }
}

/// wget's list (src/utils.c, sepstring, 1.21.3): split at each comma; the
/// blanks after a comma are skipped, nothing else is trimmed (a leading
/// blank stays part of the first entry); empty entries are kept.
pub fn wget_list(value: &[u8]) -> Vec<Vec<u8>> {
    if value.is_empty() {
        return Vec::new();
    }
    let mut entries = Vec::new();
    let mut rest = value;
    loop {
        match rest.iter().position(|&b| b == b',') {
            Some(at) => {
                entries.push(rest[..at].to_vec());
                rest = &rest[at + 1..];
                let blanks = rest
                    .iter()
                    .take_while(|b| b.is_ascii_whitespace() || **b == 0x0b)
                    .count();
                rest = &rest[blanks..];
            }
            None => {
                entries.push(rest.to_vec());
                return entries;
            }
        }
    }
}

/// wget's rule (src/host.c, sufmatch, 1.21.3): an entry matches when the
/// host ends with it, ignoring ASCII case, and the host is the entry, or the
/// byte before is a dot, or the entry starts with a dot. No `*`, no CIDR.
pub fn wget_no_proxy_matches(host: &str, entries: &[Vec<u8>]) -> bool {
    let host = host.as_bytes();
    entries.iter().any(|entry| {
        if entry.len() > host.len() {
            return false;
        }
        let at = host.len() - entry.len();
        host[at..].eq_ignore_ascii_case(entry)
            && (at == 0 || host[at - 1] == b'.' || entry.first() == Some(&b'.'))
    })
}

/// A proxy given without a port: curl uses 1080, wget the http default.
fn default_proxy_port(tool: Tool) -> u16 {
    match tool {
        Tool::Curl => 1080,
        Tool::Wget => 80,
    }
}

/// Only plain HTTP proxies can carry the probe (no TLS, no SOCKS). A proxy
/// without a scheme is http, as to both tools.
fn http_proxy(p: &str, default_port: u16) -> Result<HttpProxy, String> {
    let text = with_default_scheme(p);
    let url = Url::parse(&text).map_err(|e| format!("proxy {p:?}: {e}"))?;
    if url.scheme() != "http" {
        return Err(format!("{} proxy", url.scheme()));
    }
    let host = url.host().ok_or("proxy without a host")?;
    let basic_auth = (!url.username().is_empty() || url.password().is_some()).then(|| {
        // The tools decode %XX in the proxy's user and password.
        let decode = |s: &str| percent_decode_str(s).collect::<Vec<u8>>();
        let mut pair = decode(url.username());
        pair.push(b':');
        pair.extend(decode(url.password().unwrap_or_default()));
        base64::engine::general_purpose::STANDARD.encode(pair)
    });
    Ok(HttpProxy {
        host: host_text(host),
        port: written_port(&text).unwrap_or(default_port),
        basic_auth,
    })
}

/// The port written in an http URL, if any. `url` drops a port equal to the
/// scheme's default, but a proxy's default port is the tool's own (curl
/// 1080), so ask twice: a port written as 80 shows under https, 443 under http.
fn written_port(http_url: &str) -> Option<u16> {
    let as_https = format!("https{}", http_url.get(4..)?);
    Url::parse(http_url)
        .ok()?
        .port()
        .or_else(|| Url::parse(&as_https).ok()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env_view::MapEnv;

    fn env(pairs: &[(&str, &str)]) -> MapEnv {
        MapEnv::from_pairs(pairs)
    }

    #[test]
    fn busybox_wget_reads_no_no_proxy() {
        let e = env(&[("http_proxy", "p:3128"), ("no_proxy", "cache.lab")]);
        let busybox = ProxyOverrides {
            ignores_no_proxy: true,
            ..Default::default()
        };
        assert_eq!(
            probe_route(Tool::Wget, &server(), &busybox, &e),
            Ok(ProbeRoute::HttpProxy(proxy("p", 3128, None)))
        );
    }

    #[test]
    fn no_proxy_as_curl_reads_it() {
        let m = curl_no_proxy_matches;
        // Only the whole value `*` (strcmp): with blanks it is a name that
        // matches nothing (real curl 7.88 uses the proxy; issue 14 changed
        // this expectation, tests/no_proxy_differential.rs shows it).
        assert!(!m("cache.lab", " * "));
        assert!(m("cache.lab", "*"));
        assert!(!m("127.0.0.1", "127.0.0.1/33"));
        assert!(!m("127.0.0.1", "127.0.0.1/-1"));
        assert!(m("127.0.0.1", "127.0.0.0/8x"));
        assert!(m("127.0.0.1", "127.0.0.1/32"));
        assert!(!m("127.0.0.1", "127.0.0.0/0"));
        // `*` inside a list, `*.x`: nothing special.
        assert!(!m("cache.localhost", "*.localhost"));
        assert!(!m("cache.lab", "x.com, *"));
        assert!(m("cache.lab", "x.com, .lab"));
        assert!(m("lab", ".lab"));
        assert!(m("cache.lab.", "LAB."));
        assert!(m("cache.lab", "x.com lab"));
        assert!(!m("cache.lab", "ache.lab"));
        assert!(m("10.1.2.3", "10.0.0.0/8"));
        assert!(!m("10.1.2.3", "10.1.2.0/32"));
        assert!(m("10.1.2.3", "10.1.2.3"));
        assert!(!m("10.1.2.3", "2.3"));
        assert!(m("::1", "::1"));
        assert!(!m("::1", "[::1]"));
    }

    #[test]
    fn no_proxy_as_wget_reads_it() {
        let m = |host: &str, v: &str| wget_no_proxy_matches(host, &wget_list(v.as_bytes()));
        // A leading blank stays part of the first entry; blanks after a comma go.
        assert!(!m("127.0.0.1", " 127.0.0.1"));
        assert!(m("127.0.0.1", "x, 127.0.0.1"));
        assert!(!m("127.0.0.1", "127.0.0.1 "));
        assert_eq!(
            wget_list(b"a,, b"),
            vec![b"a".to_vec(), vec![], b"b".to_vec()]
        );
        assert!(!m("cache.lab", "*"));
        assert!(!m("cache.localhost", "*.localhost"));
        assert!(m("cache.lab", "x.com, lab"));
        assert!(m("cache.lab", ".lab"));
        assert!(!m("lab", ".lab"));
        assert!(m("10.1.2.3", "2.3"));
        assert!(!m("cache.lab", "x.com lab"));
        assert!(!m("cache.lab", "ache.lab"));
    }

    fn proxy(host: &str, port: u16, basic_auth: Option<&str>) -> HttpProxy {
        HttpProxy {
            host: host.into(),
            port,
            basic_auth: basic_auth.map(String::from),
        }
    }

    #[test]
    fn proxy_urls() {
        // A written port is kept even when it is the scheme's default.
        assert_eq!(http_proxy("http://p:80", 1080), Ok(proxy("p", 80, None)));
        assert_eq!(http_proxy("p:443", 1080), Ok(proxy("p", 443, None)));
        assert_eq!(http_proxy("[::1]:3128", 1080), Ok(proxy("::1", 3128, None)));
        // "u:p w" -> dTpwIHc=
        assert_eq!(
            http_proxy("http://u:p%20w@P:3128/", 1080),
            Ok(proxy("p", 3128, Some("dTpwIHc=")))
        );
        assert!(http_proxy("socks5://p:1080", 1080).is_err());
        assert!(http_proxy("https://p:443", 1080).is_err());
        assert!(http_proxy("http://:3128", 1080).is_err());
    }

    fn server() -> CacheServer {
        CacheServer::parse("cache.lab:8081").unwrap()
    }

    #[test]
    fn curl_uses_lowercase_http_proxy_only() {
        let none = ProxyOverrides::default();
        let e = env(&[("HTTP_PROXY", "http://p:3128")]);
        assert_eq!(
            probe_route(Tool::Curl, &server(), &none, &e),
            Ok(ProbeRoute::Direct)
        );
        let e = env(&[("http_proxy", "p:3128")]);
        assert_eq!(
            probe_route(Tool::Curl, &server(), &none, &e),
            Ok(ProbeRoute::HttpProxy(proxy("p", 3128, None)))
        );
        let e = env(&[("http_proxy", "http://u:p@p/")]);
        assert_eq!(
            probe_route(Tool::Curl, &server(), &none, &e),
            Ok(ProbeRoute::HttpProxy(proxy("p", 1080, Some("dTpw"))))
        );
        assert_eq!(
            probe_route(Tool::Wget, &server(), &none, &e),
            Ok(ProbeRoute::HttpProxy(proxy("p", 80, Some("dTpw"))))
        );
        let e = env(&[("ALL_PROXY", "socks5://p:1080")]);
        assert!(probe_route(Tool::Curl, &server(), &none, &e).is_err());
    }

    #[test]
    fn no_proxy_and_overrides() {
        let e = env(&[("http_proxy", "p:3128"), ("no_proxy", "localhost,.lab")]);
        let none = ProxyOverrides::default();
        assert_eq!(
            probe_route(Tool::Wget, &server(), &none, &e),
            Ok(ProbeRoute::Direct)
        );
        let x = ProxyOverrides {
            proxy: Some(b"".to_vec()),
            ..Default::default()
        };
        let e = env(&[("http_proxy", "p:3128")]);
        assert_eq!(
            probe_route(Tool::Curl, &server(), &x, &e),
            Ok(ProbeRoute::Direct)
        );
        let off = ProxyOverrides {
            disabled: true,
            ..Default::default()
        };
        assert_eq!(
            probe_route(Tool::Wget, &server(), &off, &e),
            Ok(ProbeRoute::Direct)
        );
        assert!(curl_no_proxy_matches("cache.lab", "*"));
        assert!(!curl_no_proxy_matches("notlab", "lab"));
    }
}
