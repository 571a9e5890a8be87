//! What a command sends to the origin, as data: the options the origin check
//! (one real curl per command, `origin_check`) carries so that it asks the
//! origin exactly as the download will, and the ones GNU wget's probe of an
//! https cache host carries (`tool_probe`). wget's options are carried to the
//! check in curl's words. Headers are carried by the planner, which knows
//! which of them are credentials (those go to the identity question only).
//!
//! And which of those options name a file the child would read: the shell
//! asks nothing when one of them is not a regular file (a pipe from `<(…)`,
//! `/dev/stdin`, a FIFO), since reading it would drain the user's input.

use crate::tool::Tool;

/// How an occurrence of the tool's option reaches the check's curl.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsCurl {
    /// Not carried.
    Nothing,
    /// curl's option of this name (`no-` prefixed when switched off), with
    /// the occurrence's value.
    Same,
    /// curl's option of another name, with the occurrence's value.
    Named(&'static str),
    /// A fixed curl option and value.
    Fixed(&'static str, Option<&'static str>),
}

pub struct Sent {
    pub tool: Tool,
    pub long: &'static str,
    /// When given, or switched on.
    pub on: AsCurl,
    /// When switched off (`--no-…`).
    pub off: AsCurl,
    /// GNU wget's probe of an https cache host carries it as written.
    pub wget_probe: bool,
}

const fn curl(long: &'static str) -> Sent {
    Sent {
        tool: Tool::Curl,
        long,
        on: AsCurl::Same,
        off: AsCurl::Same,
        wget_probe: false,
    }
}

const fn wget(long: &'static str, on: AsCurl, off: AsCurl, wget_probe: bool) -> Sent {
    Sent {
        tool: Tool::Wget,
        long,
        on,
        off,
        wget_probe,
    }
}

/// Route (proxy, address family, interface, DNS), trust (CA, verification),
/// and what the request carries besides headers (User-Agent, Referer, the
/// `Accept-Encoding` of `--compressed`). Never credentials, cookies or a
/// body.
pub const SENT: &[Sent] = &[
    curl("proxy"),
    curl("proxy1.0"),
    curl("noproxy"),
    curl("proxytunnel"),
    curl("proxy-user"),
    curl("proxy-anyauth"),
    curl("proxy-basic"),
    curl("proxy-digest"),
    curl("proxy-ntlm"),
    curl("proxy-negotiate"),
    curl("proxy-insecure"),
    curl("proxy-cacert"),
    curl("proxy-capath"),
    curl("proxy-header"),
    curl("socks4"),
    curl("socks4a"),
    curl("socks5"),
    curl("socks5-hostname"),
    curl("preproxy"),
    curl("insecure"),
    curl("cacert"),
    curl("capath"),
    curl("crlfile"),
    curl("ca-native"),
    curl("ipv4"),
    curl("ipv6"),
    curl("interface"),
    curl("dns-servers"),
    curl("dns-interface"),
    curl("dns-ipv4-addr"),
    curl("dns-ipv6-addr"),
    curl("doh-url"),
    curl("user-agent"),
    curl("referer"),
    curl("compressed"),
    curl("http1.0"),
    curl("http1.1"),
    wget(
        "ca-certificate",
        AsCurl::Named("cacert"),
        AsCurl::Nothing,
        true,
    ),
    wget(
        "ca-directory",
        AsCurl::Named("capath"),
        AsCurl::Nothing,
        true,
    ),
    wget(
        "check-certificate",
        AsCurl::Fixed("no-insecure", None),
        AsCurl::Fixed("insecure", None),
        true,
    ),
    wget(
        "inet4-only",
        AsCurl::Fixed("ipv4", None),
        AsCurl::Nothing,
        true,
    ),
    wget(
        "inet6-only",
        AsCurl::Fixed("ipv6", None),
        AsCurl::Nothing,
        true,
    ),
    wget("prefer-family", AsCurl::Nothing, AsCurl::Nothing, true),
    // `--no-proxy`: the check goes direct too.
    wget(
        "proxy",
        AsCurl::Nothing,
        AsCurl::Fixed("noproxy", Some("*")),
        true,
    ),
    wget("user-agent", AsCurl::Same, AsCurl::Nothing, false),
    wget("referer", AsCurl::Same, AsCurl::Nothing, false),
];

pub fn row(tool: Tool, long: &str) -> Option<&'static Sent> {
    SENT.iter().find(|s| s.tool == tool && s.long == long)
}

/// A curl option for the check: long name (`no-` prefixed when switched
/// off) and value.
pub type CheckOption = (String, Option<Vec<u8>>);

impl Sent {
    /// The curl option an occurrence becomes, if any.
    pub fn as_curl(&self, enabled: bool, value: Option<&[u8]>) -> Option<CheckOption> {
        let value = value.map(<[u8]>::to_vec);
        match if enabled { self.on } else { self.off } {
            AsCurl::Nothing => None,
            AsCurl::Same if enabled => Some((self.long.to_string(), value)),
            AsCurl::Same => Some((format!("no-{}", self.long), value)),
            AsCurl::Named(name) => Some((name.to_string(), value)),
            AsCurl::Fixed(name, v) => Some((name.to_string(), v.map(|v| v.as_bytes().to_vec()))),
        }
    }
}

/// What the child opens for an option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reads {
    File,
    Dir,
    /// A file when the value starts with `@` (curl's `-H @file`).
    FileIfAt,
}

/// Options (curl's, and wget's that its probe carries) whose value the
/// child opens.
const READS: &[(&str, Reads)] = &[
    ("cacert", Reads::File),
    ("capath", Reads::Dir),
    ("crlfile", Reads::File),
    ("netrc-file", Reads::File),
    ("proxy-cacert", Reads::File),
    ("proxy-capath", Reads::Dir),
    ("proxy-crlfile", Reads::File),
    ("header", Reads::FileIfAt),
    ("proxy-header", Reads::FileIfAt),
    ("ca-certificate", Reads::File),
    ("ca-directory", Reads::Dir),
];

/// Environment variables the child reads files from (curl, and OpenSSL
/// and GnuTLS under curl and wget).
pub const READ_FROM_ENV: &[(&str, Reads)] = &[
    ("CURL_CA_BUNDLE", Reads::File),
    ("SSL_CERT_FILE", Reads::File),
    ("SSL_CERT_DIR", Reads::Dir),
];

/// The path an option makes the child open, and as what.
pub fn reads(name: &str, value: Option<&[u8]>) -> Option<(Vec<u8>, Reads)> {
    let (_, kind) = READS.iter().find(|(n, _)| *n == name)?;
    let value = value?;
    match kind {
        Reads::FileIfAt => Some((value.strip_prefix(b"@")?.to_vec(), Reads::File)),
        k => Some((value.to_vec(), *k)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options;

    #[test]
    fn every_row_names_an_option_of_its_tool_and_of_curl() {
        for s in SENT {
            assert!(
                options::by_long(s.tool, s.long).is_some(),
                "{:?} --{}",
                s.tool,
                s.long
            );
            for enabled in [true, false] {
                if let Some((name, _)) = s.as_curl(enabled, Some(b"v")) {
                    let name = name.strip_prefix("no-").unwrap_or(&name);
                    assert!(
                        options::by_long(Tool::Curl, name).is_some(),
                        "--{} becomes curl --{name}",
                        s.long
                    );
                }
            }
        }
    }

    #[test]
    fn wget_trust_in_curl_words() {
        let ca = row(Tool::Wget, "ca-certificate").unwrap();
        assert_eq!(
            ca.as_curl(true, Some(b"/x.pem")),
            Some(("cacert".into(), Some(b"/x.pem".to_vec())))
        );
        let check = row(Tool::Wget, "check-certificate").unwrap();
        assert_eq!(check.as_curl(false, None), Some(("insecure".into(), None)));
        let proxy = row(Tool::Wget, "proxy").unwrap();
        assert_eq!(
            proxy.as_curl(false, None),
            Some(("noproxy".into(), Some(b"*".to_vec())))
        );
        assert_eq!(proxy.as_curl(true, None), None);
    }

    #[test]
    fn files_the_child_would_open() {
        assert_eq!(
            reads("cacert", Some(b"/dev/fd/63")),
            Some((b"/dev/fd/63".to_vec(), Reads::File))
        );
        assert_eq!(
            reads("header", Some(b"@/dev/fd/5")),
            Some((b"/dev/fd/5".to_vec(), Reads::File))
        );
        assert_eq!(reads("header", Some(b"User-Agent: x")), None);
        assert_eq!(reads("user-agent", Some(b"/dev/fd/5")), None);
    }
}
