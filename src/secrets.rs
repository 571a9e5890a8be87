//! Secrets recognised by their shape, wherever they stand in a URL: a path
//! segment (`/bot<token>/getUpdates`), a query name or value. Such a URL is
//! never probed: even base64-encoded in a cache URL the secret would reach
//! the cache host (and its miss list). The table is data, one row a format;
//! add a row to recognise another.

/// Which bytes may follow a row's prefix.
#[derive(Clone, Copy, Debug)]
pub enum Alphabet {
    /// `A-Z a-z 0-9`.
    Alnum,
    /// `A-Z 0-9` (AWS key ids).
    UpperAlnum,
    /// `A-Z a-z 0-9 - _` (base64url, most tokens).
    UrlSafe,
}

impl Alphabet {
    fn has(self, b: u8) -> bool {
        match self {
            Alphabet::Alnum => b.is_ascii_alphanumeric(),
            Alphabet::UpperAlnum => b.is_ascii_uppercase() || b.is_ascii_digit(),
            Alphabet::UrlSafe => b.is_ascii_alphanumeric() || b == b'-' || b == b'_',
        }
    }
}

/// A token format: a prefix, then at least `min` bytes of an alphabet.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub name: &'static str,
    pub prefix: &'static str,
    pub alphabet: Alphabet,
    pub min: usize,
}

const fn shape(name: &'static str, prefix: &'static str, alphabet: Alphabet, min: usize) -> Shape {
    Shape {
        name,
        prefix,
        alphabet,
        min,
    }
}

/// Token formats, matched at the start of a component or after a byte that
/// is not a letter or digit.
pub const SHAPES: &[Shape] = &[
    shape("GitHub token", "ghp_", Alphabet::Alnum, 30),
    shape("GitHub OAuth token", "gho_", Alphabet::Alnum, 30),
    shape("GitHub user-to-server token", "ghu_", Alphabet::Alnum, 30),
    shape("GitHub server-to-server token", "ghs_", Alphabet::Alnum, 30),
    shape("GitHub refresh token", "ghr_", Alphabet::Alnum, 30),
    shape(
        "GitHub fine-grained token",
        "github_pat_",
        Alphabet::UrlSafe,
        22,
    ),
    shape("GitLab token", "glpat-", Alphabet::UrlSafe, 20),
    shape("Slack bot token", "xoxb-", Alphabet::UrlSafe, 10),
    shape("Slack user token", "xoxp-", Alphabet::UrlSafe, 10),
    shape("Slack app token", "xoxa-", Alphabet::UrlSafe, 10),
    shape("Slack refresh token", "xoxr-", Alphabet::UrlSafe, 10),
    shape("Slack session token", "xoxs-", Alphabet::UrlSafe, 10),
    shape("Hugging Face token", "hf_", Alphabet::Alnum, 30),
    shape("npm token", "npm_", Alphabet::Alnum, 30),
    shape("AWS access key id", "AKIA", Alphabet::UpperAlnum, 16),
    shape(
        "AWS temporary access key id",
        "ASIA",
        Alphabet::UpperAlnum,
        16,
    ),
    shape("Google API key", "AIza", Alphabet::UrlSafe, 30),
    // JWTs and other base64-encoded JSON (`{"` encodes as `eyJ`).
    shape("JWT or base64 JSON", "eyJ", Alphabet::UrlSafe, 12),
];

/// Hosts and path prefixes whose URLs are secrets themselves (webhooks).
pub const SECRET_PLACES: &[(&str, &str, &str)] = &[
    ("Slack webhook", "hooks.slack.com", "/services/"),
    ("Discord webhook", "discord.com", "/api/webhooks/"),
    ("Discord webhook", "discordapp.com", "/api/webhooks/"),
];

/// A Telegram bot token as a path segment: `bot<digits>:<35 url-safe>`.
fn telegram_bot_token(segment: &[u8]) -> bool {
    let Some(rest) = segment.strip_prefix(b"bot") else {
        return false;
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let Some(token) = rest[digits..].strip_prefix(b":") else {
        return false;
    };
    (6..=12).contains(&digits)
        && token.len() >= 30
        && token.iter().all(|&b| Alphabet::UrlSafe.has(b))
}

fn matches_shape(component: &[u8]) -> Option<&'static str> {
    for s in SHAPES {
        let p = s.prefix.as_bytes();
        let mut from = 0;
        while let Some(at) = find(&component[from..], p).map(|i| i + from) {
            let boundary = at == 0 || !component[at - 1].is_ascii_alphanumeric();
            let run = component[at + p.len()..]
                .iter()
                .take_while(|&&b| s.alphabet.has(b))
                .count();
            if boundary && run >= s.min {
                return Some(s.name);
            }
            from = at + 1;
        }
    }
    telegram_bot_token(component).then_some("Telegram bot token")
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// An opaque value: 32 or more base64 or hex bytes and nothing else.
fn opaque(component: &[u8]) -> bool {
    component.len() >= 32
        && component
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'/' | b'='))
}

/// What secret an origin URL carries, if any. `keep_query`: the query goes
/// to the cache host too, so an opaque query name or value counts as well.
pub fn secret_in_url(url: &str, keep_query: bool) -> Option<&'static str> {
    let parsed = url::Url::parse(url).ok()?;
    if let Some(host) = parsed.host_str() {
        for (name, h, path) in SECRET_PLACES {
            let host_is = host.eq_ignore_ascii_case(h)
                || host.to_ascii_lowercase().ends_with(&format!(".{h}"));
            if host_is && parsed.path().starts_with(path) {
                return Some(name);
            }
        }
    }
    let decode = |s: &str| percent_encoding::percent_decode_str(s).collect::<Vec<u8>>();
    for segment in parsed.path().split('/') {
        if let Some(name) = matches_shape(&decode(segment)) {
            return Some(name);
        }
    }
    for part in parsed.query().unwrap_or_default().split(['&', ';']) {
        for side in part.splitn(2, '=') {
            let side = decode(&side.replace('+', " "));
            if let Some(name) = matches_shape(&side) {
                return Some(name);
            }
            if keep_query && opaque(&side) {
                return Some("an opaque query token");
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_case_per_row() {
        let t30 = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6";
        for (url, name) in [
            (format!("https://dl.example.com/{}ghp_{t30}/f.tgz", ""), "GitHub token"),
            (format!("https://x.example/gho_{t30}/f"), "GitHub OAuth token"),
            (format!("https://x.example/f?t=ghu_{t30}"), "GitHub user-to-server token"),
            (format!("https://x.example/ghs_{t30}/f"), "GitHub server-to-server token"),
            (format!("https://x.example/ghr_{t30}/f"), "GitHub refresh token"),
            (format!("https://x.example/github_pat_{t30}/f"), "GitHub fine-grained token"),
            (format!("https://gitlab.example/api/glpat-{t30}/f"), "GitLab token"),
            ("https://x.example/xoxb-1234567890-abcdefghij/f".to_string(), "Slack bot token"),
            ("https://x.example/xoxp-1234567890-abcdefghij/f".to_string(), "Slack user token"),
            ("https://x.example/xoxa-1234567890-abcdefghij/f".to_string(), "Slack app token"),
            ("https://x.example/xoxr-1234567890-abcdefghij/f".to_string(), "Slack refresh token"),
            ("https://x.example/xoxs-1234567890-abcdefghij/f".to_string(), "Slack session token"),
            ("https://hooks.slack.com/services/T000/B000/XXXX".to_string(), "Slack webhook"),
            ("https://discord.com/api/webhooks/123/abc".to_string(), "Discord webhook"),
            ("https://discordapp.com/api/webhooks/123/abc".to_string(), "Discord webhook"),
            (format!("https://huggingface.co/hf_{t30}/f"), "Hugging Face token"),
            (format!("https://registry.example/npm_{t30}/f.tgz"), "npm token"),
            ("https://x.example/AKIAIOSFODNN7EXAMPLE/f".to_string(), "AWS access key id"),
            ("https://x.example/f?id=ASIAIOSFODNN7EXAMPLE".to_string(), "AWS temporary access key id"),
            (format!("https://x.example/f?key=AIza{t30}xyz"), "Google API key"),
            ("https://x.example/f.tar.xz?t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig".to_string(), "JWT or base64 JSON"),
            ("https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/getUpdates".to_string(), "Telegram bot token"),
        ] {
            assert_eq!(secret_in_url(&url, false), Some(name), "{url}");
        }
    }

    #[test]
    fn ordinary_urls_carry_no_secret_shape() {
        for url in [
            "https://developer.download.nvidia.com/compute/cuda/12.4.0/local_installers/cuda_12.4.0_550.54.14_linux.run",
            "https://github.com/astral-sh/uv/releases/download/0.4.0/uv-x86_64-unknown-linux-gnu.tar.gz",
            "https://x.example/robot/f.bin",
            "https://x.example/AKIA/f.bin",
            "https://x.example/leaf_node/hf_small.bin",
            "https://x.example/f.tgz?v=2",
        ] {
            assert_eq!(secret_in_url(url, false), None, "{url}");
            assert_eq!(secret_in_url(url, true), None, "{url}");
        }
    }

    #[test]
    fn with_the_query_kept_an_opaque_query_token_counts() {
        // NVIDIA's login-gated archive links: a long opaque parameter name.
        let url = "https://developer.download.nvidia.com/cudnn-linux-x86_64-8.9.7.29_cuda12-archive.tar.xz?4Dv9ZQXbXq8yV0nG2Kx1aP7Lm3Rt5Wc6Hs0Jd2Fk=&t=abc";
        assert_eq!(secret_in_url(url, false), None);
        assert_eq!(secret_in_url(url, true), Some("an opaque query token"));
        let hex = "https://x.example/f.bin?h=0123456789abcdef0123456789abcdef";
        assert_eq!(secret_in_url(hex, true), Some("an opaque query token"));
    }
}
