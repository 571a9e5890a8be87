//! The functional core: (tool, argv, environment, config files, probe answers)
//! in, a decision out. No processes, sockets or files here (config files come
//! through an injected reader).
//!
//! Two steps, because the probe sits between them:
//! `prepare` decides whether the command may be served from the cache at all
//! and which URL arguments to probe; `finish` takes the probe answers and
//! returns the final argv.

use crate::cache_url::{self, CacheServer, NotRewritable, Origin, ServerScheme};
use crate::cmdline::{self, Occurrence, Span};
use crate::config_files::{self, ConfigSource};
use crate::env_view::EnvView;
use crate::options::Takes;
use crate::policy::{self, Effect, HeaderKind, Reason};
use crate::revalidate::{Policy, Stability};
use crate::route::{self, IpFamily, ProbeRoute, ProxyOverrides};
use crate::sent_to_origin;
use crate::settings;
use crate::tool::Tool;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// The command runs exactly as written, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassThrough {
    pub reason: Reason,
    /// The option, URL or setting behind the reason (never a secret value).
    pub detail: String,
}

impl PassThrough {
    fn new(reason: Reason, detail: impl Into<String>) -> PassThrough {
        PassThrough {
            reason,
            detail: detail.into(),
        }
    }
}

/// A URL argument that will be probed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Index in argv (without argv[0]) of the whole URL argument.
    pub index: usize,
    pub origin: Origin,
    pub cache_url: String,
    /// What the origin must be asked before a hit counts.
    pub questions: OriginQuestions,
    /// What the URL says of its answer's stability (`revalidate::classify`).
    pub stability: String,
}

/// The questions a hit depends on, asked of the origin with the real curl.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OriginQuestions {
    /// curl without `-L`: does the origin answer this URL with 2xx, or
    /// would curl save a redirect as it is?
    pub redirect: bool,
    /// Credentials would be removed: does the origin's answer depend on them?
    pub identity: bool,
    /// curl `--compressed`: does the origin send the file encoded (then curl
    /// would decode what the cache holds as sent)?
    pub encoding: bool,
    /// Is the cache's copy what the origin serves now (`revalidate`)?
    pub freshness: bool,
}

impl OriginQuestions {
    pub fn any(self) -> bool {
        self.redirect || self.identity || self.encoding || self.freshness
    }

    pub fn names(self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.redirect {
            v.push("redirect");
        }
        if self.identity {
            v.push("identity");
        }
        if self.encoding {
            v.push("encoding");
        }
        if self.freshness {
            v.push("freshness");
        }
        v
    }
}

/// One answer of the origin to the real curl's check: a status, or the
/// transfer's curl exit code when there was none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OriginReply {
    /// 0: no HTTP answer.
    pub status: u16,
    /// curl's exit code for the transfer.
    pub exit: i32,
    pub etag: String,
    pub length: String,
    /// Where a 3xx points.
    pub location: String,
    /// `Content-Encoding` of the answer.
    pub encoding: String,
    /// `Cache-Control` of the answer.
    pub cache_control: String,
    /// `Last-Modified` of the answer.
    pub last_modified: String,
    /// Connections curl made for the transfer (`%{num_connects}`): 0 with a
    /// timeout means none could be made.
    pub connects: u32,
    /// The proxy's answer to CONNECT (`%{http_connect}`), 0 when none.
    pub tunnel: u16,
}

/// curl exit codes that, with no connection made, mean the origin could not
/// be reached: the proxy's name (5) or the origin's (6) did not resolve, no
/// connection (7), none within the connect timeout (28).
const NO_CONNECTION: &[i32] = &[5, 6, 7, 28];

impl OriginReply {
    /// The origin could not be reached at all: no name, no route, no
    /// connection (or the proxy could not open a tunnel to it). A connection
    /// that was made — however slow, reset, empty or refused at the TLS
    /// layer — is an origin that answered.
    pub fn unreachable(&self) -> bool {
        if self.status != 0 {
            return false;
        }
        let no_connection = self.connects == 0 && NO_CONNECTION.contains(&self.exit);
        let no_tunnel = self.exit == 56 && self.tunnel != 0 && !(200..300).contains(&self.tunnel);
        no_connection || no_tunnel
    }

    /// Reached, but no answer in time, or the connection dropped (empty
    /// reply, reset): remembered for the URL, so the next call passes
    /// through without waiting again. Never a TLS failure, which may be the
    /// command's own configuration.
    pub fn dropped_or_slow(&self) -> bool {
        self.status == 0 && !self.unreachable() && matches!(self.exit, 28 | 52 | 55 | 56)
    }

    /// The origin says a shared cache must not serve this answer.
    pub fn private(&self) -> bool {
        self.cache_control.split(',').any(|d| {
            let name = d.split('=').next().unwrap_or_default().trim();
            name.eq_ignore_ascii_case("private") || name.eq_ignore_ascii_case("no-store")
        })
    }

    /// The same answer as `other`, as far as one can tell without the body:
    /// same status, and the same validator (ETag, else Content-Length, and
    /// for a redirect its target). No validator at all: cannot tell.
    fn same_as(&self, other: &OriginReply) -> bool {
        if self.status != other.status || self.location != other.location {
            return false;
        }
        if !self.etag.is_empty() || !other.etag.is_empty() {
            return self.etag == other.etag;
        }
        !self.length.is_empty() && self.length == other.length
    }
}

/// What the cache host's answer to the probe says about its copy: its
/// length and time, and the origin's validators when the host recorded them
/// (`x-amz-meta-origin-*` on an S3-compatible store, `X-Withcache-Origin-*`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheCopy {
    pub length: Option<u64>,
    pub last_modified: String,
    pub origin_etag: String,
    pub origin_last_modified: String,
    pub origin_length: Option<u64>,
}

impl CacheCopy {
    /// The header names it reads (lower case).
    pub const HEADERS: [&'static str; 8] = [
        "content-length",
        "last-modified",
        "x-amz-meta-origin-etag",
        "x-amz-meta-origin-last-modified",
        "x-amz-meta-origin-length",
        "x-withcache-origin-etag",
        "x-withcache-origin-last-modified",
        "x-withcache-origin-length",
    ];

    /// From the probe answer's header lines (name, value).
    pub fn from_headers<'a>(headers: impl Iterator<Item = (&'a str, &'a str)>) -> CacheCopy {
        let mut copy = CacheCopy::default();
        for (name, value) in headers {
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => copy.length = value.parse().ok(),
                "last-modified" => copy.last_modified = value.to_string(),
                "x-amz-meta-origin-etag" | "x-withcache-origin-etag" => {
                    copy.origin_etag = value.to_string()
                }
                "x-amz-meta-origin-last-modified" | "x-withcache-origin-last-modified" => {
                    copy.origin_last_modified = value.to_string()
                }
                "x-amz-meta-origin-length" | "x-withcache-origin-length" => {
                    copy.origin_length = value.parse().ok()
                }
                _ => {}
            }
        }
        copy
    }
}

/// Every candidate's probe answer, what the cache host said of its copy
/// (same order), and whether the cache host itself could not be reached (for
/// the dead-cache memory).
#[derive(Clone, Debug, Default)]
pub struct Probed {
    pub answers: Vec<ProbeAnswer>,
    pub copies: Vec<CacheCopy>,
    pub host_dead: bool,
}

/// What the origin's answers make of a hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginVerdict {
    /// The questions are answered: the hit stands.
    Holds,
    /// The origin could not be asked (offline lab): the direct command
    /// could not have produced anything, so the cache's copy is served.
    Offline,
    /// A redirect (or another non-2xx) curl would save as it is.
    Not2xx,
    /// The answer depends on the credentials the rewrite would remove.
    DependsOnIdentity,
    /// The origin sends the file encoded, which curl `--compressed` decodes.
    Encoded,
    /// `Cache-Control: private` or `no-store`: not for a shared cache.
    Private,
    /// The cache's copy is not provably what the origin serves now.
    Stale,
    /// No usable answer: the origin was reached but gave none (slow, reset,
    /// empty, refused at the TLS layer: the direct command fails or waits
    /// too), or the check could not run. The command passes through.
    NoAnswer,
}

/// `main`: the origin's answer to the request as the command sends it
/// (its credentials included); `anonymous`: to the same request without
/// the credentials (asked only for the identity question).
pub fn origin_verdict(
    questions: OriginQuestions,
    main: Option<&OriginReply>,
    anonymous: Option<&OriginReply>,
    copy: &CacheCopy,
) -> OriginVerdict {
    let Some(main) = main else {
        return OriginVerdict::NoAnswer;
    };
    if main.unreachable() || anonymous.is_some_and(OriginReply::unreachable) {
        return OriginVerdict::Offline;
    }
    if main.status == 0 {
        return OriginVerdict::NoAnswer;
    }
    let success = (200..300).contains(&main.status);
    if questions.redirect && !success {
        return OriginVerdict::Not2xx;
    }
    if main.private() {
        return OriginVerdict::Private;
    }
    if questions.encoding && !matches!(main.encoding.trim(), "" | "identity") {
        return OriginVerdict::Encoded;
    }
    if questions.identity {
        // The credentials must work: a refused (wrong, expired) one fails
        // the direct command, whatever the answer without it.
        if !success {
            return OriginVerdict::DependsOnIdentity;
        }
        let Some(anon) = anonymous else {
            return OriginVerdict::NoAnswer;
        };
        if anon.status == 0 {
            return OriginVerdict::NoAnswer;
        }
        // Refused without them: the cache holds what an authorised client
        // fetched. Or the same answer either way.
        let refused = matches!(anon.status, 401 | 403);
        if !(refused || anon.same_as(main)) {
            return OriginVerdict::DependsOnIdentity;
        }
    }
    if questions.freshness {
        if !success {
            // (The command follows redirects: its final answer is not the
            // file any more.)
            return OriginVerdict::Stale;
        }
        if freshness(main, copy).is_err() {
            return OriginVerdict::Stale;
        }
    }
    OriginVerdict::Holds
}

impl OriginVerdict {
    pub fn code(self) -> &'static str {
        match self {
            OriginVerdict::Holds => "holds",
            OriginVerdict::Offline => "offline",
            OriginVerdict::Not2xx => "not-2xx",
            OriginVerdict::DependsOnIdentity => "depends-on-identity",
            OriginVerdict::Encoded => "encoded",
            OriginVerdict::Private => "private",
            OriginVerdict::Stale => "stale",
            OriginVerdict::NoAnswer => "no-answer",
        }
    }

    /// The probe answer a hit becomes.
    pub fn applied_to(self, hit: ProbeAnswer) -> ProbeAnswer {
        match self {
            OriginVerdict::Holds | OriginVerdict::Offline => hit,
            OriginVerdict::Not2xx => ProbeAnswer::OriginNot2xx,
            OriginVerdict::DependsOnIdentity => ProbeAnswer::OriginIdentity,
            OriginVerdict::Encoded => ProbeAnswer::OriginEncoded,
            OriginVerdict::Private => ProbeAnswer::OriginPrivate,
            OriginVerdict::Stale => ProbeAnswer::OriginStale,
            OriginVerdict::NoAnswer => ProbeAnswer::OriginNoAnswer,
        }
    }
}

/// Answers smaller than this, when nothing but an equal length can be
/// compared, are fetched from the origin: a version pointer or a script costs
/// little to fetch, and a patch release often keeps its length. Larger ones
/// are served.
pub const SMALL_ANSWER: u64 = 1 << 20;

/// Whether the cache's copy is provably the origin's answer now: every
/// validator the cache host recorded equals the origin's, lengths agree, and
/// the copy is not older than the origin's `Last-Modified`; or, with only an
/// equal length to go by, the answer is large. Why, either way.
pub fn freshness(main: &OriginReply, copy: &CacheCopy) -> Result<String, String> {
    let origin_len: Option<u64> = main.length.trim().parse().ok();
    let mut proven = Vec::new();
    let etag = copy.origin_etag.trim();
    if !etag.is_empty() {
        if etag != main.etag.trim() {
            return Err(format!(
                "origin ETag {}, the cache recorded {etag}",
                main.etag.trim()
            ));
        }
        proven.push("ETag");
    }
    let recorded = copy.origin_last_modified.trim();
    if !recorded.is_empty() {
        if http_date(recorded) != http_date(&main.last_modified) || http_date(recorded).is_none() {
            return Err(format!(
                "origin Last-Modified {}, the cache recorded {recorded}",
                main.last_modified.trim()
            ));
        }
        proven.push("Last-Modified");
    }
    if let (Some(l), Some(o)) = (copy.origin_length, origin_len)
        && l != o
    {
        return Err(format!("origin {o} bytes, the cache recorded {l}"));
    }
    match (origin_len, copy.length) {
        (Some(o), Some(c)) if o != c => {
            return Err(format!("origin {o} bytes, cache {c}"));
        }
        _ => {}
    }
    if let (Some(origin), Some(cached)) = (
        http_date(&main.last_modified),
        http_date(&copy.last_modified),
    ) {
        if cached < origin {
            return Err(format!(
                "origin Last-Modified {}, the cache's copy is older ({})",
                main.last_modified.trim(),
                copy.last_modified.trim()
            ));
        }
        proven.push("Last-Modified");
    }
    if !proven.is_empty() {
        return Ok(format!("{} agree", proven.join(" and ")));
    }
    match (origin_len, copy.length) {
        (Some(o), Some(c)) if o == c && o > SMALL_ANSWER => {
            Ok(format!("same length ({o} bytes), large"))
        }
        (Some(o), Some(_)) => Err(format!(
            "nothing but the length to compare, and {o} bytes is small"
        )),
        _ => Err("nothing to compare".into()),
    }
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, the form HTTP requires)
/// as seconds since the epoch; None for any other form.
pub fn http_date(text: &str) -> Option<u64> {
    let f: Vec<&str> = text.split_ascii_whitespace().collect();
    if f.len() != 6 || f[5] != "GMT" {
        return None;
    }
    let day: u64 = f[1].parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == f[2])? as u64
        + 1;
    let year: u64 = f[3].parse().ok()?;
    let hms: Vec<u64> = f[4]
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    if hms.len() != 3 || year < 1970 || !(1..=31).contains(&day) {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2])
}

/// The origin's `max-age` from its `Cache-Control`, if any.
pub fn max_age(cache_control: &str) -> Option<u64> {
    cache_control.split(',').find_map(|d| {
        let (name, value) = d.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| value.trim().trim_matches('"').parse().ok())?
    })
}

/// A URL argument left as written whatever the cache holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub index: usize,
    pub why: NotRewritable,
}

/// An option carrying origin credentials, removable from argv.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    pub span: Span,
    /// e.g. `--user`, `--header Authorization`; names only, never values.
    pub name: String,
    /// A switch (`-n`): inside a cluster only its letter goes; an option
    /// with a value ends its cluster, which is cut before it.
    pub is_switch: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prepared {
    pub server: CacheServer,
    pub candidates: Vec<Candidate>,
    pub skipped: Vec<Skipped>,
    /// Resume or range requested: a hit needs `Accept-Ranges: bytes`.
    pub needs_ranges: bool,
    pub credentials: Vec<Credential>,
    pub route: ProbeRoute,
    /// curl without `-L`: the cache holds what the URL finally resolves to,
    /// while the real curl would save a redirect as it is; a hit counts only
    /// when the origin itself answers the URL with 2xx (the shell asks it
    /// with the real tool and reports `OriginNot2xx` otherwise).
    pub origin_check: bool,
    /// The command's own options for that check (`policy::CURL_ORIGIN_CHECK_OPTIONS`),
    /// from argv and the config files the planner read, in order, as (long
    /// name, value): how the real curl reaches the origin, nothing else.
    pub origin_check_args: Vec<CheckOption>,
    /// The origin credentials as the command sends them (long name, value):
    /// the check asks the origin with them too, never the cache host.
    pub identity_args: Vec<CheckOption>,
    /// `-4`/`-6`: the probe connects over the same family.
    pub ip_family: IpFamily,
    /// GNU wget keeps cookies between the URLs of one command: a cookie the
    /// origin sets on one URL may be needed by a later one.
    pub cookie_flow: bool,
    /// wget's options for probing an https cache host with wget itself
    /// (`tool_probe::WGET_PROBE_OPTIONS`, from argv and wgetrc).
    pub probe_args: Vec<CheckOption>,
    /// wgetrc proxy commands (`http_proxy`, `https_proxy`, `no_proxy`, as
    /// wget's command names), for that probe's `-e`.
    pub probe_wgetrc: Vec<(String, Vec<u8>)>,
}

pub use crate::sent_to_origin::CheckOption;

#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // built once per command, never stored
pub enum Preparation {
    PassThrough(PassThrough),
    Probe(Prepared),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeAnswer {
    Hit {
        accepts_ranges: bool,
    },
    Miss,
    Unreachable,
    /// Not asked: the real tool would send bytes no HTTP request of ours can
    /// carry (BusyBox's raw non-ASCII). Counts as a miss.
    Unprobeable,
    /// In the cache, but the origin does not answer this URL with 2xx (see
    /// `Prepared::origin_check`). Counts as a miss.
    OriginNot2xx,
    /// In the cache, but the origin's answer depends on the credentials the
    /// rewrite would remove. Counts as a miss.
    OriginIdentity,
    /// In the cache, but the origin sends it encoded and curl `--compressed`
    /// would decode it. Counts as a miss.
    OriginEncoded,
    /// In the cache, but the origin marks its answer `private`/`no-store`.
    /// Counts as a miss.
    OriginPrivate,
    /// In the cache, but not provably what the origin serves now. Counts as
    /// a miss.
    OriginStale,
    /// In the cache, but the origin gave no usable answer (reached, yet
    /// slow, reset or failing at the TLS layer), or could not be asked
    /// without reading the user's input. Counts as a miss.
    OriginNoAnswer,
}

impl ProbeAnswer {
    pub fn code(self) -> &'static str {
        match self {
            ProbeAnswer::Hit {
                accepts_ranges: true,
            } => "hit-ranges",
            ProbeAnswer::Hit { .. } => "hit",
            ProbeAnswer::Miss => "miss",
            ProbeAnswer::Unreachable => "unreachable",
            ProbeAnswer::Unprobeable => "unprobeable",
            ProbeAnswer::OriginNot2xx => "origin-not-2xx",
            ProbeAnswer::OriginIdentity => "origin-identity",
            ProbeAnswer::OriginEncoded => "origin-encoded",
            ProbeAnswer::OriginPrivate => "origin-private",
            ProbeAnswer::OriginStale => "origin-stale",
            ProbeAnswer::OriginNoAnswer => "origin-no-answer",
        }
    }

    pub fn from_code(code: &str) -> Option<ProbeAnswer> {
        Some(match code {
            "hit" => ProbeAnswer::Hit {
                accepts_ranges: false,
            },
            "hit-ranges" => ProbeAnswer::Hit {
                accepts_ranges: true,
            },
            "miss" => ProbeAnswer::Miss,
            "unreachable" => ProbeAnswer::Unreachable,
            "unprobeable" => ProbeAnswer::Unprobeable,
            "origin-not-2xx" => ProbeAnswer::OriginNot2xx,
            "origin-identity" => ProbeAnswer::OriginIdentity,
            "origin-encoded" => ProbeAnswer::OriginEncoded,
            "origin-private" => ProbeAnswer::OriginPrivate,
            "origin-stale" => ProbeAnswer::OriginStale,
            "origin-no-answer" => ProbeAnswer::OriginNoAnswer,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewrite {
    pub argv: Vec<OsString>,
    /// (origin, cache URL) for every rewritten argument.
    pub hits: Vec<(String, String)>,
    /// Names of the credential options removed.
    pub removed: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    PassThrough(PassThrough),
    Rewrite(Rewrite),
}

pub struct PlanInput<'a> {
    pub tool: Tool,
    /// Arguments after argv[0].
    pub args: &'a [OsString],
    pub env: &'a dyn EnvView,
    pub config: &'a dyn ConfigSource,
    /// The real wget is BusyBox's: it reads no `no_proxy` at all.
    pub busybox: bool,
}

/// A reason to pass through. A boolean switch (`key` = its name) counts only
/// in its last state: `-r --no-recursive` is fine.
struct Block {
    key: Option<&'static str>,
    on: bool,
    pass: PassThrough,
}

/// Everything the options of one command (argv plus config files) add up to.
#[derive(Default)]
struct Facts {
    url_values: Vec<usize>,
    needs_ranges: bool,
    glob_off: bool,
    output_document: bool,
    credentials: Vec<Credential>,
    proxy: ProxyOverrides,
    proto: Option<Vec<u8>>,
    write_out: Option<Vec<u8>>,
    /// Reasons to pass through, in command-line order (config files first).
    blocks: Vec<Block>,
    wget_no_config: bool,
    /// curl `-L` (last state); wget always follows.
    follows_redirects: Option<bool>,
    max_redirects: Option<Vec<u8>>,
    /// wget `--content-disposition` / `--trust-server-names` (last state).
    server_names_file: Option<bool>,
    /// wget `--glob` (last state; on by default).
    wget_glob: Option<bool>,
    /// wget `-P`.
    directory_prefix: Option<Vec<u8>>,
    origin_check_args: Vec<CheckOption>,
    identity_args: Vec<CheckOption>,
    /// wget `--user`/`--password` and kin (`policy::WGET_CHALLENGE_CREDENTIALS`).
    wget_challenge_credentials: bool,
    /// A wget credential the check cannot ask about (certificates, FTP).
    wget_unaskable_credential: Option<String>,
    /// wget `--auth-no-challenge` (last state).
    wget_auth_no_challenge: bool,
    /// wget `--user`/`--password` and their `--http-` forms (argv only).
    wget_login: WgetLogin,
    /// curl `--compressed` (last state).
    compressed: Option<bool>,
    /// wget `-N` (last state).
    timestamping: Option<bool>,
    /// wget `--cookies` (last state; on by default).
    wget_cookies: Option<bool>,
    /// wget `--hsts` (last state; on by default).
    wget_hsts: Option<bool>,
    probe_args: Vec<CheckOption>,
    ip_family: Option<IpFamily>,
}

/// wget's login for HTTP: `--http-user` before `--user`, likewise the
/// password (wget's `http_user ? http_user : user`).
#[derive(Default)]
struct WgetLogin {
    user: Option<Vec<u8>>,
    http_user: Option<Vec<u8>>,
    password: Option<Vec<u8>>,
    http_password: Option<Vec<u8>>,
}

impl WgetLogin {
    /// The identity question in curl's words: `--anyauth` sends nothing
    /// until the origin asks, then answers the challenge, as wget does.
    /// None when there is no user (wget then sends nothing), Err when curl
    /// cannot say it (a `:` in the user name).
    fn as_curl(&self) -> Result<Option<Vec<CheckOption>>, ()> {
        let Some(user) = self.http_user.as_ref().or(self.user.as_ref()) else {
            return Ok(None);
        };
        if user.contains(&b':') {
            return Err(());
        }
        let password = self.http_password.as_ref().or(self.password.as_ref());
        let mut login = user.clone();
        login.push(b':');
        login.extend_from_slice(password.map_or(&[][..], Vec::as_slice));
        Ok(Some(vec![
            ("user".into(), Some(login)),
            ("anyauth".into(), None),
        ]))
    }
}

pub fn prepare(input: &PlanInput) -> Preparation {
    match prepare_inner(input) {
        Ok(p) => Preparation::Probe(p),
        Err(p) => Preparation::PassThrough(p),
    }
}

fn prepare_inner(input: &PlanInput) -> Result<Prepared, PassThrough> {
    let tool = input.tool;
    let (var, value) = settings::server_setting(tool, input.env)
        .ok_or_else(|| PassThrough::new(Reason::NoServer, ""))?;
    let server = CacheServer::parse(&value.to_string_lossy())
        .map_err(|e| PassThrough::new(Reason::BadServer, format!("{var}: {e}")))?;

    let posixly_correct = input.env.var("POSIXLY_CORRECT").is_some();
    let parsed = cmdline::parse(tool, input.args, posixly_correct)
        .map_err(|e| PassThrough::new(Reason::Unparsable, e.to_string()))?;

    let mut facts = Facts::default();
    for occ in &parsed.options {
        apply(tool, occ, false, &mut facts);
    }

    let config = config_files::load(
        tool,
        input.args,
        facts.wget_no_config,
        input.env,
        input.config,
    )
    .map_err(|e| {
        let reason = if e.hidden {
            Reason::HiddenInput
        } else {
            Reason::Unparsable
        };
        PassThrough::new(
            reason,
            format!("{}:{}: {}", e.file.display(), e.line, e.what),
        )
    })?;
    // Config options come first on the real tool's command line: argv wins
    // for switches, so apply them first and re-apply argv switches after.
    let mut from_config = Facts::default();
    let mut config_has_url = false;
    for c in &config {
        let before = from_config.url_values.len();
        let first_new = from_config.blocks.len();
        apply(tool, &c.occurrence, true, &mut from_config);
        for b in &mut from_config.blocks[first_new..] {
            b.pass.detail = format!("{} in {}", b.pass.detail, c.file.display());
        }
        config_has_url |= from_config.url_values.len() > before;
    }
    let mut probe_wgetrc = Vec::new();
    if tool == Tool::Wget {
        // (Each file once, in the order read.)
        let mut files: Vec<&std::path::Path> = config.iter().map(|c| c.file.as_path()).collect();
        files.dedup();
        for file in files {
            if let Some(text) = input.config.read(file) {
                for (name, v) in config_files::wgetrc_proxy_settings(&text) {
                    // GNU wget's probe of an https cache host runs with
                    // --no-config: these go to it as `-e` commands.
                    probe_wgetrc.push((name.clone(), v.clone()));
                    match name.as_str() {
                        "noproxy" => from_config.proxy.wgetrc_no_proxy.push(v),
                        n if n == "httpproxy" && server.scheme == ServerScheme::Http => {
                            from_config.proxy.proxy = Some(v)
                        }
                        n if n == "httpsproxy" && server.scheme == ServerScheme::Https => {
                            from_config.proxy.proxy = Some(v)
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    merge_config_first(&mut facts, from_config);

    for (i, b) in facts.blocks.iter().enumerate() {
        let overridden = b.key.is_some() && facts.blocks[i + 1..].iter().any(|l| l.key == b.key);
        if b.on && !overridden {
            return Err(b.pass.clone());
        }
    }
    if facts.timestamping == Some(true) {
        // The origin's dates decide whether to download and give the file
        // its time: a hit would give the cache host's. (With -O wget skips
        // the date check but still stamps the file with Last-Modified.)
        return Err(PassThrough::new(Reason::OriginMetadata, "--timestamping"));
    }
    if facts.server_names_file == Some(true) && !facts.output_document {
        // With -O the server cannot choose the name; without it, it can.
        return Err(PassThrough::new(
            Reason::OriginMetadata,
            "--content-disposition or --trust-server-names without -O",
        ));
    }
    let no_redirects = facts
        .max_redirects
        .as_deref()
        .is_some_and(|v| v.trim_ascii() == b"0");
    // A bound on the redirects followed (other than none, asked as the
    // redirect question, and curl's -1, no bound): a longer chain fails
    // directly (curl exit 47, wget 8) where the cache serves the final file.
    let follows = tool == Tool::Wget || facts.follows_redirects == Some(true);
    if follows
        && let Some(v) = facts.max_redirects.as_deref()
        && !matches!(v.trim_ascii(), b"0" | b"-1")
    {
        return Err(PassThrough::new(
            Reason::RedirectPolicy,
            format!(
                "a bound of {} redirects",
                String::from_utf8_lossy(v.trim_ascii())
            ),
        ));
    }
    if let Some(name) = &facts.wget_unaskable_credential {
        // Whether the answer depends on a client certificate or an FTP login
        // cannot be asked with a HEAD.
        return Err(PassThrough::new(Reason::OriginIdentity, name.clone()));
    }
    if facts.wget_challenge_credentials && !facts.wget_auth_no_challenge {
        // Whether the origin accepts them is asked (a refused login fails the
        // direct command).
        match facts.wget_login.as_curl() {
            Ok(Some(mut login)) => facts.identity_args.append(&mut login),
            Ok(None) => {}
            Err(()) => {
                return Err(PassThrough::new(
                    Reason::OriginIdentity,
                    "a wget user name curl cannot send",
                ));
            }
        }
    }
    if facts.wget_challenge_credentials && facts.wget_auth_no_challenge {
        // Then they are sent at once, and would have to be asked about in
        // curl's terms: not done.
        return Err(PassThrough::new(
            Reason::OriginIdentity,
            "--auth-no-challenge with --user/--password",
        ));
    }
    if tool == Tool::Wget && facts.compressed == Some(true) {
        // The check asks as wget does (curl's --compressed would offer more).
        facts
            .origin_check_args
            .push(("header".into(), Some(b"Accept-Encoding: gzip".to_vec())));
    }
    if tool == Tool::Wget
        && !input.busybox
        && server.scheme == ServerScheme::Http
        && facts.wget_hsts != Some(false)
        && let Some(home) = input
            .env
            .non_empty("HOME")
            .map(std::path::PathBuf::from)
            .or_else(|| input.config.password_home())
        && let Some(db) = input.config.read(&home.join(".wget-hsts"))
        && config_files::wget_hsts_upgrades(&db, &server.host, server.port, input.config.now_unix())
    {
        // wget would fetch the cache URL over https (and fail, or reach
        // something else): the probe over http says nothing about that.
        return Err(PassThrough::new(
            Reason::CacheHsts,
            format!("~/.wget-hsts names {}", server.host),
        ));
    }
    let origin_check = match tool {
        Tool::Curl => facts.follows_redirects != Some(true) || no_redirects,
        Tool::Wget if no_redirects => {
            return Err(PassThrough::new(
                Reason::RedirectNotFollowed,
                "--max-redirect=0",
            ));
        }
        Tool::Wget => false,
    };
    if let Some(spec) = &facts.proto {
        let scheme = match server.scheme {
            ServerScheme::Http => "http",
            ServerScheme::Https => "https",
        };
        if !policy::proto_allows(spec, scheme) {
            return Err(PassThrough::new(
                Reason::ProtoExcludesCache,
                format!("--proto {}", String::from_utf8_lossy(spec)),
            ));
        }
    }
    if let Some(format) = &facts.write_out {
        policy::write_out_same_on_hit(format)
            .map_err(|what| PassThrough::new(Reason::WriteOut, what))?;
    }
    facts.proxy.ignores_no_proxy = input.busybox && tool == Tool::Wget;
    let route = route::probe_route(tool, &server, &facts.proxy, input.env)
        .map_err(|what| PassThrough::new(Reason::ProxyUnprobeable, what))?;

    // Every operand is a URL to both tools; so is curl's --url value.
    let mut url_indexes: Vec<usize> = parsed.operands.clone();
    url_indexes.extend(&facts.url_values);
    url_indexes.sort_unstable();
    if url_indexes.is_empty() {
        return Err(PassThrough::new(Reason::NoUrl, ""));
    }
    let blob_prefix = server.blob_prefix();
    let policy = Policy::from_env(input.env);
    let keep_query = settings::keep_query(input.env);
    let require_tls = server.scheme == ServerScheme::Http && settings::REQUIRE_TLS.get(input.env);
    let mut lan = crate::machine_local::LanOrigins::parse(
        &input
            .env
            .non_empty_str(crate::machine_local::LAN_ORIGINS_VAR)
            .unwrap_or_default(),
    );
    if crate::machine_local::is_loopback_host(&server.host) {
        lan = lan.with_loopback();
    }
    let rules = UrlRules {
        blob_prefix: &blob_prefix,
        keep_query,
        lan: &lan,
        busybox: input.busybox && tool == Tool::Wget,
        require_tls,
    };
    let mut candidates = Vec::new();
    let mut skipped = Vec::new();
    for index in url_indexes {
        let raw = input.args[index].as_bytes();
        let checked = rewritable(tool, raw, &facts, &rules);
        match checked {
            Ok(origin) => candidates.push({
                let stability = crate::revalidate::classify(&origin.key);
                Candidate {
                    index,
                    cache_url: server.cache_url(&origin),
                    questions: {
                        let mut q = OriginQuestions {
                            redirect: origin_check,
                            identity: !facts.identity_args.is_empty(),
                            encoding: facts.compressed == Some(true),
                            freshness: false,
                        };
                        // Revalidated when the URL may move, or whenever the
                        // origin is asked anyway (no extra cost).
                        q.freshness = match policy {
                            Policy::Off => false,
                            Policy::Always => true,
                            Policy::Auto => q.any() || matches!(stability, Stability::Moving(_)),
                        };
                        q
                    },
                    stability: match &stability {
                        Stability::Release(why) => format!("trusted: {why}"),
                        Stability::Moving(why) => format!("revalidated: {why}"),
                    },
                    origin,
                }
            }),
            Err(why) => skipped.push(Skipped { index, why }),
        }
    }
    if candidates.is_empty() {
        if skipped
            .iter()
            .any(|s| s.why == NotRewritable::CleartextCache)
        {
            return Err(PassThrough::new(
                Reason::CleartextCache,
                "WITHCACHE_REQUIRE_TLS=1 and an http cache host",
            ));
        }
        let why = skipped.first().map(|s| s.why.code()).unwrap_or("");
        return Err(PassThrough::new(Reason::NoRewritableUrl, why));
    }
    if !facts.credentials.is_empty() && (!skipped.is_empty() || config_has_url) {
        // Those URLs go to the origin and need the credentials we would remove.
        return Err(PassThrough::new(
            Reason::CredentialsWithMiss,
            "a URL that cannot be served from the cache needs the credentials",
        ));
    }
    Ok(Prepared {
        server,
        candidates,
        skipped,
        needs_ranges: facts.needs_ranges,
        credentials: facts.credentials,
        route,
        origin_check,
        origin_check_args: facts.origin_check_args,
        identity_args: facts.identity_args,
        ip_family: facts.ip_family.unwrap_or_default(),
        cookie_flow: tool == Tool::Wget && !input.busybox && facts.wget_cookies != Some(false),
        probe_args: facts.probe_args,
        probe_wgetrc,
    })
}

/// Config-file settings sit before argv: argv's later settings win.
fn merge_config_first(facts: &mut Facts, config: Facts) {
    let mut blocks = config.blocks;
    blocks.append(&mut facts.blocks);
    facts.blocks = blocks;
    facts.needs_ranges |= config.needs_ranges;
    facts.glob_off |= config.glob_off;
    facts.output_document |= config.output_document;
    facts.proxy.disabled |= config.proxy.disabled;
    if facts.proxy.proxy.is_none() {
        facts.proxy.proxy = config.proxy.proxy;
    }
    if facts.proxy.no_proxy.is_none() {
        facts.proxy.no_proxy = config.proxy.no_proxy;
    }
    if facts.proxy.user.is_none() {
        facts.proxy.user = config.proxy.user;
    }
    if facts.proxy.password.is_none() {
        facts.proxy.password = config.proxy.password;
    }
    facts.proxy.wgetrc_no_proxy = config.proxy.wgetrc_no_proxy;
    if facts.proto.is_none() {
        facts.proto = config.proto;
    }
    if facts.write_out.is_none() {
        facts.write_out = config.write_out;
    }
    facts.follows_redirects = facts.follows_redirects.or(config.follows_redirects);
    facts.max_redirects = facts.max_redirects.take().or(config.max_redirects);
    facts.server_names_file = facts.server_names_file.or(config.server_names_file);
    facts.wget_glob = facts.wget_glob.or(config.wget_glob);
    facts.directory_prefix = facts.directory_prefix.take().or(config.directory_prefix);
    facts.ip_family = facts.ip_family.or(config.ip_family);
    facts.wget_auth_no_challenge |= config.wget_auth_no_challenge;
    facts.compressed = facts.compressed.or(config.compressed);
    facts.timestamping = facts.timestamping.or(config.timestamping);
    facts.wget_cookies = facts.wget_cookies.or(config.wget_cookies);
    facts.wget_hsts = facts.wget_hsts.or(config.wget_hsts);
    let mut probe = config.probe_args;
    probe.append(&mut facts.probe_args);
    facts.probe_args = probe;
    let mut check = config.origin_check_args;
    check.append(&mut facts.origin_check_args);
    facts.origin_check_args = check;
}

fn check_option(occ: &Occurrence) -> CheckOption {
    let prefix = if occ.enabled { "" } else { "no-" };
    (format!("{prefix}{}", occ.spec.long), occ.value.clone())
}

fn long_name(occ: &Occurrence) -> String {
    format!("--{}", occ.spec.long)
}

/// Fold one option occurrence into `facts`.
/// `from_config`: the option came from a config file and cannot be removed.
fn apply(tool: Tool, occ: &Occurrence, from_config: bool, facts: &mut Facts) {
    let value = occ.value.as_deref().unwrap_or_default();
    let mut block = |reason: Reason, detail: String| {
        facts.blocks.push(Block {
            key: None,
            on: true,
            pass: PassThrough::new(reason, detail),
        })
    };
    let credential = |facts: &mut Facts, name: String| {
        if from_config {
            facts.blocks.push(Block {
                key: None,
                on: true,
                pass: PassThrough::new(Reason::ConfigCredentials, name),
            });
        } else {
            facts.credentials.push(Credential {
                span: occ.span,
                name: name.clone(),
                is_switch: matches!(occ.spec.takes, Takes::Bool | Takes::None),
            });
            // What the check's curl sends to ask whether the answer depends
            // on it: curl's own options; of wget's, its headers.
            match (tool, occ.spec.long) {
                (Tool::Curl, _) | (Tool::Wget, "header") => {
                    facts.identity_args.push(check_option(occ))
                }
                (Tool::Wget, "ask-password" | "use-askpass") => {
                    // The password is typed: whether it works cannot be asked.
                    facts.wget_unaskable_credential.get_or_insert(name);
                }
                (Tool::Wget, long) if policy::WGET_CHALLENGE_CREDENTIALS.contains(&long) => {
                    facts.wget_challenge_credentials = true;
                    let v = occ.value.clone().unwrap_or_default();
                    match long {
                        "user" => facts.wget_login.user = Some(v),
                        "http-user" => facts.wget_login.http_user = Some(v),
                        "password" => facts.wget_login.password = Some(v),
                        _ => facts.wget_login.http_password = Some(v),
                    }
                }
                (Tool::Wget, _) => {
                    facts.wget_unaskable_credential.get_or_insert(name);
                }
            }
        }
    };
    if tool == Tool::Wget && occ.spec.long == "no-config" {
        facts.wget_no_config = occ.enabled;
    }
    if tool == Tool::Wget && occ.spec.long == "cookies" {
        facts.wget_cookies = Some(occ.enabled);
    }
    if tool == Tool::Wget && occ.spec.long == "hsts" {
        facts.wget_hsts = Some(occ.enabled);
    }
    if tool == Tool::Wget && occ.spec.long == "auth-no-challenge" {
        facts.wget_auth_no_challenge = occ.enabled;
    }
    // What the command sends to the origin, in curl's words, for the check
    // (config-file options too: the check's curl runs with -q).
    if let Some(sent) = sent_to_origin::row(tool, occ.spec.long) {
        if sent.wget_probe {
            facts.probe_args.push(check_option(occ));
        }
        if let Some(option) = sent.as_curl(occ.enabled, occ.value.as_deref()) {
            facts.origin_check_args.push(option);
        }
    }
    match policy::effect(tool, occ.spec.long) {
        Effect::Neutral => {}
        Effect::Pass(reason) => {
            let is_switch = matches!(occ.spec.takes, Takes::Bool | Takes::None);
            facts.blocks.push(Block {
                key: is_switch.then_some(occ.spec.long),
                on: occ.enabled,
                pass: PassThrough::new(reason, long_name(occ)),
            });
        }
        Effect::Credential => {
            if occ.enabled {
                credential(facts, long_name(occ));
            }
        }
        Effect::Url => {
            if value.starts_with(b"@") {
                block(Reason::HiddenInput, "--url @file".into());
            } else if from_config {
                facts.url_values.push(usize::MAX);
            } else if let Some(i) = occ.span.value_index {
                facts.url_values.push(i);
            }
        }
        Effect::Header
            if header_name(value).eq_ignore_ascii_case("referer")
                && policy::referer_carries_secret(
                    value.splitn(2, |&b| b == b':').nth(1).unwrap_or_default(),
                ) =>
        {
            block(Reason::RefererSecret, "--header Referer".into())
        }
        Effect::Header => match policy::header_kind(value) {
            // Sent to the origin as to the cache host: the check sends it too
            // (an origin may redirect by User-Agent).
            HeaderKind::Neutral => facts
                .origin_check_args
                .push(("header".into(), Some(value.to_vec()))),
            HeaderKind::Credential => {
                let name = header_name(value);
                credential(facts, format!("--header {name}"));
            }
            HeaderKind::Range => facts.needs_ranges = true,
            HeaderKind::Pass(reason) => block(reason, format!("--header {}", header_name(value))),
        },
        Effect::FollowRedirects => facts.follows_redirects = Some(occ.enabled),
        Effect::MaxRedirects => facts.max_redirects = Some(value.to_vec()),
        Effect::ServerNamesFile => facts.server_names_file = Some(occ.enabled),
        Effect::Compressed => {
            facts.compressed = Some(match tool {
                Tool::Curl => occ.enabled,
                Tool::Wget => !value.trim_ascii().eq_ignore_ascii_case(b"none"),
            })
        }
        Effect::Timestamping => facts.timestamping = Some(occ.enabled),
        Effect::Referer => {
            if policy::referer_carries_secret(value) {
                block(Reason::RefererSecret, long_name(occ));
            }
        }
        Effect::ProxyUser => match tool {
            Tool::Curl => facts.proxy.user = Some(value.to_vec()),
            Tool::Wget if occ.spec.long == "proxy-user" => facts.proxy.user = Some(value.to_vec()),
            Tool::Wget => facts.proxy.password = Some(value.to_vec()),
        },
        Effect::WgetGlob => facts.wget_glob = Some(occ.enabled),
        Effect::Request => {
            if value != b"GET" {
                block(
                    Reason::Method,
                    format!("--request {}", String::from_utf8_lossy(value)),
                );
            }
        }
        // wget --no-continue switches resuming off again.
        Effect::Resume => facts.needs_ranges = occ.enabled,
        Effect::WriteOut => facts.write_out = Some(value.to_vec()),
        Effect::Proto => facts.proto = Some(value.to_vec()),
        Effect::Proxy => match tool {
            Tool::Curl => facts.proxy.proxy = Some(value.to_vec()),
            Tool::Wget => facts.proxy.disabled = !occ.enabled,
        },
        Effect::NoProxy => facts.proxy.no_proxy = Some(value.to_vec()),
        Effect::GlobOff => facts.glob_off = occ.enabled,
        Effect::OutputDocument => facts.output_document = true,
        Effect::DirectoryPrefix => facts.directory_prefix = Some(value.to_vec()),
        // The last of -4/-6 wins (wget: --no-inet4-only switches it off).
        Effect::Ipv4Only => {
            facts.ip_family = Some(if occ.enabled {
                IpFamily::V4Only
            } else {
                IpFamily::Any
            })
        }
        Effect::Ipv6Only => {
            facts.ip_family = Some(if occ.enabled {
                IpFamily::V6Only
            } else {
                IpFamily::Any
            })
        }
    }
}

fn header_name(value: &[u8]) -> String {
    let end = value
        .iter()
        .position(|&b| b == b':' || b == b';')
        .unwrap_or(value.len());
    String::from_utf8_lossy(value[..end].trim_ascii()).into_owned()
}

/// What decides, for every URL of one command, whether it may be rewritten.
struct UrlRules<'a> {
    blob_prefix: &'a str,
    keep_query: bool,
    lan: &'a crate::machine_local::LanOrigins,
    busybox: bool,
    require_tls: bool,
}

fn rewritable(
    tool: Tool,
    raw: &[u8],
    facts: &Facts,
    rules: &UrlRules,
) -> Result<Origin, NotRewritable> {
    if raw.starts_with(rules.blob_prefix.as_bytes()) {
        // Another shim in the chain already rewrote it.
        return Err(NotRewritable::AlreadyCacheUrl);
    }
    let origin = Origin::parse(raw)?;
    if crate::machine_local::machine_local(&origin.url, rules.lan).is_some() {
        return Err(NotRewritable::MachineLocal);
    }
    if crate::secrets::secret_in_url(&origin.url, rules.keep_query).is_some() {
        return Err(NotRewritable::SecretInUrl);
    }
    if tool == Tool::Curl && !facts.glob_off && cache_url::is_curl_glob(raw) {
        return Err(NotRewritable::Glob);
    }
    if origin.has_query && !rules.keep_query {
        // withcache-server keys a blob by the URL without its query: another
        // query's bytes would come back (WITHCACHE_KEEP_QUERY=1 for hosts
        // that key on the full URL).
        return Err(NotRewritable::Query);
    }
    if tool == Tool::Wget
        && facts.wget_glob != Some(false)
        && origin
            .url
            .get(..3)
            .is_some_and(|s| s.eq_ignore_ascii_case("ftp"))
        && origin.key.contains(['*', '?', '[', ']'])
    {
        // wget expands these in ftp:// URLs unless --no-glob.
        return Err(NotRewritable::Glob);
    }
    if rules.require_tls
        && origin
            .url
            .get(..6)
            .is_some_and(|s| s.eq_ignore_ascii_case("https:"))
    {
        // WITHCACHE_REQUIRE_TLS=1 and a plain-http cache host: the bytes of
        // an https origin would travel in clear on the LAN.
        return Err(NotRewritable::CleartextCache);
    }
    if rules.busybox && !facts.output_document && raw.contains(&b'#') {
        // BusyBox keeps the fragment in the file name (`a.bin#frag`); the
        // cache URL, which has none, would give `a.bin`.
        return Err(NotRewritable::FragmentNamesFile);
    }
    if tool == Tool::Wget && !facts.output_document && origin.has_query {
        // wget would name the file `f.tgz?x=1`; the cache URL gives `f.tgz`.
        return Err(NotRewritable::QueryNamesFile);
    }
    Ok(origin)
}

/// Apply the probe answers (one per candidate, same order).
pub fn finish(args: &[OsString], prepared: &Prepared, answers: &[ProbeAnswer]) -> Outcome {
    let mut hit_indexes = Vec::new();
    let mut any_unreachable = false;
    let mut any_not_2xx = false;
    let mut any_identity = false;
    let mut any_encoded = false;
    let mut any_private = false;
    let mut any_stale = false;
    let mut any_no_answer = false;
    for (cand, answer) in prepared.candidates.iter().zip(answers) {
        match answer {
            ProbeAnswer::Hit { accepts_ranges } if *accepts_ranges || !prepared.needs_ranges => {
                hit_indexes.push(cand)
            }
            ProbeAnswer::OriginNot2xx => any_not_2xx = true,
            ProbeAnswer::OriginIdentity => any_identity = true,
            ProbeAnswer::OriginEncoded => any_encoded = true,
            ProbeAnswer::OriginPrivate => any_private = true,
            ProbeAnswer::OriginStale => any_stale = true,
            ProbeAnswer::OriginNoAnswer => any_no_answer = true,
            ProbeAnswer::Hit { .. } | ProbeAnswer::Miss | ProbeAnswer::Unprobeable => {}
            ProbeAnswer::Unreachable => any_unreachable = true,
        }
    }
    // GNU wget keeps cookies between the URLs of one command: directly, every
    // earlier URL on the same site reaches the origin first and may set a
    // cookie that changes this one's answer (a licence page, then the
    // file); the cache's copy was fetched without it.
    let mut cookie_site = None;
    if prepared.cookie_flow {
        hit_indexes.retain(|c| match earlier_on_same_site(args, prepared, c.index) {
            Some(site) => {
                cookie_site.get_or_insert(site);
                false
            }
            None => true,
        });
    }
    if hit_indexes.is_empty()
        && let Some(site) = cookie_site
    {
        return Outcome::PassThrough(PassThrough::new(
            Reason::SendsCookies,
            format!("wget keeps cookies between URLs: an earlier URL on {site} may set one"),
        ));
    }
    if hit_indexes.is_empty() {
        let reason = if any_unreachable {
            Reason::Unreachable
        } else if any_identity {
            Reason::OriginIdentity
        } else if any_encoded {
            Reason::Encoding
        } else if any_private {
            Reason::OriginPrivate
        } else if any_stale {
            Reason::Stale
        } else if any_no_answer {
            Reason::OriginNoAnswer
        } else if any_not_2xx {
            Reason::OriginNot2xx
        } else {
            Reason::Miss
        };
        return Outcome::PassThrough(PassThrough::new(reason, ""));
    }
    if !prepared.credentials.is_empty() && hit_indexes.len() < prepared.candidates.len() {
        return Outcome::PassThrough(PassThrough::new(
            Reason::CredentialsWithMiss,
            "not every URL is in the cache",
        ));
    }
    if prepared.cookie_flow
        && let Some(host) = cookie_needing_miss(args, prepared, &hit_indexes)
    {
        return Outcome::PassThrough(PassThrough::new(
            Reason::SendsCookies,
            format!("wget keeps cookies between URLs: a later URL on {host} goes to the origin"),
        ));
    }
    let mut argv: Vec<Option<OsString>> = args.iter().cloned().map(Some).collect();
    for cand in &hit_indexes {
        argv[cand.index] = Some(OsString::from(cand.cache_url.clone()));
    }
    // Right to left within a cluster, so earlier letters keep their offsets.
    let mut creds: Vec<&Credential> = prepared.credentials.iter().collect();
    creds.sort_by_key(|c| std::cmp::Reverse((c.span.index, c.span.letter_at)));
    for cred in creds {
        let span = cred.span;
        if let Some(v) = span.value_index {
            argv[v] = None;
        }
        let Some(at) = span.letter_at else {
            argv[span.index] = None;
            continue;
        };
        let Some(arg) = argv[span.index].take() else {
            continue;
        };
        let mut bytes = arg.into_vec();
        if cred.is_switch {
            // `-snL` -> `-sL`.
            bytes.remove(at);
        } else {
            // Keep the letters before it in the cluster (`-su x` -> `-s`).
            bytes.truncate(at);
        }
        argv[span.index] = (bytes.len() > 1).then(|| OsString::from_vec(bytes));
    }
    Outcome::Rewrite(Rewrite {
        argv: argv.into_iter().flatten().collect(),
        hits: hit_indexes
            .iter()
            .map(|c| (c.origin.url.clone(), c.cache_url.clone()))
            .collect(),
        removed: prepared
            .credentials
            .iter()
            .map(|c| c.name.clone())
            .collect(),
    })
}

/// wget with several URLs: a rewritten URL never reaches the origin, so a
/// cookie the origin would have set on it is missing for the URLs after it
/// that still go there. The first such URL's host, if any: a URL that is not
/// served from the cache and comes after a served one on the same site (the
/// same last two labels, as a cookie's domain may be the parent).
fn cookie_needing_miss(
    args: &[OsString],
    prepared: &Prepared,
    hits: &[&Candidate],
) -> Option<String> {
    let site = |index: usize| cookie_site(args, index);
    let mut urls: Vec<(usize, bool)> = prepared
        .candidates
        .iter()
        .map(|c| (c.index, hits.iter().any(|h| h.index == c.index)))
        .chain(prepared.skipped.iter().map(|s| (s.index, false)))
        .collect();
    urls.sort_unstable();
    let mut served_sites: Vec<String> = Vec::new();
    for (index, served) in urls {
        let Some(s) = site(index) else { continue };
        if served {
            served_sites.push(s);
        } else if served_sites.contains(&s) {
            return Some(s);
        }
    }
    None
}

/// A URL argument's site for cookies: the host's last two labels (a
/// cookie's domain may be the parent), or the address.
fn cookie_site(args: &[OsString], index: usize) -> Option<String> {
    let url = url::Url::parse(&String::from_utf8_lossy(args[index].as_bytes())).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    if url
        .host()
        .is_some_and(|h| !matches!(h, url::Host::Domain(_)))
    {
        return Some(host);
    }
    let labels: Vec<&str> = host.trim_end_matches('.').rsplit('.').take(2).collect();
    Some(labels.into_iter().rev().collect::<Vec<_>>().join("."))
}

/// The site, when a URL argument before `index` (a candidate or not) is on
/// the same site as it.
fn earlier_on_same_site(args: &[OsString], prepared: &Prepared, index: usize) -> Option<String> {
    let site = cookie_site(args, index)?;
    prepared
        .candidates
        .iter()
        .map(|c| c.index)
        .chain(prepared.skipped.iter().map(|s| s.index))
        .filter(|&i| i < index)
        .any(|i| cookie_site(args, i).as_deref() == Some(site.as_str()))
        .then_some(site)
}

/// Both steps with a probe function: for fixtures, `cacheshim plan`, and the
/// shim itself.
pub fn plan(input: &PlanInput, probe: impl FnOnce(&Prepared) -> Vec<ProbeAnswer>) -> Outcome {
    match prepare(input) {
        Preparation::PassThrough(p) => Outcome::PassThrough(p),
        Preparation::Probe(prepared) => {
            let answers = probe(&prepared);
            finish(input.args, &prepared, &answers)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_as_http_requires_them() {
        assert_eq!(http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            http_date("Mon, 01 Jan 2024 00:00:00 GMT"),
            Some(1_704_067_200)
        );
        assert_eq!(http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(http_date(""), None);
        assert_eq!(max_age("public, max-age=30"), Some(30));
        assert_eq!(max_age("no-cache"), None);
    }

    #[test]
    fn freshness_rules() {
        let origin = |len: &str, lm: &str, etag: &str| OriginReply {
            status: 200,
            length: len.into(),
            last_modified: lm.into(),
            etag: etag.into(),
            ..OriginReply::default()
        };
        let jan = "Mon, 01 Jan 2024 00:00:00 GMT";
        let feb = "Thu, 01 Feb 2024 00:00:00 GMT";
        let copy = |len: u64, lm: &str| CacheCopy {
            length: Some(len),
            last_modified: lm.into(),
            ..CacheCopy::default()
        };
        // Another length: stale.
        assert!(freshness(&origin("10", "", ""), &copy(11, "")).is_err());
        // The same length, the cache's copy older: stale; not older: fresh.
        assert!(freshness(&origin("10", feb, ""), &copy(10, jan)).is_err());
        assert!(freshness(&origin("10", jan, ""), &copy(10, jan)).is_ok());
        assert!(freshness(&origin("10", jan, ""), &copy(10, feb)).is_ok());
        // Only an equal length: small is fetched, large is served.
        assert!(freshness(&origin("10", "", ""), &copy(10, "")).is_err());
        let big = (SMALL_ANSWER + 1).to_string();
        assert!(freshness(&origin(&big, "", ""), &copy(SMALL_ANSWER + 1, "")).is_ok());
        // Recorded validators must equal the origin's.
        let recorded = CacheCopy {
            origin_etag: "\"a\"".into(),
            ..copy(10, "")
        };
        assert!(freshness(&origin("10", "", "\"a\""), &recorded).is_ok());
        assert!(freshness(&origin("10", "", "\"b\""), &recorded).is_err());
        let recorded = CacheCopy {
            origin_last_modified: jan.into(),
            ..copy(10, "")
        };
        assert!(freshness(&origin("10", jan, ""), &recorded).is_ok());
        assert!(freshness(&origin("10", feb, ""), &recorded).is_err());
        // Nothing known about the origin's length: nothing to compare.
        assert!(freshness(&origin("", "", ""), &CacheCopy::default()).is_err());
    }
}
