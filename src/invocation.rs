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

/// A basename containing `wget` is wget mode, containing `curl` is curl
/// mode. When argv[0] names neither (`exec -a fetcher`, an empty argv[0],
/// systemd's `ExecStart=@/usr/local/bin/curl fetcher`), the path the kernel
/// executed (`AT_EXECFN`) decides: a link named curl is curl, whatever the
/// caller called it. Only names that say neither are the `cacheshim` command.
pub fn invoked_as(argv0: &OsStr, executed: Option<&OsStr>) -> Invocation {
    named(argv0)
        .or_else(|| executed.and_then(named))
        .unwrap_or(Invocation::Own)
}

/// What a name says, if it says anything: `cacheshim` (our own name) is
/// the command even when the file is a link named curl.
fn named(path: &OsStr) -> Option<Invocation> {
    let bytes = path.as_bytes();
    let base = match bytes.iter().rposition(|&b| b == b'/') {
        Some(i) => &bytes[i + 1..],
        None => bytes,
    };
    let contains = |needle: &[u8]| base.windows(needle.len()).any(|w| w == needle);
    if contains(b"wget") {
        Some(Invocation::Shim(Tool::Wget))
    } else if contains(b"curl") {
        Some(Invocation::Shim(Tool::Curl))
    } else if contains(b"cacheshim") {
        Some(Invocation::Own)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    fn of(s: &[u8]) -> Invocation {
        invoked_as(OsStr::from_bytes(s), None)
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

    #[test]
    fn the_executed_path_decides_when_argv0_names_neither_tool() {
        let run =
            |argv0: &str, executed: &str| invoked_as(OsStr::new(argv0), Some(OsStr::new(executed)));
        assert_eq!(
            run("fetcher", "/usr/local/bin/curl"),
            Invocation::Shim(Tool::Curl)
        );
        assert_eq!(run("", "/shims/wget"), Invocation::Shim(Tool::Wget));
        // argv[0] wins when it names a tool.
        assert_eq!(run("wget", "/shims/curl"), Invocation::Shim(Tool::Wget));
        assert_eq!(run("fetcher", "/usr/local/lib/cacheshim"), Invocation::Own);
        assert_eq!(
            run("cacheshim", "/usr/local/lib/cacheshim"),
            Invocation::Own
        );
        assert_eq!(run("cacheshim", "/shims/curl"), Invocation::Own);
        assert_eq!(run("fetcher", "/usr/local/bin/fetch"), Invocation::Own);
    }
}
