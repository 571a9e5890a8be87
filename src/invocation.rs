//! argv[0] dispatch: which program are we being asked to be?

use crate::tool::Tool;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invocation {
    /// Symlinked or copied as curl/wget (or curlwithcache/wgetwithcache).
    Shim(Tool),
    /// Called by its own name: the `cacheshim` command.
    Own,
}

/// A basename containing `wget` is wget mode, containing `curl` is curl mode,
/// anything else is the `cacheshim` command itself.
pub fn invoked_as(argv0: &OsStr) -> Invocation {
    let bytes = argv0.as_bytes();
    let base = match bytes.iter().rposition(|&b| b == b'/') {
        Some(i) => &bytes[i + 1..],
        None => bytes,
    };
    let contains = |needle: &[u8]| base.windows(needle.len()).any(|w| w == needle);
    if contains(b"wget") {
        Invocation::Shim(Tool::Wget)
    } else if contains(b"curl") {
        Invocation::Shim(Tool::Curl)
    } else {
        Invocation::Own
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    fn of(s: &[u8]) -> Invocation {
        invoked_as(OsStr::from_bytes(s))
    }

    #[test]
    fn names_map_to_modes() {
        assert_eq!(of(b"curl"), Invocation::Shim(Tool::Curl));
        assert_eq!(of(b"/usr/local/bin/curl"), Invocation::Shim(Tool::Curl));
        assert_eq!(of(b"curlwithcache"), Invocation::Shim(Tool::Curl));
        assert_eq!(of(b"wget"), Invocation::Shim(Tool::Wget));
        assert_eq!(of(b"./wgetwithcache"), Invocation::Shim(Tool::Wget));
        assert_eq!(of(b"cacheshim"), Invocation::Own);
        assert_eq!(of(b"/opt/curl/bin/cacheshim"), Invocation::Own);
        assert_eq!(of(b""), Invocation::Own);
        assert_eq!(of(b"\xffcurl\xfe"), Invocation::Shim(Tool::Curl));
    }
}
