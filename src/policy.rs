//! What each option means for caching. The rule behind every entry: on a hit,
//! stdout and the files written (names and bytes) must be exactly what a direct
//! download writes, and no origin credential may reach the cache host. Where
//! an option makes that impossible to guarantee, the command passes through.
//!
//! Options not listed are neutral: they change how the transfer is done (rate,
//! retries, verbosity, TLS details) but not what it produces.

use crate::tool::Tool;

/// Why a whole command is left exactly as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    NoServer,
    BadServer,
    ServerNeedsTls,
    Unparsable,
    SendsBody,
    Method,
    HeadOnly,
    HiddenInput,
    Recursive,
    MultiTransfer,
    OriginMetadata,
    WriteOut,
    RequestChanges,
    ProtoExcludesCache,
    ProxyUnprobeable,
    NotADownload,
    ConfigCredentials,
    NoUrl,
    NoRewritableUrl,
    Miss,
    Unreachable,
    CacheDown,
    CredentialsWithMiss,
    /// The request sends cookies: the answer may depend on them (licence
    /// gates, Google Drive's confirmation), and the cache key is the URL.
    SendsCookies,
    /// A header that may choose what the origin answers (`Accept`,
    /// `Accept-Language`, unknown names): the cache key is the URL alone.
    HeaderChangesAnswer,
    /// wget `--max-redirect=0`: a redirect would not be followed, and no
    /// check of the origin is made for wget.
    RedirectNotFollowed,
    /// The origin answered the real tool's own HEAD with something other
    /// than 2xx (usually a redirect `curl` without `-L` would save as is).
    OriginNot2xx,
    /// The rewritten command would be over the kernel's exec limits.
    ArgListTooLong,
    /// The origin's answer depends on the credentials the rewrite would
    /// remove (or, for wget, cannot be asked with them): the cache's
    /// credential-less copy may not be the user's.
    OriginIdentity,
    /// The command constrains the origin's TLS identity or handshake
    /// (pinning, CRLs, minimum versions, ciphers): a hit from a plain-http
    /// cache host would skip the check that could fail directly.
    TlsConstraint,
    /// A redirect policy other than a plain `-L` (a bound, protocols,
    /// trusted locations) or a path sent as is: the cache's plain GET may
    /// not be what this command would get.
    RedirectPolicy,
    /// The response's encoding is decoded or kept as the origin sent it
    /// (`--compressed`, `--tr-encoding`): the cache's bytes may differ.
    Encoding,
    /// A Referer that carries userinfo or a query would go to the cache host.
    RefererSecret,
    /// A proxy authentication the probe cannot do (Digest, NTLM, Negotiate).
    ProxyAuth,
    /// `WITHCACHE_REQUIRE_TLS=1`: https origins are not served from a
    /// plain-http cache host.
    CleartextCache,
    /// The origin marks its answer `Cache-Control: private` or `no-store`:
    /// a shared cache must not serve it.
    OriginPrivate,
    /// The origin was reached but gave no usable answer to the check (slow,
    /// reset, refused at the TLS layer), or could not be asked without
    /// reading the user's input: not offline, so the command runs as written.
    OriginNoAnswer,
    /// GNU wget's HSTS database names the plain-http cache host: wget would
    /// fetch the cache URL over https instead.
    CacheHsts,
    /// The cache's copy is not provably what the origin serves now.
    Stale,
}

impl Reason {
    /// Stable code used in fixtures, `cacheshim plan` and the debug line.
    pub fn code(self) -> &'static str {
        match self {
            Reason::NoServer => "no-server",
            Reason::BadServer => "bad-server",
            Reason::ServerNeedsTls => "server-needs-tls",
            Reason::Unparsable => "unparsable",
            Reason::SendsBody => "sends-body",
            Reason::Method => "method",
            Reason::HeadOnly => "head-only",
            Reason::HiddenInput => "hidden-input",
            Reason::Recursive => "recursive",
            Reason::MultiTransfer => "multi-transfer",
            Reason::OriginMetadata => "origin-metadata",
            Reason::WriteOut => "write-out",
            Reason::RequestChanges => "request-changes",
            Reason::ProtoExcludesCache => "proto-excludes-cache",
            Reason::ProxyUnprobeable => "proxy-unprobeable",
            Reason::NotADownload => "not-a-download",
            Reason::ConfigCredentials => "config-credentials",
            Reason::NoUrl => "no-url",
            Reason::NoRewritableUrl => "no-rewritable-url",
            Reason::Miss => "miss",
            Reason::Unreachable => "unreachable",
            Reason::CacheDown => "cache-down",
            Reason::CredentialsWithMiss => "credentials-with-miss",
            Reason::SendsCookies => "sends-cookies",
            Reason::HeaderChangesAnswer => "header-changes-answer",
            Reason::RedirectNotFollowed => "redirect-not-followed",
            Reason::OriginNot2xx => "origin-not-2xx",
            Reason::ArgListTooLong => "arg-list-too-long",
            Reason::OriginIdentity => "origin-identity",
            Reason::TlsConstraint => "tls-constraint",
            Reason::RedirectPolicy => "redirect-policy",
            Reason::Encoding => "encoding",
            Reason::RefererSecret => "referer-secret",
            Reason::ProxyAuth => "proxy-auth",
            Reason::CleartextCache => "cleartext-cache",
            Reason::OriginPrivate => "origin-private",
            Reason::OriginNoAnswer => "origin-no-answer",
            Reason::CacheHsts => "cache-hsts",
            Reason::Stale => "stale",
        }
    }

    pub const ALL: &'static [Reason] = &[
        Reason::NoServer,
        Reason::BadServer,
        Reason::ServerNeedsTls,
        Reason::Unparsable,
        Reason::SendsBody,
        Reason::Method,
        Reason::HeadOnly,
        Reason::HiddenInput,
        Reason::Recursive,
        Reason::MultiTransfer,
        Reason::OriginMetadata,
        Reason::WriteOut,
        Reason::RequestChanges,
        Reason::ProtoExcludesCache,
        Reason::ProxyUnprobeable,
        Reason::NotADownload,
        Reason::ConfigCredentials,
        Reason::NoUrl,
        Reason::NoRewritableUrl,
        Reason::Miss,
        Reason::Unreachable,
        Reason::CacheDown,
        Reason::CredentialsWithMiss,
        Reason::SendsCookies,
        Reason::HeaderChangesAnswer,
        Reason::RedirectNotFollowed,
        Reason::OriginNot2xx,
        Reason::ArgListTooLong,
        Reason::OriginIdentity,
        Reason::TlsConstraint,
        Reason::RedirectPolicy,
        Reason::Encoding,
        Reason::RefererSecret,
        Reason::ProxyAuth,
        Reason::CleartextCache,
        Reason::OriginPrivate,
        Reason::OriginNoAnswer,
        Reason::CacheHsts,
        Reason::Stale,
    ];
}

/// What one option occurrence means to the planner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Neutral,
    /// Present (value options) or switched on (booleans): pass through.
    Pass(Reason),
    /// Carries origin credentials: removed when every URL hits.
    Credential,
    /// curl `--url VALUE`: a URL candidate.
    Url,
    /// `-H`/`--header`: depends on the header's name.
    Header,
    /// curl `-L`: redirects are followed (else the origin is asked first).
    FollowRedirects,
    /// curl `--max-redirs`, wget `--max-redirect`: 0 means none followed.
    MaxRedirects,
    /// wget `--content-disposition`, `--trust-server-names`: the server
    /// names the file, unless `-O` does.
    ServerNamesFile,
    /// wget `-N`: a plain download when none of the files exists yet.
    /// curl `--compressed`: the origin is asked whether it encodes the file.
    Compressed,
    /// wget `-N`.
    Timestamping,
    /// `-e`/`--referer` (and wget's `--referer`): checked for secrets.
    Referer,
    /// Proxy credentials: the probe sends them to the proxy, as the tool does.
    ProxyUser,
    /// wget `--glob` (on by default): `ftp://` URLs with `*?[]` are patterns.
    WgetGlob,
    /// wget `-P`: where `-N` would look for its files.
    DirectoryPrefix,
    /// curl `-4`, wget `--inet4-only`: the probe uses IPv4 only too.
    Ipv4Only,
    /// curl `-6`, wget `--inet6-only`.
    Ipv6Only,
    /// curl `-X`: only GET is a plain download.
    Request,
    /// Resume or range: a hit needs `Accept-Ranges: bytes` from the cache.
    Resume,
    /// curl `-w`: depends on the variables used.
    WriteOut,
    /// curl `--proto`: the cache URL's scheme must stay allowed.
    Proto,
    /// curl `-x` / wget `--proxy`: how the probe must reach the cache.
    Proxy,
    /// curl `--noproxy`.
    NoProxy,
    /// curl `-g`: URLs are literal, not globs.
    GlobOff,
    /// wget `-O`: the file name no longer comes from the URL.
    OutputDocument,
}

pub fn effect(tool: Tool, long: &str) -> Effect {
    match tool {
        Tool::Curl => curl_effect(long),
        Tool::Wget => wget_effect(long),
    }
}

fn curl_effect(long: &str) -> Effect {
    use Effect::*;
    use Reason as R;
    match long {
        "data" | "data-ascii" | "data-binary" | "data-raw" | "data-urlencode" | "form"
        | "form-string" | "json" | "upload-file" => Pass(R::SendsBody),
        "get" => Pass(R::Method),
        "head" => Pass(R::HeadOnly),
        "config" => Pass(R::HiddenInput),
        "next" => Pass(R::MultiTransfer),
        // Output that shows or stores what the origin answered (headers,
        // times, cookies, HSTS/Alt-Svc/TLS-session state, the URL itself).
        // (`--raw` keeps the origin's chunk framing. `-R` only sets the
        // file's time, as wget does anyway: allowed, like wget's.)
        "include" | "show-headers" | "dump-header" | "remote-header-name" | "etag-compare"
        | "etag-save" | "time-cond" | "cookie-jar" | "hsts" | "alt-svc" | "ssl-sessions"
        | "libcurl" | "xattr" | "raw" => Pass(R::OriginMetadata),
        "cookie" => Pass(R::SendsCookies),
        // The user asked for the origin's time on the file: a hit gives the
        // cache host's (withcache-server sends none: the time of download).
        "remote-time" => Pass(R::OriginMetadata),
        // Constraints on the origin's TLS identity or handshake: a hit from
        // a plain-http cache host would skip them (`--cacert`, `--capath`
        // and `-k` only say whom to trust: neutral, and carried to the
        // origin check).
        "pinnedpubkey" | "crlfile" | "tlsv1" | "tlsv1.0" | "tlsv1.1" | "tlsv1.2" | "tlsv1.3"
        | "tls-max" | "ciphers" | "tls13-ciphers" | "curves" | "cert-status" | "sslv2"
        | "sslv3" | "ssl-reqd" => Pass(R::TlsConstraint),
        "proto-redir" | "location-trusted" | "path-as-is" => Pass(R::RedirectPolicy),
        // --compressed: provably the same only when the origin sends the
        // file unencoded (asked with the origin check); --tr-encoding: rare.
        "compressed" => Compressed,
        "tr-encoding" => Pass(R::Encoding),
        "proxy-digest" | "proxy-ntlm" | "proxy-negotiate" | "proxy-anyauth" => Pass(R::ProxyAuth),
        "proxy-user" => ProxyUser,
        "referer" => Referer,
        // Change what is requested or where the connection goes, so the probe
        // would not see what the real curl will do.
        "request-target"
        | "url-query"
        | "connect-to"
        | "resolve"
        | "unix-socket"
        | "abstract-unix-socket"
        | "http2-prior-knowledge"
        | "http3-only"
        | "use-ascii"
        | "quote"
        | "list-only"
        | "aws-sigv4"
        | "httpsig-algo"
        | "httpsig-headers"
        | "httpsig-key"
        | "httpsig-keyid"
        | "haproxy-protocol"
        | "haproxy-clientip" => Pass(R::RequestChanges),
        // (`-p` tunnels through the proxy with CONNECT; the probe asks
        // proxies in absolute form.)
        "preproxy" | "socks4" | "socks4a" | "socks5" | "socks5-hostname" | "proxytunnel" => {
            Pass(R::ProxyUnprobeable)
        }
        // Where the connection comes from or how names are resolved: the
        // probe could not do the same.
        "interface" | "local-port" | "dns-interface" | "dns-ipv4-addr" | "dns-ipv6-addr"
        | "dns-servers" | "doh-url" => Pass(R::RequestChanges),
        "ipv4" => Ipv4Only,
        "ipv6" => Ipv6Only,
        "help" | "manual" | "version" | "dump-ca-embed" => Pass(R::NotADownload),
        // netrc makes curl send Basic auth to whatever host the file names,
        // and a `default` entry names every host, the cache host included.
        // Removed on an all-hit rewrite, curl reads no netrc at all.
        "user" | "oauth2-bearer" | "cert" | "key" | "pass" | "tlsuser" | "tlspassword"
        | "netrc" | "netrc-optional" | "netrc-file" => Credential,
        "url" => Url,
        "header" => Header,
        "request" => Request,
        "location" => FollowRedirects,
        "max-redirs" => MaxRedirects,
        "continue-at" | "range" => Resume,
        "write-out" => WriteOut,
        "proto" => Proto,
        "proxy" | "proxy1.0" => Proxy,
        "noproxy" => NoProxy,
        "globoff" => GlobOff,
        _ => Neutral,
    }
}

fn wget_effect(long: &str) -> Effect {
    use Effect::*;
    use Reason as R;
    match long {
        "post-data" | "post-file" | "body-data" | "body-file" => Pass(R::SendsBody),
        "method" => Pass(R::Method),
        "spider" => Pass(R::HeadOnly),
        "input-file" | "execute" | "config" | "input-metalink" => Pass(R::HiddenInput),
        "recursive" | "mirror" | "page-requisites" => Pass(R::Recursive),
        // Names or contents that follow the origin's answer (headers, dates,
        // Content-Type, redirects) or record the URL itself.
        "server-response" | "save-headers" | "adjust-extension" | "html-extension" | "xattr"
        | "convert-links" | "convert-file-only" | "warc-file" | "save-cookies" | "hsts-file"
        | "metalink-over-http" => Pass(R::OriginMetadata),
        // Directory names built from the URL's host and path.
        "force-directories" | "protocol-directories" | "accept-regex" | "reject-regex" => {
            Pass(R::RequestChanges)
        }
        "help" | "version" => Pass(R::NotADownload),
        "user" | "password" | "http-user" | "http-password" | "http-passwd" | "ask-password"
        | "use-askpass" | "ftp-user" | "ftp-password" | "certificate" | "private-key" => Credential,
        "header" => Header,
        "load-cookies" => Pass(R::SendsCookies),
        "continue" | "start-pos" => Resume,
        "proxy" => Proxy,
        "output-document" => OutputDocument,
        "content-disposition" | "trust-server-names" => ServerNamesFile,
        // The origin's dates decide (and the file gets them): a hit would
        // give the cache host's; with -O wget ignores -N (planner).
        "timestamping" => Timestamping,
        "pinnedpubkey" | "crl-file" | "secure-protocol" | "ciphers" => Pass(R::TlsConstraint),
        "referer" => Referer,
        "proxy-user" | "proxy-password" => ProxyUser,
        "max-redirect" => MaxRedirects,
        "glob" => WgetGlob,
        // `--compression=auto|gzip` decodes a gzip answer (and asks for
        // one): the encoding question, as for curl's --compressed.
        "compression" => Compressed,
        "bind-address" | "bind-dns-address" | "dns-servers" => Pass(R::RequestChanges),
        "inet4-only" => Ipv4Only,
        "inet6-only" => Ipv6Only,
        "directory-prefix" => DirectoryPrefix,
        _ => Neutral,
    }
}

/// wget credentials sent only after the origin asks for them (a 401 with a
/// challenge), unless `--auth-no-challenge`: the direct download gets the
/// anonymous answer when the origin gives one, and otherwise the one an
/// authorised client gets, which is what the cache holds. Their removal
/// needs no identity question. wget's other credentials (client
/// certificates, FTP logins) cannot be asked about with curl's HEAD: such
/// commands pass through.
pub const WGET_CHALLENGE_CREDENTIALS: &[&str] = &[
    "user",
    "password",
    "http-user",
    "http-password",
    "http-passwd",
    "ask-password",
    "use-askpass",
];

/// A Referer that would hand a secret to the cache host along with the
/// download: userinfo in its authority, or a query or fragment (where
/// tokens and signatures live). Such commands pass through.
pub fn referer_carries_secret(value: &[u8]) -> bool {
    let text = String::from_utf8_lossy(value);
    let text = text.trim();
    let after_scheme = text.split_once("://").map_or(text, |(_, rest)| rest);
    let authority = after_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    // (And a token by its shape in the path, or a webhook address.)
    authority.contains('@')
        || text.contains(['?', '#'])
        || crate::secrets::secret_in_url(text, false).is_some()
}

/// What a request header means, by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderKind {
    /// Known not to change what the origin answers: kept on a rewrite.
    Neutral,
    /// Origin credentials: removed when every URL hits.
    Credential,
    /// `Range`: like `-r`.
    Range,
    /// Makes the answer depend on more than the URL, or changes the request.
    Pass(Reason),
}

/// Headers known not to change the answer's bytes: they stay on a rewrite.
/// `Accept` only as `*/*` (GitHub answers JSON or the asset by `Accept`).
/// Everything not named here or below passes the command through: the
/// cache key is the URL alone, and an unknown name may be a credential.
const NEUTRAL_HEADERS: &[&str] = &[
    "user-agent",
    "referer",
    "cache-control",
    "pragma",
    "connection",
    "dnt",
    "upgrade-insecure-requests",
];

/// Words that make a header an origin credential, removed on an all-hit
/// rewrite (`Authorization`, `PRIVATE-TOKEN`, `X-Api-Key`, `X-Auth-Token`).
const CREDENTIAL_HEADER_WORDS: &[&str] = &["authorization", "token", "key", "secret", "passw"];

/// Classify a `-H`/`--header` value (`Name: value`, or curl's `Name;`).
pub fn header_kind(value: &[u8]) -> HeaderKind {
    if value.starts_with(b"@") {
        return HeaderKind::Pass(Reason::HiddenInput);
    }
    if value.iter().any(|&b| b == b'\r' || b == b'\n') {
        // curl sends each line: a header we cannot see by name.
        return HeaderKind::Pass(Reason::HeaderChangesAnswer);
    }
    let (name, rest) = match value.iter().position(|&b| b == b':' || b == b';') {
        Some(i) => (&value[..i], &value[i..]),
        None => (value, &b""[..]),
    };
    let name = name.trim_ascii().to_ascii_lowercase();
    let header_value = rest.get(1..).unwrap_or_default().trim_ascii();
    let has = |needle: &str| name.windows(needle.len()).any(|w| w == needle.as_bytes());
    let named = |n: &str| name == n.as_bytes();
    if named("cookie") || named("cookie2") {
        HeaderKind::Pass(Reason::SendsCookies)
    } else if named("range") {
        HeaderKind::Range
    } else if name.starts_with(b"if-") {
        HeaderKind::Pass(Reason::OriginMetadata)
    } else if named("host") || named("accept-encoding") || named("proxy-authorization") {
        HeaderKind::Pass(Reason::RequestChanges)
    } else if rest.starts_with(b";") || header_value.is_empty() {
        // `Name;` sends an empty header, `Name:` removes one of curl's own.
        HeaderKind::Pass(Reason::HeaderChangesAnswer)
    } else if named("accept") {
        if header_value == b"*/*" {
            HeaderKind::Neutral
        } else {
            HeaderKind::Pass(Reason::HeaderChangesAnswer)
        }
    } else if NEUTRAL_HEADERS.iter().any(|n| named(n)) {
        HeaderKind::Neutral
    } else if CREDENTIAL_HEADER_WORDS.iter().any(|w| has(w)) {
        HeaderKind::Credential
    } else {
        HeaderKind::Pass(Reason::HeaderChangesAnswer)
    }
}

/// `-w/--write-out` variables whose values are the same whether the bytes came
/// from the origin or the cache (timings differ run to run anyway). Anything
/// else (`url_effective`, `remote_ip`, `content_type`, `%header{}`, …) would
/// show the cache host or its answer, so it passes through.
/// Only what is equal by construction: the status (an origin may answer
/// 203 where the cache says 200), the size (encodings) and the connection
/// count (the cache host's keep-alive) are not.
const SAME_ON_HIT_WRITE_OUT: &[&str] = &[
    "method",
    "speed_download",
    "filename_effective",
    "exitcode",
    "urlnum",
    "onerror",
    "stdout",
    "stderr",
    "time_total",
    "time_namelookup",
    "time_connect",
    "time_appconnect",
    "time_pretransfer",
    "time_posttransfer",
    "time_starttransfer",
    "time_queue",
    "time_redirect",
];

/// Whether a `-w` format gives the same output on a hit.
pub fn write_out_same_on_hit(format: &[u8]) -> Result<(), String> {
    if format.starts_with(b"@") {
        return Err("format read from a file".into());
    }
    let mut i = 0;
    while i < format.len() {
        if format[i] != b'%' {
            i += 1;
            continue;
        }
        let rest = &format[i + 1..];
        if rest.starts_with(b"%") {
            i += 2;
        } else if let Some(body) = rest.strip_prefix(b"{") {
            let end = body.iter().position(|&b| b == b'}').ok_or("unclosed %{")?;
            let name = String::from_utf8_lossy(&body[..end]);
            if !SAME_ON_HIT_WRITE_OUT.contains(&name.as_ref()) {
                return Err(format!("%{{{name}}}"));
            }
            i += end + 3;
        } else if rest.starts_with(b"output{") {
            // %output{file}: where the rest of the text goes; safe.
            let end = rest
                .iter()
                .position(|&b| b == b'}')
                .ok_or("unclosed %output{")?;
            i += end + 2;
        } else if rest.starts_with(b"header{") {
            return Err("%header{}".into());
        } else {
            i += 1;
        }
    }
    Ok(())
}

/// curl `--proto` list (`=https`, `-all,+http`, `http,https`): is `scheme` allowed?
pub fn proto_allows(spec: &[u8], scheme: &str) -> bool {
    let mut allowed_all = true;
    let mut set: Vec<String> = Vec::new();
    let mut denied: Vec<String> = Vec::new();
    for item in spec.split(|&b| b == b',') {
        let item = String::from_utf8_lossy(item.trim_ascii()).to_ascii_lowercase();
        let (op, name) = match item.chars().next() {
            Some(c @ ('=' | '+' | '-')) => (c, item[1..].to_string()),
            _ => ('+', item.clone()),
        };
        if name.is_empty() {
            continue;
        }
        match op {
            '=' => {
                allowed_all = name == "all";
                set = vec![name];
                denied.clear();
            }
            '+' => {
                if name == "all" {
                    allowed_all = true;
                    denied.clear();
                } else {
                    denied.retain(|d| d != &name);
                    set.push(name);
                }
            }
            _ => {
                if name == "all" {
                    allowed_all = false;
                    set.clear();
                } else {
                    set.retain(|s| s != &name);
                    denied.push(name);
                }
            }
        }
    }
    if denied.iter().any(|d| d == scheme) {
        return false;
    }
    allowed_all || set.iter().any(|s| s == scheme)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options;

    #[test]
    fn every_listed_option_exists_in_the_tables() {
        // A typo in the policy would silently make an option neutral.
        let listed: &[(Tool, &[&str])] = &[
            (
                Tool::Curl,
                &[
                    "data",
                    "data-ascii",
                    "data-binary",
                    "data-raw",
                    "data-urlencode",
                    "form",
                    "form-string",
                    "json",
                    "upload-file",
                    "get",
                    "head",
                    "config",
                    "next",
                    "include",
                    "show-headers",
                    "dump-header",
                    "remote-header-name",
                    "etag-compare",
                    "etag-save",
                    "time-cond",
                    "cookie-jar",
                    "hsts",
                    "alt-svc",
                    "ssl-sessions",
                    "libcurl",
                    "xattr",
                    "request-target",
                    "url-query",
                    "connect-to",
                    "resolve",
                    "unix-socket",
                    "abstract-unix-socket",
                    "http2-prior-knowledge",
                    "http3-only",
                    "use-ascii",
                    "quote",
                    "list-only",
                    "aws-sigv4",
                    "httpsig-algo",
                    "httpsig-headers",
                    "httpsig-key",
                    "httpsig-keyid",
                    "haproxy-protocol",
                    "haproxy-clientip",
                    "preproxy",
                    "socks4",
                    "socks4a",
                    "socks5",
                    "socks5-hostname",
                    "help",
                    "manual",
                    "version",
                    "dump-ca-embed",
                    "user",
                    "oauth2-bearer",
                    "cert",
                    "key",
                    "pass",
                    "tlsuser",
                    "tlspassword",
                    "netrc",
                    "netrc-optional",
                    "netrc-file",
                    "url",
                    "header",
                    "cookie",
                    "request",
                    "continue-at",
                    "range",
                    "write-out",
                    "proto",
                    "proxy",
                    "proxy1.0",
                    "noproxy",
                    "globoff",
                    "location",
                    "location-trusted",
                    "max-redirs",
                    "raw",
                    "proxytunnel",
                    "interface",
                    "local-port",
                    "dns-servers",
                    "doh-url",
                    "ipv4",
                    "ipv6",
                ],
            ),
            (
                Tool::Wget,
                &[
                    "post-data",
                    "post-file",
                    "body-data",
                    "body-file",
                    "method",
                    "spider",
                    "input-file",
                    "execute",
                    "config",
                    "input-metalink",
                    "recursive",
                    "mirror",
                    "page-requisites",
                    "server-response",
                    "save-headers",
                    "content-disposition",
                    "timestamping",
                    "trust-server-names",
                    "adjust-extension",
                    "html-extension",
                    "xattr",
                    "convert-links",
                    "convert-file-only",
                    "warc-file",
                    "save-cookies",
                    "hsts-file",
                    "metalink-over-http",
                    "force-directories",
                    "protocol-directories",
                    "accept-regex",
                    "reject-regex",
                    "help",
                    "version",
                    "user",
                    "password",
                    "http-user",
                    "http-password",
                    "http-passwd",
                    "ask-password",
                    "use-askpass",
                    "ftp-user",
                    "ftp-password",
                    "certificate",
                    "private-key",
                    "header",
                    "continue",
                    "start-pos",
                    "proxy",
                    "output-document",
                    "load-cookies",
                    "max-redirect",
                    "glob",
                    "directory-prefix",
                    "bind-address",
                    "dns-servers",
                    "inet4-only",
                    "inet6-only",
                ],
            ),
        ];
        for (tool, names) in listed {
            for name in *names {
                assert!(
                    options::by_long(*tool, name).is_some(),
                    "{tool:?} has no --{name}"
                );
                assert_ne!(
                    effect(*tool, name),
                    Effect::Neutral,
                    "{name} listed but neutral"
                );
            }
        }
    }

    #[test]
    fn every_curl_secret_option_is_handled() {
        // curl wipes these values from its argv; each one must be a removable
        // credential, a reason to pass through, or a proxy credential (which
        // goes to the proxy the cache request uses too).
        let proxy_side = [
            "proxy-user",
            "proxy-pass",
            "proxy-cert",
            "proxy-tlsuser",
            "proxy-tlspassword",
        ];
        for spec in options::table(Tool::Curl).iter().filter(|o| o.secret) {
            let e = effect(Tool::Curl, spec.long);
            assert!(
                e != Effect::Neutral || proxy_side.contains(&spec.long),
                "secret option --{} is neutral",
                spec.long
            );
        }
    }

    #[test]
    fn headers_by_name() {
        assert_eq!(
            header_kind(b"Authorization: Bearer x"),
            HeaderKind::Credential
        );
        assert_eq!(
            header_kind(b"cookie: a=b"),
            HeaderKind::Pass(Reason::SendsCookies)
        );
        assert_eq!(
            header_kind(b"Cookie2: $Version=1"),
            HeaderKind::Pass(Reason::SendsCookies)
        );
        assert_eq!(header_kind(b"X-Api-Key: k"), HeaderKind::Credential);
        assert_eq!(header_kind(b"PRIVATE-TOKEN: k"), HeaderKind::Credential);
        assert_eq!(header_kind(b"X-Password: pw"), HeaderKind::Credential);
        // Not known to be harmless: the answer (or a secret) may depend on it.
        for unknown in [
            &b"X-JFrog-Art-Api: AKCp8"[..],
            b"Signature: keyId=1",
            b"X-Credential: c",
            b"X-Session-Id;",
            b"Accept-Language: de",
            b"Accept: application/vnd.github.v3.raw",
            b"X-A: b\r\nAuthorization: Bearer t",
            b"Accept:",
        ] {
            assert!(
                matches!(header_kind(unknown), HeaderKind::Pass(_)),
                "{}",
                String::from_utf8_lossy(unknown)
            );
        }
        for kept in [
            &b"User-Agent: Mozilla/5.0"[..],
            b"Referer: https://example.com/",
            b"Accept: */*",
            b"Cache-Control: no-cache",
        ] {
            assert_eq!(header_kind(kept), HeaderKind::Neutral);
        }
        assert_eq!(header_kind(b"Range: bytes=0-9"), HeaderKind::Range);
        assert_eq!(
            header_kind(b"If-None-Match: x"),
            HeaderKind::Pass(Reason::OriginMetadata)
        );
        assert_eq!(
            header_kind(b"@headers.txt"),
            HeaderKind::Pass(Reason::HiddenInput)
        );
        assert_eq!(
            header_kind(b"Accept: application/octet-stream"),
            HeaderKind::Pass(Reason::HeaderChangesAnswer)
        );
    }

    #[test]
    fn write_out_variables() {
        // (issue 16 changed these: http_code and size_download were allowed)
        assert!(write_out_same_on_hit(b"%{http_code}\\n").is_err());
        assert!(write_out_same_on_hit(b"%{size_download}").is_err());
        assert!(write_out_same_on_hit(b"%{num_connects}").is_err());
        assert!(write_out_same_on_hit(b"100%% %{filename_effective} %{time_total}").is_ok());
        assert!(write_out_same_on_hit(b"%output{log}%{exitcode}").is_ok());
        assert!(write_out_same_on_hit(b"%{url_effective}").is_err());
        assert!(write_out_same_on_hit(b"%{remote_ip}").is_err());
        assert!(write_out_same_on_hit(b"%header{etag}").is_err());
        assert!(write_out_same_on_hit(b"@fmt.txt").is_err());
        assert!(write_out_same_on_hit(b"%{http_code").is_err());
    }

    #[test]
    fn proto_lists() {
        assert!(proto_allows(b"=http,https", "http"));
        assert!(!proto_allows(b"=https", "http"));
        assert!(proto_allows(b"-ftp", "http"));
        assert!(!proto_allows(b"-all,https", "http"));
        assert!(proto_allows(b"-all,+http", "http"));
        assert!(!proto_allows(b"all,-http", "http"));
        assert!(proto_allows(b"https", "http"));
    }
}
