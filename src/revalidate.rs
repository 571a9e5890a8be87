//! Which hits may be stale: a URL whose answer changes (`…/latest/…`,
//! `release-latest.txt`, `main.tar.gz`, `get.docker.com`, an install
//! script) is revalidated with the origin before a hit counts; one that names
//! a release (`cuda_12.4.0_linux.run`, `v1.2.3`, `2024.01`, a content hash)
//! is trusted: its bytes do not change. Pure: the URL's text in, a verdict
//! and its reason out. The rules are data (`MOVING`, `SCRIPT_NAMES`,
//! `SCRIPT_HOST_PREFIXES`), one test per row.

use crate::env_view::EnvView;

/// `WITHCACHE_REVALIDATE`: `auto` (the default), `always`, `off`.
pub const POLICY_VAR: &str = "WITHCACHE_REVALIDATE";
/// Seconds a confirmed answer is remembered (never longer than the origin's
/// own max-age).
pub const TTL_VAR: &str = "WITHCACHE_REVALIDATE_TTL";
pub const DEFAULT_TTL_SECS: u64 = 60;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Revalidate what may move; trust what names a release.
    Auto,
    Always,
    /// Never (curated caches, strict egress).
    Off,
}

impl Policy {
    pub fn from_env(env: &dyn EnvView) -> Policy {
        match env
            .non_empty_str(POLICY_VAR)
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            Some("always" | "1" | "on" | "true" | "yes") => Policy::Always,
            Some("off" | "0" | "false" | "no" | "never") => Policy::Off,
            _ => Policy::Auto,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Policy::Auto => "auto",
            Policy::Always => "always",
            Policy::Off => "off",
        }
    }
}

/// What a URL says about the stability of its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stability {
    /// Names a release: trusted under `auto`.
    Release(String),
    /// Names a moving reference, or no version at all: revalidated.
    Moving(String),
}

/// Words that name a reference that moves, as a path segment or a token of
/// one (split at `-`, `_`, `.`, `+`, `~`).
pub const MOVING: &[&str] = &[
    "latest", "nightly", "stable", "current", "main", "master", "head", "trunk", "edge",
    "snapshot", "dev", "beta", "canary", "tip", "lts",
];

/// Script file names whose answer is whatever the project ships today.
pub const SCRIPT_NAMES: &[&str] = &[
    "install.sh",
    "install",
    "installer.sh",
    "get.sh",
    "setup.sh",
];

/// Hosts that serve today's install script at their root (`get.docker.com`,
/// `get.helm.sh`, `sh.rustup.rs`).
pub const SCRIPT_HOST_PREFIXES: &[&str] = &["get.", "sh.", "install."];

pub fn classify(url: &str) -> Stability {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = host.to_ascii_lowercase();
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let file = segments.last().cloned().unwrap_or_default();
    if SCRIPT_NAMES.contains(&file.as_str()) {
        return Stability::Moving(format!("an install script ({file})"));
    }
    if let Some(prefix) = SCRIPT_HOST_PREFIXES.iter().find(|p| host.starts_with(*p))
        && segments.is_empty()
    {
        return Stability::Moving(format!("a script host ({prefix}…)"));
    }
    for seg in &segments {
        for token in tokens(seg) {
            if MOVING.contains(&token) {
                return Stability::Moving(format!("a moving reference ({token})"));
            }
        }
    }
    for seg in segments.iter().rev() {
        if let Some(v) = version_in(seg) {
            return Stability::Release(format!("names a release ({v})"));
        }
    }
    Stability::Moving("names no version".into())
}

fn tokens(segment: &str) -> impl Iterator<Item = &str> {
    segment
        .split(['-', '_', '.', '+', '~'])
        .filter(|t| !t.is_empty())
}

/// A version, date or content hash in a path segment: `12.4.0`, `v1.2.3`,
/// `1.21`, `2024.01`, `r25`, `8u141`, a hex digest of 32 or more, a
/// `sha256:…` reference.
fn version_in(segment: &str) -> Option<String> {
    if let Some(h) = segment.strip_prefix("sha256:")
        && h.len() >= 32
    {
        return Some(format!("sha256:{}…", &h[..8]));
    }
    // Dotted numbers anywhere: digits, a dot, digits.
    let b = segment.as_bytes();
    for i in 0..b.len() {
        if !b[i].is_ascii_digit() || (i > 0 && b[i - 1].is_ascii_digit()) {
            continue;
        }
        let mut j = i;
        let mut dots = 0;
        while j < b.len()
            && (b[j].is_ascii_digit()
                || (b[j] == b'.' && j + 1 < b.len() && b[j + 1].is_ascii_digit()))
        {
            dots += usize::from(b[j] == b'.');
            j += 1;
        }
        if dots >= 1 {
            return Some(segment[i..j].to_string());
        }
    }
    for token in segment.split(['-', '_', '.', '+', '~', '@']) {
        let t = token.strip_prefix('v').unwrap_or(token);
        // `v3`, `r25`, `8u141`: a letter-number release tag.
        let digits = t.bytes().filter(u8::is_ascii_digit).count();
        if token.starts_with('v') && !t.is_empty() && digits == t.len() {
            return Some(token.to_string());
        }
        if token.len() >= 32 && token.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Some(format!("{}…", &token[..8]));
        }
        if t.len() >= 3
            && digits >= 2
            && t.bytes().next().is_some_and(|c| c.is_ascii_digit())
            && t.contains('u')
        {
            return Some(token.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moving(url: &str) -> bool {
        matches!(classify(url), Stability::Moving(_))
    }

    #[test]
    fn one_case_per_moving_word() {
        for word in MOVING {
            let url = format!("https://dl.example.com/pub/{word}/tool-1.2.3.tar.gz");
            assert!(moving(&url), "{url}");
            let url = format!("https://dl.example.com/pub/tool-{word}.tar.gz");
            assert!(moving(&url), "{url}");
        }
    }

    #[test]
    fn one_case_per_script_name_and_host() {
        for name in SCRIPT_NAMES {
            assert!(
                moving(&format!("https://raw.example.com/o/r/v1.2.3/{name}")),
                "{name}"
            );
        }
        for prefix in SCRIPT_HOST_PREFIXES {
            assert!(moving(&format!("https://{prefix}example.com/")), "{prefix}");
            assert!(moving(&format!("https://{prefix}example.com")), "{prefix}");
            // Only the root: a release file on such a host is a release.
            let url = format!("https://{prefix}example.com/tool-v3.15.2-linux-amd64.tar.gz");
            assert!(!moving(&url), "{url}");
        }
    }

    #[test]
    fn releases_are_trusted() {
        for url in [
            "https://developer.download.nvidia.com/compute/cuda/12.4.0/local_installers/cuda_12.4.0_550.54.14_linux.run",
            "https://github.com/o/r/releases/download/v1.2.3/tool-linux-amd64.tar.gz",
            "https://github.com/o/r/releases/download/v3/tool.tar.gz",
            "https://repo.example.com/snapshots/2024.01/pkg.deb",
            "https://dl.example.com/blobs/0123456789abcdef0123456789abcdef01234567/data.bin",
            "https://download.oracle.com/otn-pub/java/jdk/8u141-b15/jdk-8u141-linux-x64.tar.gz",
            "https://registry.example.com/v2/o/r/blobs/sha256:0123456789abcdef0123456789abcdef",
        ] {
            assert!(matches!(classify(url), Stability::Release(_)), "{url}");
        }
    }

    #[test]
    fn moving_references_are_revalidated() {
        for url in [
            "https://github.com/o/r/releases/latest/download/tool-linux-amd64.tar.gz",
            "https://dl.deno.land/release-latest.txt",
            "https://github.com/o/r/archive/refs/heads/main.tar.gz",
            "https://get.docker.com/",
            "https://sh.rustup.rs",
            "https://raw.githubusercontent.com/nvm-sh/nvm/v0.39.7/install.sh",
            "https://dl.example.com/pub/tool.tar.gz",
            "https://repo.example.com/nightly/2024-01-02/pkg.deb",
        ] {
            assert!(moving(url), "{url}");
        }
    }

    #[test]
    fn policy_words() {
        let env = |v: &str| crate::env_view::MapEnv::from_pairs(&[(POLICY_VAR, v)]);
        assert_eq!(Policy::from_env(&env("always")), Policy::Always);
        assert_eq!(Policy::from_env(&env("off")), Policy::Off);
        assert_eq!(Policy::from_env(&env("auto")), Policy::Auto);
        assert_eq!(Policy::from_env(&env("bogus")), Policy::Auto);
    }
}
