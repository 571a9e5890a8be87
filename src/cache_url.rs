//! The withcache URL layout: `<server>/b/<base64url-no-padding(origin)>/<file name>`.
//!
//! `url` decides what a URL *is* (scheme, credentials, host, port, whether it
//! has a query); the cache key and the file name stay byte-for-byte what the
//! user wrote, so `curl -O` and bare `wget` name the file exactly as a direct
//! download would. Where `url` reads a URL differently from how it is written
//! (extra slashes, backslashes, escapes in the host, a host it rejects), the
//! real tool may read it differently too, so the URL is left alone.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use url::{Host, Position, Url};

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
    /// The port, explicit or the scheme's.
    pub port: u16,
}

/// The host as `no_proxy` lists and connections name it: no brackets.
pub fn host_text(host: Host<&str>) -> String {
    match host {
        Host::Domain(d) => d.to_ascii_lowercase(),
        Host::Ipv4(a) => a.to_string(),
        Host::Ipv6(a) => a.to_string(),
    }
}

/// `url` needs a scheme; the tools (and `WITHCACHE_SERVER`) default to http.
pub fn with_default_scheme(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains("://") {
        text.into()
    } else {
        format!("http://{text}").into()
    }
}

impl CacheServer {
    /// Accepts `host`, `host:port`, `http://host:port`, a trailing slash, a
    /// path prefix (`http://h/cache/`) and IPv6 (`[::1]:8081`).
    pub fn parse(text: &str) -> Result<CacheServer, String> {
        let text = text.trim();
        if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            // `url` would silently drop tabs and newlines inside.
            return Err("a server URL has no spaces or control characters".into());
        }
        let url = Url::parse(&with_default_scheme(text)).map_err(|e| e.to_string())?;
        let scheme = match url.scheme() {
            "http" => ServerScheme::Http,
            "https" => ServerScheme::Https,
            s => return Err(format!("unsupported scheme {s:?} (use http or https)")),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err("credentials in the server URL are not supported".into());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err("a server URL has no query or fragment".into());
        }
        let host = url.host().ok_or("no host")?;
        Ok(CacheServer {
            base: format!(
                "{}{}",
                &url[..Position::BeforePath],
                url.path().trim_end_matches('/')
            ),
            scheme,
            host: host_text(host),
            port: url.port_or_known_default().unwrap_or(80),
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
    /// `url` reads the scheme, host or port differently from how it is
    /// written (extra slashes, backslashes, escapes, IDN): the real tool may
    /// too, so nothing is sent anywhere it might not go.
    Ambiguous,
    /// A signed or token URL (`?X-Amz-Signature=`, `?token=`): even encoded
    /// in the cache URL, the secret would reach the cache host.
    CredentialsInQuery,
    NoFileName,
    Glob,
    /// A query: withcache-server keys blobs without it (unless
    /// `WITHCACHE_KEEP_QUERY` says the host keys on the full URL).
    Query,
    QueryNamesFile,
    AlreadyCacheUrl,
    /// The answer depends on the machine or network that asks (loopback,
    /// link-local and metadata endpoints, private ranges, site-local names):
    /// `machine_local`.
    MachineLocal,
    /// A token, key or webhook recognised by its shape (`secrets`).
    SecretInUrl,
    /// BusyBox wget without `-O` names the file with the `#fragment`.
    FragmentNamesFile,
    /// An https origin, a plain-http cache host, `WITHCACHE_REQUIRE_TLS=1`.
    CleartextCache,
}

impl NotRewritable {
    pub fn code(self) -> &'static str {
        match self {
            NotRewritable::NotUtf8 => "not-utf8",
            NotRewritable::NotAUrl => "not-a-url",
            NotRewritable::Scheme => "scheme",
            NotRewritable::CredentialsInUrl => "credentials-in-url",
            NotRewritable::Ambiguous => "ambiguous-url",
            NotRewritable::CredentialsInQuery => "credentials-in-query",
            NotRewritable::NoFileName => "no-file-name",
            NotRewritable::Glob => "glob",
            NotRewritable::Query => "query",
            NotRewritable::QueryNamesFile => "query-names-file",
            NotRewritable::AlreadyCacheUrl => "already-cache-url",
            NotRewritable::MachineLocal => "machine-local",
            NotRewritable::SecretInUrl => "secret-in-url",
            NotRewritable::FragmentNamesFile => "fragment-names-file",
            NotRewritable::CleartextCache => "cleartext-cache",
        }
    }
}

/// An origin URL that could be served from the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// As written.
    pub url: String,
    /// What the tools send and the cache key: as written, without the
    /// `#fragment` (curl and wget never put it on the wire).
    pub key: String,
    /// The last path segment as written.
    pub file_name: String,
    pub has_query: bool,
}

impl Origin {
    /// `<base64url-no-padding(origin)>/<file name>`: what follows `b/`.
    pub fn cache_path(&self) -> String {
        format!(
            "{}/{}",
            URL_SAFE_NO_PAD.encode(self.key.as_bytes()),
            self.file_name
        )
    }

    pub fn parse(raw: &[u8]) -> Result<Origin, NotRewritable> {
        let written = std::str::from_utf8(raw).map_err(|_| NotRewritable::NotUtf8)?;
        let url = match Url::parse(written) {
            Ok(u) => u,
            Err(url::ParseError::RelativeUrlWithoutBase) => return Err(NotRewritable::NotAUrl),
            Err(_) if !written.contains("://") => return Err(NotRewritable::NotAUrl),
            Err(_) => return Err(NotRewritable::Ambiguous),
        };
        if !matches!(url.scheme(), "http" | "https" | "ftp" | "ftps") {
            return Err(NotRewritable::Scheme);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(NotRewritable::CredentialsInUrl);
        }
        if url.host().is_none() {
            return Err(NotRewritable::Ambiguous);
        }
        // What `url` understood as `scheme://host[:port]` must be exactly
        // what is written (ASCII case aside), and end where the path begins.
        let authority = &url[..Position::BeforePath];
        let rest = match written.get(..authority.len()) {
            Some(head) if head.eq_ignore_ascii_case(authority) => &written[authority.len()..],
            _ => return Err(NotRewritable::Ambiguous),
        };
        if !(rest.is_empty() || rest.starts_with(['/', '?', '#'])) {
            return Err(NotRewritable::Ambiguous);
        }
        if url.query().is_some_and(query_is_secret) {
            return Err(NotRewritable::CredentialsInQuery);
        }
        // The path as written ends where `url` ends it: at `?` or `#`.
        let path = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
        let file_name = path.rsplit('/').next().unwrap_or_default();
        // `.` and `..` (or `%2e`, `%2E%2e`) are dot segments, not names: the
        // tools resolve them away.
        let dots = percent_encoding::percent_decode_str(file_name).all(|b| b == b'.');
        if file_name.is_empty() || dots || !path.starts_with('/') {
            return Err(NotRewritable::NoFileName);
        }
        let key = match url.fragment() {
            // The fragment starts at the first `#`, as `url` reads it.
            Some(_) => &written[..written.find('#').unwrap_or(written.len())],
            None => written,
        };
        // The path as curl (dedotdotify) and wget (path_simplify) request
        // it: dot segments removed (`--path-as-is` passes through).
        let key = format!(
            "{}{}{}",
            &written[..authority.len()],
            remove_dot_segments(path),
            &key[authority.len() + path.len()..]
        );
        Ok(Origin {
            url: written.to_string(),
            key,
            file_name: file_name.to_string(),
            has_query: url.query().is_some(),
        })
    }
}

/// RFC 3986 §5.2.4 on a path as written: `.` and `..` segments (literal
/// dots, as the tools read them) resolved away, nothing else changed.
pub fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *seg {
            "." | ".." => {
                if *seg == ".." {
                    out.pop();
                }
                // A trailing dot segment leaves the directory: `/a/b/..` is `/a/`.
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// Whether a query carries a secret, by its parameter names (compared
/// after `%XX` decoding; `&` and `;` both separate parameters, as many
/// servers read them): the header-name words, the signature words of
/// pre-signed URLs (S3, GCS, Azure SAS `sig`, CloudFront `Key-Pair-Id`),
/// Akamai's `hdnts`, `jwt`, `pass`/`pwd`, and nginx's secure_link pair
/// (`md5` with `expires`).
fn query_is_secret(query: &str) -> bool {
    let names: Vec<String> = query
        .split(['&', ';'])
        .map(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            percent_encoding::percent_decode_str(name)
                .decode_utf8_lossy()
                .to_ascii_lowercase()
        })
        .collect();
    let word = |w: &str| names.iter().any(|n| n.contains(w));
    [
        "token",
        "key",
        "secret",
        "session",
        "auth",
        "sig",
        "credential",
        "pass",
        "pwd",
        "jwt",
        "hdnts",
    ]
    .iter()
    .any(|w| word(w))
        || (word("md5") && word("expires"))
}

/// curl expands `{a,b}` and `[1-3]` in URLs unless `-g`: such a URL names
/// several transfers, none of which is the literal string. As curl's
/// globbing reads it (src/tool_urlglob.c, glob_parse, 7.88.1): a `[` that
/// opens an IPv6 literal (`[::1]`, `[fe80::1%25eth0]`) or an empty `[]` is
/// text; any other bracket or brace is a pattern (or, unmatched, an
/// error); a backslash before one of them is an escape, so curl fetches
/// another string than the one written. Each of those is "not literal".
pub fn is_curl_glob(url: &[u8]) -> bool {
    let mut at = 0;
    while at < url.len() {
        match url[at] {
            b'[' => {
                if let Some(len) = ipv6_literal_len(&url[at..]) {
                    at += len;
                    continue;
                }
                if url.get(at + 1) == Some(&b']') {
                    at += 2;
                    continue;
                }
                return true;
            }
            b']' | b'{' | b'}' => return true,
            b'\\' if matches!(url.get(at + 1), Some(b'[' | b']' | b'{' | b'}')) => return true,
            _ => {}
        }
        at += 1;
    }
    false
}

/// The length of `[address]` at the start of `s` when it is an IPv6
/// literal as curl's URL parser takes one: an address, optionally with a
/// zone (`%25eth0` or `%eth0`), shorter than 128 bytes.
fn ipv6_literal_len(s: &[u8]) -> Option<usize> {
    let end = s.iter().position(|&b| b == b']')?;
    if end + 1 >= 128 {
        return None;
    }
    let inside = std::str::from_utf8(&s[1..end]).ok()?;
    let (address, zone) = match inside.split_once('%') {
        Some((a, z)) => (a, Some(z.strip_prefix("25").unwrap_or(z))),
        None => (inside, None),
    };
    let zone_ok = zone.is_none_or(|z| {
        !z.is_empty()
            && z.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    });
    // `url`'s own IPv6 parser (already in the binary; std's is not).
    let is_v6 = matches!(
        url::Host::parse(&format!("[{address}]")),
        Ok(url::Host::Ipv6(_))
    );
    (zone_ok && is_v6).then_some(end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_are_removed_from_the_key_as_the_tools_request_it() {
        for (path, want) in [
            ("/raw/dir/../obj.bin", "/raw/obj.bin"),
            ("/a/./b/./c.bin", "/a/b/c.bin"),
            ("/../../x.bin", "/x.bin"),
            ("/a/b/..", "/a/"),
            ("/a/b/.", "/a/b/"),
            ("/a/%2e%2e/x.bin", "/a/%2e%2e/x.bin"),
            ("/a/..b/x.bin", "/a/..b/x.bin"),
            ("/plain/x.bin", "/plain/x.bin"),
            ("/", "/"),
        ] {
            assert_eq!(remove_dot_segments(path), want, "{path}");
        }
        let o = Origin::parse(b"http://h.example/raw/dir/../obj.bin?v=1#frag").unwrap();
        assert_eq!(o.key, "http://h.example/raw/obj.bin?v=1");
        assert_eq!(o.file_name, "obj.bin");
        assert_eq!(o.url, "http://h.example/raw/dir/../obj.bin?v=1#frag");
    }

    #[test]
    fn ipv6_literals_are_text_to_curls_globbing() {
        for literal in [
            "http://[::1]:8080/f.bin",
            "http://[2001:db8::7]/pub/f.bin",
            "http://[fe80::1%25eth0]:81/f",
            "http://h/a[]b",
        ] {
            assert!(!is_curl_glob(literal.as_bytes()), "{literal}");
        }
        for glob in [
            "http://h/f[1-3].bin",
            "http://h/{a,b}.bin",
            "http://[::1]/f[1-2]",
            "http://h/a]b",
            "http://h/a\\[1\\].bin",
            "http://[::g]/f",
            "http://[1-2]/f",
        ] {
            assert!(is_curl_glob(glob.as_bytes()), "{glob}");
        }
    }

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
            "", "ftp://h", "h:port", "h:99999", "u:p@h", "[::1", "h/?q", ":80", "h/#f", "ca\tche",
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
        // The fragment is never sent, so it is not in the key either.
        assert_eq!(o.key, "https://ex.com/a/foo%20bar.tgz?x=1");
        let o = Origin::parse(b"https://ex.com/f.tgz#sha256=ab").unwrap();
        assert_eq!(o.cache_path(), "aHR0cHM6Ly9leC5jb20vZi50Z3o/f.tgz");
        let o = Origin::parse("https://ex.com/файл ü.tgz".as_bytes()).unwrap();
        assert_eq!(o.file_name, "файл ü.tgz");
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
            (b"ftp://ex.com/a b/..", NoFileName),
            (b"https://ex.com/a/.", NoFileName),
            (b"https://ex.com/a/%2E%2e", NoFileName),
            (
                b"https://s3/f.tgz?X-Amz-Signature=ab&X-Amz-Date=1",
                CredentialsInQuery,
            ),
            (b"https://h/f.tgz?access_token=x", CredentialsInQuery),
            (b"https://h/f.tgz?%74oken=x", CredentialsInQuery),
            (b"https://h/f.tgz?hdnts=exp=1~hmac=ab", CredentialsInQuery),
            (b"https://h/f.tgz?jwt=eyJ", CredentialsInQuery),
            (b"https://h/f.tgz?user=a&pass=b", CredentialsInQuery),
            (b"https://h/f.tgz?pwd=b", CredentialsInQuery),
            (
                b"https://h/f.tgz?md5=ab&expires=1700000000",
                CredentialsInQuery,
            ),
            (b"https://h/f.tgz?a=1;token=x", CredentialsInQuery),
            (b"https://ex.com", NoFileName),
            (b"https://ex.com?x=/f.tgz", NoFileName),
            (b"file:///etc/passwd", Scheme),
            (b"sftp://h/f", Scheme),
            (b"ex.com/f.tgz", NotAUrl),
            (b"-", NotAUrl),
            (b"https://ex.com/\xff.tgz", NotUtf8),
            // curl accepts one to three slashes and sends these credentials.
            (
                b"http:///alice:hunter2@127.0.0.1:18080/f.bin",
                CredentialsInUrl,
            ),
            (
                b"HTTP:///alice:hunter2@127.0.0.1:18080/f.bin",
                CredentialsInUrl,
            ),
            (b"http:\\\\alice:pw@127.0.0.1\\f.bin", CredentialsInUrl),
            (b"http://alice%40corp:pw@h/f.bin", CredentialsInUrl),
            (b"http://alice@h/f.bin", CredentialsInUrl),
            (b"http:///h/f.bin", Ambiguous),
            (b"http://h\\f.bin", Ambiguous),
            (b"http://%68/f.bin", Ambiguous),
            (b"http://0x7f.1/f.bin", Ambiguous),
            ("https://bücher.example/f.tgz".as_bytes(), Ambiguous),
            (b"http://h:80/f.bin", Ambiguous),
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
