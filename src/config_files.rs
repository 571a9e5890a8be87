//! The tools' own config files (`~/.curlrc`, `~/.wgetrc`, `/etc/wgetrc`) can
//! add options the command line does not show: credentials the real tool would
//! then send to the cache host, or a `-I`/`--data`/`recursive` that changes the
//! result. They are parsed into the same option occurrences as argv.
//!
//! Reading is injected (`ConfigSource`), so the planner stays pure.

use crate::cmdline::Occurrence;
use crate::cmdline::Span;
use crate::env_view::EnvView;
use crate::options::{self, LongMatch, OptionSpec, Takes};
use crate::tool::Tool;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What is at a path (links followed), as the tools tell config files apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Missing,
    Regular,
    Directory,
    /// A FIFO, socket or device: reading it could block, or take input
    /// meant for the real tool.
    Other,
}

pub trait ConfigSource {
    /// A regular file's bytes, or None when there is none or it cannot be
    /// read. Never blocks.
    fn read(&self, path: &Path) -> Option<Vec<u8>>;
    /// Whether something (a file, a link, a directory) is at `path`.
    fn exists(&self, path: &Path) -> bool {
        self.read(path).is_some()
    }
    fn kind(&self, path: &Path) -> FileKind {
        if self.read(path).is_some() {
            FileKind::Regular
        } else {
            FileKind::Missing
        }
    }
    /// The user's home directory from the password database (what the
    /// tools use when HOME does not say).
    fn password_home(&self) -> Option<PathBuf> {
        None
    }
    /// Seconds since the epoch, for entries that expire (wget's HSTS
    /// database); 0 where no clock is wanted.
    fn now_unix(&self) -> u64 {
        0
    }
}

/// Reads the real files.
pub struct RealFiles;

impl ConfigSource for RealFiles {
    /// Opened without blocking (a FIFO swapped in after a look is not
    /// waited on) and read only when it is a regular file.
    fn read(&self, path: &Path) -> Option<Vec<u8>> {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC)
            .open(path)
            .ok()?;
        if !file.metadata().ok()?.is_file() {
            return None;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).ok()?;
        Some(bytes)
    }

    fn exists(&self, path: &Path) -> bool {
        std::fs::symlink_metadata(path).is_ok()
    }

    fn now_unix(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    fn kind(&self, path: &Path) -> FileKind {
        match std::fs::metadata(path) {
            Err(_) => FileKind::Missing,
            Ok(m) if m.is_file() => FileKind::Regular,
            Ok(m) if m.is_dir() => FileKind::Directory,
            Ok(_) => FileKind::Other,
        }
    }

    /// From `/etc/passwd` (the files database, as in the minimal images
    /// the shim is for): `name:pw:uid:gid:gecos:home:shell`. The C
    /// library's getpwuid would bring its nscd client into the binary.
    fn password_home(&self) -> Option<PathBuf> {
        let uid = nix::unistd::getuid().as_raw().to_string();
        let passwd = std::fs::read("/etc/passwd").ok()?;
        passwd.split(|&b| b == b'\n').find_map(|line| {
            let fields: Vec<&[u8]> = line.split(|&b| b == b':').collect();
            (fields.len() >= 7 && fields[2] == uid.as_bytes())
                .then(|| PathBuf::from(std::ffi::OsStr::from_bytes(fields[5])))
        })
    }
}

/// No config files at all.
pub struct NoFiles;

impl ConfigSource for NoFiles {
    fn read(&self, _: &Path) -> Option<Vec<u8>> {
        None
    }
}

/// One option set by a config file. `span` is meaningless here: the option
/// cannot be removed from the command line.
pub struct ConfigOption {
    pub file: PathBuf,
    pub occurrence: Occurrence,
}

#[derive(Debug)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub what: String,
    /// The file may or may not be read by the real tool: options we cannot
    /// see, not options we cannot parse.
    pub hidden: bool,
}

const NOWHERE: Span = Span {
    index: usize::MAX,
    letter_at: None,
    value_index: None,
};

/// curl skips its config file when the first argument starts with `-q` or is `--disable`.
pub fn curl_skips_config(args: &[OsString]) -> bool {
    args.first().is_some_and(|a| {
        let a = a.as_bytes();
        a.starts_with(b"-q") || a.eq_ignore_ascii_case(b"--disable")
    })
}

/// The config files the tool would read, in the order it reads them.
pub fn load(
    tool: Tool,
    args: &[OsString],
    wget_no_config: bool,
    env: &dyn EnvView,
    source: &dyn ConfigSource,
) -> Result<Vec<ConfigOption>, ConfigError> {
    match tool {
        Tool::Curl => {
            if curl_skips_config(args) {
                return Ok(Vec::new());
            }
            let set = |name: &str| env.non_empty(name).map(PathBuf::from);
            let (curl_home, xdg, home) = (set("CURL_HOME"), set("XDG_CONFIG_HOME"), set("HOME"));
            if let Some(x) = &xdg {
                // curl 8.10 and later read this name instead of `.curlrc`:
                // which one applies depends on the curl, so leave it to curl.
                let newer = x.join("curlrc");
                if source.exists(&newer) {
                    return Err(ConfigError {
                        file: newer,
                        line: 0,
                        what: "read by curl 8.10 and later only: left to curl".into(),
                        hidden: true,
                    });
                }
            }
            // curl 7.88's order (src/tool_findfile.c, findfile()); the first
            // file that exists is the only one read.
            let mut places = Vec::new();
            if let Some(d) = &curl_home {
                places.push(d.join(".curlrc"));
            }
            if let Some(d) = &xdg {
                places.push(d.join(".curlrc"));
            }
            if let Some(d) = &home {
                places.push(d.join(".curlrc"));
            }
            if xdg.is_none() {
                if let Some(d) = &curl_home {
                    places.push(d.join(".config/curlrc"));
                } else if let Some(d) = &home {
                    places.push(d.join(".config/curlrc"));
                }
            }
            if let Some(d) = source.password_home() {
                places.push(d.join(".curlrc"));
            }
            // curl takes the first path it can open(O_RDONLY): a directory
            // stops the search (and gives nothing); a FIFO or device would be
            // read by curl alone: left to curl, unread.
            for p in places {
                match source.kind(&p) {
                    FileKind::Missing => {}
                    FileKind::Directory => return Ok(Vec::new()),
                    FileKind::Regular => {
                        if let Some(text) = source.read(&p) {
                            return parse_curlrc(&p, &text);
                        }
                    }
                    FileKind::Other
                        if p.canonicalize().is_ok_and(|c| c == Path::new("/dev/null")) =>
                    {
                        return Ok(Vec::new());
                    }
                    FileKind::Other => {
                        return Err(ConfigError {
                            file: p,
                            line: 0,
                            what: "not a regular file: read by curl alone".into(),
                            hidden: true,
                        });
                    }
                }
            }
            Ok(Vec::new())
        }
        Tool::Wget => {
            if wget_no_config {
                return Ok(Vec::new());
            }
            // wget 1.21's order (src/init.c, initialize()): the system file,
            // then the user's, each adding to what came before.
            // wget reads only regular files (utils.c file_exists_p: stat and
            // S_ISREG): anything else is passed over, never opened.
            let regular = |p: &Path| source.kind(p) == FileKind::Regular;
            let mut found = Vec::new();
            let system = env
                .non_empty("SYSTEM_WGETRC")
                .map(PathBuf::from)
                .filter(|p| regular(p))
                .unwrap_or_else(|| PathBuf::from("/etc/wgetrc"));
            if regular(&system)
                && let Some(text) = source.read(&system)
            {
                found.extend(parse_wgetrc(&system, &text)?);
            }
            let user = match env.non_empty("WGETRC") {
                Some(p) if !regular(Path::new(&p)) => {
                    // wget exits at once ("WGETRC points to …").
                    return Err(ConfigError {
                        file: PathBuf::from(p),
                        line: 0,
                        what: "WGETRC names no regular file: wget stops".into(),
                        hidden: false,
                    });
                }
                Some(p) => Some(PathBuf::from(p)),
                None => env
                    .non_empty("HOME")
                    .map(PathBuf::from)
                    .or_else(|| source.password_home())
                    .map(|h| h.join(".wgetrc")),
            };
            // (A user file that is the system one is read once.)
            if let Some(user) = user.filter(|u| u.as_path() != Path::new("/etc/wgetrc"))
                && regular(&user)
                && let Some(text) = source.read(&user)
            {
                found.extend(parse_wgetrc(&user, &text)?);
            }
            Ok(found)
        }
    }
}

fn occurrence(spec: &'static OptionSpec, enabled: bool, value: Option<Vec<u8>>) -> Occurrence {
    Occurrence {
        spec,
        enabled,
        value,
        span: NOWHERE,
    }
}

/// curlrc lines: `--option value`, `option = value`, `option: "quoted value"`,
/// `-o value`; `#` starts a comment line.
pub fn parse_curlrc(file: &Path, text: &[u8]) -> Result<Vec<ConfigOption>, ConfigError> {
    let mut out = Vec::new();
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        let err = |what: String| ConfigError {
            file: file.to_path_buf(),
            line: n + 1,
            what,
            hidden: false,
        };
        let line = line.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let end = line
            .iter()
            .position(|&b| b.is_ascii_whitespace() || b == b'=' || b == b':')
            .unwrap_or(line.len());
        let word = &line[..end];
        let mut rest = &line[end..];
        rest = rest.trim_ascii_start();
        if let Some(r) = rest.strip_prefix(b"=").or_else(|| rest.strip_prefix(b":")) {
            rest = r.trim_ascii_start();
        }
        let value = curlrc_value(rest);
        let shown = String::from_utf8_lossy(word).into_owned();
        let (spec, negated) = if let Some(long) = word.strip_prefix(b"--") {
            curl_long(long).ok_or_else(|| err(format!("unknown option --{shown}")))?
        } else if let Some(short) = word.strip_prefix(b"-") {
            match short {
                [letter] => (
                    options::by_short(Tool::Curl, *letter)
                        .ok_or_else(|| err(format!("unknown option {shown}")))?,
                    false,
                ),
                _ => return Err(err(format!("unsupported option {shown}"))),
            }
        } else {
            curl_long(word).ok_or_else(|| err(format!("unknown option {shown}")))?
        };
        let value = if spec.takes == Takes::Value {
            Some(value.ok_or_else(|| err(format!("{shown} needs a value")))?)
        } else {
            None
        };
        out.push(ConfigOption {
            file: file.to_path_buf(),
            occurrence: occurrence(spec, !negated, value),
        });
    }
    Ok(out)
}

fn curl_long(word: &[u8]) -> Option<(&'static OptionSpec, bool)> {
    match options::match_curl_long(word) {
        LongMatch::Found { spec, negated } => Some((spec, negated)),
        _ => None,
    }
}

/// A curlrc value: `"quoted with \" escapes"` or the next whitespace-free word.
fn curlrc_value(rest: &[u8]) -> Option<Vec<u8>> {
    if rest.is_empty() {
        return None;
    }
    if let Some(q) = rest.strip_prefix(b"\"") {
        let mut v = Vec::new();
        let mut it = q.iter();
        while let Some(&b) = it.next() {
            match b {
                b'"' => break,
                b'\\' => match it.next() {
                    Some(b't') => v.push(b'\t'),
                    Some(b'n') => v.push(b'\n'),
                    Some(b'r') => v.push(b'\r'),
                    Some(b'v') => v.push(0x0b),
                    Some(&c) => v.push(c),
                    None => break,
                },
                c => v.push(c),
            }
        }
        return Some(v);
    }
    let end = rest
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .unwrap_or(rest.len());
    Some(rest[..end].to_vec())
}

/// wgetrc proxy settings have no command-line option but matter to the probe.
pub const WGETRC_PROXY_COMMANDS: &[&str] = &["httpproxy", "httpsproxy", "noproxy"];

/// `command = value` lines; names ignore case, `-` and `_`. Commands that have
/// no command-line equivalent (robots, logfile, …) do not affect what a
/// download writes and are ignored, except the proxy ones, kept as pseudo
/// options named by `WGETRC_PROXY_COMMANDS` in `wgetrc_proxy`.
pub fn parse_wgetrc(file: &Path, text: &[u8]) -> Result<Vec<ConfigOption>, ConfigError> {
    let mut out = Vec::new();
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        let line = line.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let Some(eq) = line.iter().position(|&b| b == b'=') else {
            return Err(ConfigError {
                file: file.to_path_buf(),
                line: n + 1,
                what: "expected `command = value`".into(),
                hidden: false,
            });
        };
        let name = normalize_wgetrc_name(&line[..eq]);
        let value = line[eq + 1..].trim_ascii().to_vec();
        // wget's own command table (options/wgetrc.tsv): `dir_prefix` is
        // `--directory-prefix`, `addhostdir` is `--host-directories`, ….
        let spec = options::WGETRC_COMMANDS
            .iter()
            .find(|(command, _)| *command == name)
            .and_then(|(_, long)| options::by_long(Tool::Wget, long));
        let Some(spec) = spec else {
            continue;
        };
        let occ = match spec.takes {
            Takes::Bool => {
                // (`check_certificate = quiet`: off, without the warning.)
                let off = matches!(value.to_ascii_lowercase().as_slice(), b"off" | b"no" | b"0")
                    || (spec.long == "check-certificate" && value.eq_ignore_ascii_case(b"quiet"));
                occurrence(spec, !off, None)
            }
            Takes::None => occurrence(spec, true, None),
            Takes::Value | Takes::Optional => occurrence(spec, true, Some(value)),
        };
        out.push(ConfigOption {
            file: file.to_path_buf(),
            occurrence: occ,
        });
    }
    Ok(out)
}

fn normalize_wgetrc_name(name: &[u8]) -> String {
    name.trim_ascii()
        .iter()
        .filter(|&&b| b != b'-' && b != b'_')
        .map(|b| b.to_ascii_lowercase() as char)
        .collect()
}

/// Proxy settings from wgetrc text (`http_proxy`, `https_proxy`, `no_proxy`),
/// last one wins; the second field is the normalized command name.
pub fn wgetrc_proxy_settings(text: &[u8]) -> Vec<(String, Vec<u8>)> {
    text.split(|&b| b == b'\n')
        .filter_map(|line| {
            let line = line.trim_ascii();
            if line.starts_with(b"#") {
                return None;
            }
            let eq = line.iter().position(|&b| b == b'=')?;
            let name = normalize_wgetrc_name(&line[..eq]);
            WGETRC_PROXY_COMMANDS
                .contains(&name.as_str())
                .then(|| (name, line[eq + 1..].trim_ascii().to_vec()))
        })
        .collect()
}

/// Whether GNU wget's HSTS database (`~/.wget-hsts`: `host port
/// include_subdomains created max_age` lines, wget's hsts.c) would upgrade
/// `http://host:port` to https at `now`: the host itself with the same
/// explicit port (0 for 80), or a parent domain with include_subdomains,
/// while created + max_age has not passed.
pub fn wget_hsts_upgrades(db: &[u8], host: &str, port: u16, now: u64) -> bool {
    let explicit = if port == 80 { 0 } else { i64::from(port) };
    let host = host.to_ascii_lowercase();
    let mut parents = Vec::new();
    let mut rest = host.as_str();
    // wget strips labels while at least two remain.
    while let Some((_, parent)) = rest.split_once('.') {
        if !parent.contains('.') {
            break;
        }
        parents.push(parent.to_string());
        rest = parent;
    }
    db.split(|&b| b == b'\n').any(|line| {
        let text = String::from_utf8_lossy(line);
        let f: Vec<&str> = text.split_ascii_whitespace().collect();
        if f.len() < 5 || f[0].starts_with('#') {
            return false;
        }
        let (Ok(p), Ok(sub), Ok(created), Ok(max_age)) = (
            f[1].parse::<i64>(),
            f[2].parse::<i64>(),
            f[3].parse::<u64>(),
            f[4].parse::<u64>(),
        ) else {
            return false;
        };
        let name = f[0].to_ascii_lowercase();
        let in_force = created.saturating_add(max_age) >= now;
        let matches = name == host || (sub != 0 && parents.contains(&name));
        in_force && p == explicit && matches
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_curl_long_option_is_read_from_a_curlrc() {
        // curl's config parser takes any long option, with or without its
        // dashes: so does ours, every row of the table.
        for spec in options::table(Tool::Curl) {
            for form in [format!("--{}", spec.long), spec.long.to_string()] {
                let line = match spec.takes {
                    Takes::Value => format!("{form} = \"v\"\n"),
                    _ => format!("{form}\n"),
                };
                let got = parse_curlrc(Path::new("rc"), line.as_bytes())
                    .unwrap_or_else(|e| panic!("{line}: {}", e.what));
                assert_eq!(got.len(), 1, "{line}");
                assert_eq!(got[0].occurrence.spec.long, spec.long, "{line}");
            }
        }
    }

    #[test]
    fn wget_hsts_entries() {
        let db = b"# HSTS 1.0 Known Hosts database for GNU Wget.\n\
cache.lab\t8081\t0\t1000\t100\n\
example.org\t0\t1\t1000\t100\n";
        assert!(wget_hsts_upgrades(db, "cache.lab", 8081, 1050));
        assert!(!wget_hsts_upgrades(db, "cache.lab", 8081, 1101), "expired");
        assert!(
            !wget_hsts_upgrades(db, "cache.lab", 80, 1050),
            "another port"
        );
        assert!(wget_hsts_upgrades(db, "mirror.example.org", 80, 1050));
        assert!(!wget_hsts_upgrades(db, "mirror.example.org", 8080, 1050));
        assert!(!wget_hsts_upgrades(db, "other.lab", 8081, 1050));
    }

    fn longs(opts: &[ConfigOption]) -> Vec<(String, bool, Option<String>)> {
        opts.iter()
            .map(|o| {
                (
                    o.occurrence.spec.long.to_string(),
                    o.occurrence.enabled,
                    o.occurrence
                        .value
                        .as_ref()
                        .map(|v| String::from_utf8_lossy(v).into_owned()),
                )
            })
            .collect()
    }

    #[test]
    fn curlrc_forms() {
        let text = b"# comment\n--silent\nuser = \"alice:s3 cret\"\n  -o out.bin\nheader: X-A: b\nno-progress-meter\n";
        let got = parse_curlrc(Path::new("rc"), text).unwrap();
        assert_eq!(
            longs(&got),
            vec![
                ("silent".into(), true, None),
                ("user".into(), true, Some("alice:s3 cret".into())),
                ("output".into(), true, Some("out.bin".into())),
                ("header".into(), true, Some("X-A:".into())),
                ("progress-meter".into(), false, None),
            ]
        );
        assert!(parse_curlrc(Path::new("rc"), b"frobnicate yes\n").is_err());
    }

    #[test]
    fn wgetrc_forms() {
        let text = b"# c\nhttp_user = alice\nHTTP-Password=pw\nrobots = off\nrecursive = off\ncontinue = on\n";
        let got = parse_wgetrc(Path::new("rc"), text).unwrap();
        assert_eq!(
            longs(&got),
            vec![
                ("http-user".into(), true, Some("alice".into())),
                ("http-password".into(), true, Some("pw".into())),
                ("recursive".into(), false, None),
                ("continue".into(), true, None),
            ]
        );
    }

    /// Files by path, and a password-database home.
    struct Files(Vec<(&'static str, &'static [u8])>, Option<&'static str>);

    impl ConfigSource for Files {
        fn read(&self, path: &Path) -> Option<Vec<u8>> {
            self.0
                .iter()
                .find(|(p, _)| Path::new(p) == path)
                .map(|(_, b)| b.to_vec())
        }
        fn password_home(&self) -> Option<PathBuf> {
            self.1.map(PathBuf::from)
        }
    }

    #[test]
    fn without_home_the_password_database_home_is_used() {
        let files = Files(
            vec![
                ("/pw/.wgetrc", b"http_user = u\n"),
                ("/pw/.curlrc", b"user = u:p\n"),
            ],
            Some("/pw"),
        );
        let env = crate::env_view::MapEnv::default();
        let got = load(Tool::Wget, &[], false, &env, &files).unwrap();
        assert_eq!(
            longs(&got),
            vec![("http-user".into(), true, Some("u".into()))]
        );
        let got = load(Tool::Curl, &[], false, &env, &files).unwrap();
        assert_eq!(longs(&got), vec![("user".into(), true, Some("u:p".into()))]);
    }

    #[test]
    fn curl_q_first_skips_curlrc() {
        let a = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(curl_skips_config(&a(&["-q", "u"])));
        assert!(curl_skips_config(&a(&["-qfsSL", "u"])));
        assert!(curl_skips_config(&a(&["--disable", "u"])));
        assert!(!curl_skips_config(&a(&["-s", "-q", "u"])));
    }
}
