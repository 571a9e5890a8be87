//! The withcache URL layout: `<server>/b/<base64url-no-padding(origin)>/<file name>`.
//!
//! The file name is the origin's last path segment copied verbatim (percent
//! escapes as written), so `curl -O` and bare `wget` name the file exactly as a
//! direct download would. Parsing is deliberately by hand: a normalising URL
//! parser would re-encode what the user wrote.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerScheme {
    Http,
    Https,
}

/// A parsed `WITHCACHE_SERVER` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheServer {
    /// `scheme://authority[/prefix]`, no trailing slash.
    pub base: String,
    pub scheme: ServerScheme,
    /// Host without brackets or port (for no_proxy matching).
    pub host: String,
}

impl CacheServer {
    /// Accepts `host`, `host:port`, `http://host:port`, a trailing slash, a
    /// path prefix (`http://h/cache/`) and IPv6 (`[::1]:8081`).
    pub fn parse(text: &str) -> Result<CacheServer, String> {
        let text = text.trim();
        let (scheme, rest) = match text.find("://") {
            Some(i) => {
                let s = &text[..i];
                let scheme = if s.eq_ignore_ascii_case("http") {
                    ServerScheme::Http
                } else if s.eq_ignore_ascii_case("https") {
                    ServerScheme::Https
                } else {
                    return Err(format!("unsupported scheme {s:?} (use http or https)"));
                };
                (scheme, &text[i + 3..])
            }
            None => (ServerScheme::Http, text),
        };
        if rest.contains(['?', '#']) || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("a server URL has no query, fragment or spaces".into());
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err("credentials in the server URL are not supported".into());
        }
        let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
            let close = inner.find(']').ok_or("unclosed '[' in IPv6 address")?;
            let after = &inner[close + 1..];
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or("junk after IPv6 address")?),
            };
            (&inner[..close], port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err("no host".into());
        }
        if let Some(p) = port
            && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.parse::<u16>().is_err())
        {
            return Err(format!("bad port {p:?}"));
        }
        let scheme_text = match scheme {
            ServerScheme::Http => "http",
            ServerScheme::Https => "https",
        };
        Ok(CacheServer {
            base: format!("{scheme_text}://{authority}{path}"),
            scheme,
            host: host.to_ascii_lowercase(),
        })
    }

    /// The `b/` prefix every cache URL on this server starts with.
    pub fn blob_prefix(&self) -> String {
        format!("{}/b/", self.base)
    }

    pub fn cache_url(&self, origin: &Origin) -> String {
        format!("{}{}", self.blob_prefix(), origin.cache_path())
    }
}

/// Why one URL argument is left as written (the rest of the command may
/// still be rewritten).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotRewritable {
    NotUtf8,
    NotAUrl,
    Scheme,
    CredentialsInUrl,
    /// A signed or token URL (`?X-Amz-Signature=`, `?token=`): even encoded
    /// in the cache URL, the secret would reach the cache host.
    CredentialsInQuery,
    NoFileName,
    Glob,
    QueryNamesFile,
    AlreadyCacheUrl,
}

impl NotRewritable {
    pub fn code(self) -> &'static str {
        match self {
            NotRewritable::NotUtf8 => "not-utf8",
            NotRewritable::NotAUrl => "not-a-url",
            NotRewritable::Scheme => "scheme",
            NotRewritable::CredentialsInUrl => "credentials-in-url",
            NotRewritable::CredentialsInQuery => "credentials-in-query",
            NotRewritable::NoFileName => "no-file-name",
            NotRewritable::Glob => "glob",
            NotRewritable::QueryNamesFile => "query-names-file",
            NotRewritable::AlreadyCacheUrl => "already-cache-url",
        }
    }
}

/// An origin URL that could be served from the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub url: String,
    pub file_name: String,
    pub has_query: bool,
}

impl Origin {
    /// `<base64url-no-padding(origin)>/<file name>`: what follows `b/`.
    pub fn cache_path(&self) -> String {
        format!(
            "{}/{}",
            URL_SAFE_NO_PAD.encode(self.url.as_bytes()),
            self.file_name
        )
    }

    /// Splits `scheme://authority/path?query#fragment` without normalising.
    pub fn parse(raw: &[u8]) -> Result<Origin, NotRewritable> {
        let url = std::str::from_utf8(raw).map_err(|_| NotRewritable::NotUtf8)?;
        let colon = url.find("://").ok_or(NotRewritable::NotAUrl)?;
        let scheme = &url[..colon];
        let valid_scheme = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !valid_scheme {
            return Err(NotRewritable::NotAUrl);
        }
        if !["http", "https", "ftp", "ftps"]
            .iter()
            .any(|s| scheme.eq_ignore_ascii_case(s))
        {
            return Err(NotRewritable::Scheme);
        }
        let after = &url[colon + 3..];
        let authority_end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let authority = &after[..authority_end];
        if authority.contains('@') {
            return Err(NotRewritable::CredentialsInUrl);
        }
        let rest = &after[authority_end..];
        let path_end = rest.find(['?', '#']).unwrap_or(rest.len());
        let path = &rest[..path_end];
        let has_query = rest[path_end..].starts_with('?');
        if has_query && query_has_secret(&rest[path_end + 1..]) {
            return Err(NotRewritable::CredentialsInQuery);
        }
        let file_name = match path.rfind('/') {
            Some(i) => &path[i + 1..],
            None => "",
        };
        if file_name.is_empty() {
            return Err(NotRewritable::NoFileName);
        }
        Ok(Origin {
            url: url.to_string(),
            file_name: file_name.to_string(),
            has_query,
        })
    }
}

/// Query parameter names that carry a secret: the header-name words plus the
/// signature words of pre-signed URLs (S3, GCS, Azure SAS `sig`).
fn query_has_secret(query: &str) -> bool {
    let query = query.split('#').next().unwrap_or_default();
    query.split('&').any(|pair| {
        let name = pair
            .split('=')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        [
            "token",
            "key",
            "secret",
            "session",
            "auth",
            "sig",
            "credential",
            "passw",
        ]
        .iter()
        .any(|w| name.contains(w))
    })
}

/// `%XX` escapes decoded (malformed ones kept as written).
pub fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%'
            && i + 2 < s.len()
            && let Some(v) = std::str::from_utf8(&s[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

/// curl expands `{a,b}` and `[1-3]` in URLs unless `-g`: such a URL names
/// several transfers, none of which is the literal string.
pub fn is_curl_glob(url: &[u8]) -> bool {
    url.iter().any(|b| matches!(b, b'[' | b']' | b'{' | b'}'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> String {
        CacheServer::parse(s).unwrap().base
    }

    #[test]
    fn server_forms() {
        assert_eq!(base("cache"), "http://cache");
        assert_eq!(base("cache:8081"), "http://cache:8081");
        assert_eq!(base("http://cache:8081/"), "http://cache:8081");
        assert_eq!(base("  HTTP://cache:8081//  "), "http://cache:8081");
        assert_eq!(base("http://h/cache/"), "http://h/cache");
        assert_eq!(base("[::1]:8081"), "http://[::1]:8081");
        assert_eq!(base("https://[fe80::1]/"), "https://[fe80::1]");
        assert_eq!(CacheServer::parse("[::1]:8081").unwrap().host, "::1");
        for bad in [
            "", "ftp://h", "h:port", "h:99999", "u:p@h", "[::1", "h/?q", ":80",
        ] {
            assert!(
                CacheServer::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn origin_file_name_is_verbatim_and_token_is_unpadded_base64url() {
        let o = Origin::parse(b"https://ex.com/a/foo%20bar.tgz?x=1#frag").unwrap();
        assert_eq!(o.file_name, "foo%20bar.tgz");
        assert!(o.has_query);
        // Independently computed: printf %s 'https://ex.com/f.tgz' | base64 | tr '+/' '-_' | tr -d =
        let o = Origin::parse(b"https://ex.com/f.tgz").unwrap();
        assert_eq!(o.cache_path(), "aHR0cHM6Ly9leC5jb20vZi50Z3o/f.tgz");
    }

    #[test]
    fn origins_that_cannot_be_rewritten() {
        use NotRewritable::*;
        let cases: &[(&[u8], NotRewritable)] = &[
            (b"https://u:p@ex.com/f.tgz", CredentialsInUrl),
            (b"https://ex.com/dir/", NoFileName),
            (
                b"https://s3/f.tgz?X-Amz-Signature=ab&X-Amz-Date=1",
                CredentialsInQuery,
            ),
            (b"https://h/f.tgz?access_token=x", CredentialsInQuery),
            (b"https://ex.com", NoFileName),
            (b"https://ex.com?x=/f.tgz", NoFileName),
            (b"file:///etc/passwd", Scheme),
            (b"sftp://h/f", Scheme),
            (b"ex.com/f.tgz", NotAUrl),
            (b"-", NotAUrl),
            (b"https://ex.com/\xff.tgz", NotUtf8),
        ];
        for (raw, want) in cases {
            assert_eq!(
                Origin::parse(raw),
                Err(*want),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }
}
