//! Origins whose answer depends on the machine or network that asks: the
//! cache's copy would be someone else's (another machine's cloud role
//! credentials from a metadata endpoint, another host's health check, an
//! in-cluster API), and even a miss would hand the URL to the cache host's
//! miss list. Such URLs are never probed nor rewritten.
//!
//! The table is data: one row per family, each with a test. A lab whose
//! internal mirror (say on 10.x) is seen the same by every machine, the
//! cache host included, names it in `WITHCACHE_LAN_ORIGINS`.

use std::net::{Ipv4Addr, Ipv6Addr};

pub const LAN_ORIGINS_VAR: &str = "WITHCACHE_LAN_ORIGINS";

/// How a row matches a host.
#[derive(Clone, Copy, Debug)]
pub enum Pattern {
    /// An IPv4 network: address, prefix length.
    V4(Ipv4Addr, u8),
    /// An IPv6 network: address, prefix length.
    V6(Ipv6Addr, u8),
    /// This name (ASCII case ignored, one trailing dot ignored).
    Name(&'static str),
    /// Any name below this suffix (written with its leading dot).
    Below(&'static str),
    /// A name without a dot (resolved by the local search domain).
    SingleLabel,
}

/// The families, in the order they are checked; the first match names the
/// reason.
pub const TABLE: &[(&str, Pattern)] = &[
    ("loopback", Pattern::V4(Ipv4Addr::new(127, 0, 0, 0), 8)),
    ("loopback", Pattern::V6(Ipv6Addr::LOCALHOST, 128)),
    ("unspecified", Pattern::V4(Ipv4Addr::new(0, 0, 0, 0), 8)),
    ("unspecified", Pattern::V6(Ipv6Addr::UNSPECIFIED, 128)),
    // Cloud metadata endpoints (AWS, GCP, Azure, OpenStack: 169.254.169.254;
    // ECS task metadata: 169.254.170.2) live here.
    ("link-local", Pattern::V4(Ipv4Addr::new(169, 254, 0, 0), 16)),
    (
        "link-local",
        Pattern::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),
    ),
    ("private", Pattern::V4(Ipv4Addr::new(10, 0, 0, 0), 8)),
    ("private", Pattern::V4(Ipv4Addr::new(172, 16, 0, 0), 12)),
    ("private", Pattern::V4(Ipv4Addr::new(192, 168, 0, 0), 16)),
    (
        "shared (CGNAT)",
        Pattern::V4(Ipv4Addr::new(100, 64, 0, 0), 10),
    ),
    ("special-use", Pattern::V4(Ipv4Addr::new(192, 0, 0, 0), 24)),
    (
        "benchmarking",
        Pattern::V4(Ipv4Addr::new(198, 18, 0, 0), 15),
    ),
    ("multicast", Pattern::V4(Ipv4Addr::new(224, 0, 0, 0), 4)),
    ("reserved", Pattern::V4(Ipv4Addr::new(240, 0, 0, 0), 4)),
    // AWS's IPv6 metadata endpoint fd00:ec2::254 is unique-local.
    (
        "unique-local",
        Pattern::V6(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),
    ),
    (
        "site-local",
        Pattern::V6(Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10),
    ),
    (
        "multicast",
        Pattern::V6(Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),
    ),
    ("loopback name", Pattern::Name("localhost")),
    // RHEL's and Debian's /etc/hosts names for the loopback addresses
    // (the one-label ones are single-label names too).
    ("loopback name", Pattern::Name("localhost4")),
    ("loopback name", Pattern::Name("localhost6")),
    ("loopback name", Pattern::Name("localhost4.localdomain4")),
    ("loopback name", Pattern::Name("localhost6.localdomain6")),
    ("loopback name", Pattern::Name("ip6-localhost")),
    ("loopback name", Pattern::Name("ip6-loopback")),
    ("loopback name", Pattern::Below(".localhost")),
    ("metadata name", Pattern::Name("metadata.google.internal")),
    ("cluster name", Pattern::Below(".svc")),
    ("cluster name", Pattern::Below(".cluster.local")),
    ("site-local name", Pattern::Below(".internal")),
    ("site-local name", Pattern::Below(".local")),
    ("site-local name", Pattern::Below(".localdomain")),
    ("site-local name", Pattern::Below(".lan")),
    ("site-local name", Pattern::Below(".home.arpa")),
    // `metadata`, `instance-data` and every other name without a dot.
    ("single-label name", Pattern::SingleLabel),
];

/// Hosts a lab declares the same from every machine (`WITHCACHE_LAN_ORIGINS`:
/// names, `.suffixes`, addresses and CIDR networks, comma-separated).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LanOrigins(Vec<String>);

impl LanOrigins {
    pub fn parse(value: &str) -> LanOrigins {
        LanOrigins(
            value
                .split([',', ' '])
                .map(|e| e.trim().to_ascii_lowercase())
                .filter(|e| !e.is_empty())
                .collect(),
        )
    }

    /// A cache host on this machine's own loopback fetches loopback origins
    /// from this same machine: for it, they are not someone else's.
    pub fn with_loopback(mut self) -> LanOrigins {
        self.0.extend(
            [
                "127.0.0.0/8",
                "::1",
                "localhost",
                ".localhost",
                "localhost4",
                "localhost6",
                "localhost4.localdomain4",
                "localhost6.localdomain6",
                "ip6-localhost",
                "ip6-loopback",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        self
    }

    fn allows(&self, host: &url::Host<&str>) -> bool {
        self.0.iter().any(|entry| match host {
            url::Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                match entry.strip_prefix('.') {
                    Some(suffix) => name.ends_with(&format!(".{suffix}")),
                    None => name == *entry,
                }
            }
            url::Host::Ipv4(ip) => {
                let (net, bits) = split_cidr(entry, 32);
                net.parse::<Ipv4Addr>().is_ok_and(|n| v4_in(*ip, n, bits))
            }
            url::Host::Ipv6(ip) => {
                let net = entry.trim_start_matches('[');
                let (net, bits) = split_cidr(net, 128);
                net.trim_end_matches(']')
                    .parse::<Ipv6Addr>()
                    .is_ok_and(|n| v6_in(*ip, n, bits))
            }
        })
    }
}

fn split_cidr(entry: &str, full: u8) -> (&str, u8) {
    match entry.split_once('/') {
        Some((net, bits)) => (net, bits.parse().unwrap_or(full).min(full)),
        None => (entry, full),
    }
}

fn v4_in(ip: Ipv4Addr, net: Ipv4Addr, bits: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

fn v6_in(ip: Ipv6Addr, net: Ipv6Addr, bits: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

/// Whether a host is this machine's loopback (the first rows of the table).
pub fn is_loopback_host(host: &str) -> bool {
    let url = format!(
        "http://{}/",
        if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        }
    );
    matches!(
        machine_local(&url, &LanOrigins::default()),
        Some("loopback" | "loopback name")
    )
}

/// The family an origin URL's host belongs to, if it is machine-local and
/// the lab has not declared it shared.
pub fn machine_local(url: &str, lan: &LanOrigins) -> Option<&'static str> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed.host()?;
    if lan.allows(&host) {
        return None;
    }
    // An IPv4-mapped IPv6 address is its IPv4 address.
    let mapped = match host {
        url::Host::Ipv6(ip) => ip.to_ipv4_mapped(),
        _ => None,
    };
    TABLE.iter().find_map(|(what, pattern)| {
        let hit = match (pattern, &host) {
            (Pattern::V4(net, bits), url::Host::Ipv4(ip)) => v4_in(*ip, *net, *bits),
            (Pattern::V4(net, bits), url::Host::Ipv6(_)) => {
                mapped.is_some_and(|ip| v4_in(ip, *net, *bits))
            }
            (Pattern::V6(net, bits), url::Host::Ipv6(ip)) => v6_in(*ip, *net, *bits),
            (Pattern::Name(n), url::Host::Domain(d)) => {
                d.trim_end_matches('.').eq_ignore_ascii_case(n)
            }
            (Pattern::Below(suffix), url::Host::Domain(d)) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                d.ends_with(suffix) || d == suffix[1..]
            }
            (Pattern::SingleLabel, url::Host::Domain(d)) => !d.trim_end_matches('.').contains('.'),
            _ => false,
        };
        hit.then_some(*what)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(url: &str) -> Option<&'static str> {
        machine_local(url, &LanOrigins::default())
    }

    #[test]
    fn one_case_per_row_of_the_table() {
        for (url, family) in [
            ("http://127.0.0.1:8080/health", "loopback"),
            ("http://127.1.2.3/f.bin", "loopback"),
            ("http://[::1]:8080/f.bin", "loopback"),
            ("http://0.0.0.0:8000/f.bin", "unspecified"),
            ("http://[::]/f.bin", "unspecified"),
            (
                "http://169.254.169.254/latest/meta-data/iam/security-credentials/r",
                "link-local",
            ),
            ("http://169.254.170.2/v2/credentials/x", "link-local"),
            ("http://[fe80::1]/f.bin", "link-local"),
            ("http://10.3.50.157:8080/emiss-etl-dag.zip", "private"),
            ("http://172.20.0.5/f.bin", "private"),
            ("http://192.168.56.101:8081/a.jar", "private"),
            ("http://100.100.100.200/latest/meta-data", "shared (CGNAT)"),
            ("http://192.0.0.8/f.bin", "special-use"),
            ("http://198.18.0.1/f.bin", "benchmarking"),
            ("http://224.0.0.1/f.bin", "multicast"),
            ("http://240.0.0.1/f.bin", "reserved"),
            ("http://[fd00:ec2::254]/latest/meta-data", "unique-local"),
            ("http://[fec0::1]/f.bin", "site-local"),
            ("http://[ff02::1]/f.bin", "multicast"),
            ("http://[::ffff:10.0.0.1]/f.bin", "private"),
            ("http://localhost:8081/artifactory/a.jar", "loopback name"),
            ("http://LOCALHOST./f.bin", "loopback name"),
            ("http://app.localhost/f.bin", "loopback name"),
            ("http://localhost4.localdomain4/f.bin", "loopback name"),
            ("http://localhost6.localdomain6:8080/f.bin", "loopback name"),
            ("http://ip6-localhost/f.bin", "loopback name"),
            (
                "http://metadata.google.internal/computeMetadata/v1/",
                "metadata name",
            ),
            ("http://vault.corp.internal/f.bin", "site-local name"),
            ("http://printer.local/f.bin", "site-local name"),
            ("http://box.localdomain/f.bin", "site-local name"),
            ("http://nas.lan/f.bin", "site-local name"),
            ("http://router.home.arpa/f.bin", "site-local name"),
            (
                "https://kubernetes.default.svc/api/v1/namespaces",
                "cluster name",
            ),
            ("http://api.ns.svc.cluster.local/f", "cluster name"),
            ("http://metadata/computeMetadata/v1/", "single-label name"),
            ("http://instance-data/latest/meta-data", "single-label name"),
            ("http://nexus:8081/repository/f.jar", "single-label name"),
        ] {
            assert_eq!(local(url), Some(family), "{url}");
        }
    }

    #[test]
    fn public_hosts_are_not_machine_local() {
        for url in [
            "https://developer.download.nvidia.com/compute/cuda/f.run",
            "https://github.com/o/r/releases/download/v1/f.tgz",
            "http://8.8.8.8/f.bin",
            "http://172.32.0.1/f.bin",
            "http://[2001:db8::1]/f.tgz",
            "https://local.example.com/f.bin",
            "https://internal.example.com/f.bin",
        ] {
            assert_eq!(local(url), None, "{url}");
        }
    }

    #[test]
    fn a_lab_may_declare_its_own_mirrors_shared() {
        let lan = LanOrigins::parse("10.3.0.0/16, nexus, .mirror.lan, [fd00::1]");
        assert_eq!(machine_local("http://10.3.50.157:8080/f.zip", &lan), None);
        assert_eq!(
            machine_local("http://10.4.0.1/f.zip", &lan),
            Some("private")
        );
        assert_eq!(machine_local("http://nexus:8081/f.jar", &lan), None);
        assert_eq!(machine_local("http://a.mirror.lan/f.jar", &lan), None);
        assert_eq!(
            machine_local("http://b.lan/f.jar", &lan),
            Some("site-local name")
        );
        assert_eq!(machine_local("http://[fd00::1]/f", &lan), None);
        // Metadata endpoints stay local unless named.
        assert_eq!(
            machine_local("http://169.254.169.254/x", &lan),
            Some("link-local")
        );
    }
}
