//! How the probe reaches the cache host: the same way the real tool will,
//! directly or through the same HTTP proxy, so a hit in the probe means the
//! real tool can fetch it too.

use crate::cache_url::{CacheServer, ServerScheme};
use crate::env_view::EnvView;
use crate::tool::Tool;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeRoute {
    Direct,
    /// `http://[user:pass@]host:port`
    HttpProxy(String),
}

/// What the command line (and wgetrc) said about proxies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyOverrides {
    /// curl `-x VALUE` / wgetrc `http_proxy`: last one wins; empty disables.
    pub proxy: Option<Vec<u8>>,
    /// curl `--noproxy LIST` / wgetrc `no_proxy`.
    pub no_proxy: Option<Vec<u8>>,
    /// wget `--no-proxy` / `use_proxy = off`.
    pub disabled: bool,
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
    let no_proxy = match &overrides.no_proxy {
        Some(v) => Some(String::from_utf8_lossy(v).into_owned()),
        None => env_no_proxy(tool, env),
    };
    if no_proxy.is_some_and(|list| host_in_no_proxy(&server.host, &list)) {
        return Ok(ProbeRoute::Direct);
    }
    let proxy = match &overrides.proxy {
        Some(v) => Some(String::from_utf8_lossy(v).into_owned()),
        None => env_proxy(tool, server.scheme, env),
    };
    match proxy {
        None => Ok(ProbeRoute::Direct),
        Some(p) if p.trim().is_empty() => Ok(ProbeRoute::Direct),
        Some(p) => http_proxy_url(p.trim(), default_proxy_port(tool)).map(ProbeRoute::HttpProxy),
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

/// `*` matches all; otherwise each comma- or space-separated entry matches
/// the host itself or any name below it (a leading `.` or `*.` is optional).
pub fn host_in_no_proxy(host: &str, list: &str) -> bool {
    let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
    list.split([',', ' ', '\t'])
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let entry = entry.trim_start_matches('*').trim_start_matches('.');
            let entry = entry.trim_matches(['[', ']']);
            host == entry || host.ends_with(&format!(".{entry}"))
        })
}

/// A proxy given without a port: curl uses 1080, wget the http default.
fn default_proxy_port(tool: Tool) -> u16 {
    match tool {
        Tool::Curl => 1080,
        Tool::Wget => 80,
    }
}

/// Only plain HTTP proxies can carry the probe (no TLS, no SOCKS). The
/// result always names its port: `http://[user:pass@]host:port`.
fn http_proxy_url(p: &str, default_port: u16) -> Result<String, String> {
    let rest = match p.find("://") {
        None => p,
        Some(i) if p[..i].eq_ignore_ascii_case("http") => &p[i + 3..],
        Some(i) => return Err(format!("{} proxy", &p[..i])),
    };
    let rest = rest.split('/').next().unwrap_or_default();
    let hostport = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let has_port = if let Some(after) = hostport.strip_prefix('[') {
        after.contains("]:")
    } else {
        hostport.contains(':')
    };
    if hostport.is_empty() {
        return Err("proxy without a host".into());
    }
    Ok(if has_port {
        format!("http://{rest}")
    } else {
        format!("http://{rest}:{default_port}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env_view::MapEnv;

    fn env(pairs: &[(&str, &str)]) -> MapEnv {
        MapEnv::from_pairs(pairs)
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
            Ok(ProbeRoute::HttpProxy("http://p:3128".into()))
        );
        let e = env(&[("http_proxy", "http://u:p@p/")]);
        assert_eq!(
            probe_route(Tool::Curl, &server(), &none, &e),
            Ok(ProbeRoute::HttpProxy("http://u:p@p:1080".into()))
        );
        assert_eq!(
            probe_route(Tool::Wget, &server(), &none, &e),
            Ok(ProbeRoute::HttpProxy("http://u:p@p:80".into()))
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
        assert!(host_in_no_proxy("cache.lab", "*"));
        assert!(host_in_no_proxy("::1", "[::1]"));
        assert!(!host_in_no_proxy("notlab", "lab"));
    }
}
