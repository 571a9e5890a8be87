//! `cacheshim url`: where an origin lives on a cache host, for seeding nginx,
//! a CDN origin or an S3-compatible bucket with the same layout.

use super::{Arg, Args, Usage, is, usage};
use crate::cache_url::{CacheServer, Origin};
use crate::env_view::{EnvView, ProcessEnv};
use crate::settings::GENERIC_SERVER_VAR;
use percent_encoding::percent_decode_str;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

const HELP: &str = "\
Usage: cacheshim url [--server URL] [--decoded] ORIGIN...

Prints the cache path b/<token>/<name> of each ORIGIN, or the absolute cache
URL when --server is given or WITHCACHE_SERVER is set. --decoded prints the
path with %XX escapes decoded: the file or object name a static host (nginx
root, an S3 bucket) must store, since it decodes the request path.
Exit 1 if an ORIGIN cannot be cached (no file name, credentials, …); exit 2
if its cache path would hold control characters or, decoded, '.'/'..'/empty
segments, NUL or bytes that are not UTF-8 (not a name to store).
";

/// The decoded cache path, as a static host stores it, or why it cannot be
/// one: decoded, a name may climb out of the host's root (`..%2F..%2Fetc`)
/// or hold bytes no file name should (NUL, control characters, non-UTF-8).
pub fn safe_decoded_path(path: &str) -> Result<String, String> {
    let bytes: Vec<u8> = percent_decode_str(path).collect();
    let text = String::from_utf8(bytes).map_err(|_| "its decoded name is not UTF-8".to_string())?;
    if text.contains('\0') {
        return Err("its decoded name holds a NUL byte".into());
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(format!(
            "its decoded name holds the control character U+{:04X}",
            u32::from(c)
        ));
    }
    if text
        .split('/')
        .any(|seg| seg == "." || seg == ".." || seg.is_empty())
    {
        return Err("its decoded name has a '.', '..' or empty path segment (it would be stored outside b/<token>/)".into());
    }
    Ok(text)
}

/// An argument for a one-line message: control bytes as `\xNN`.
fn shown_arg(o: &OsString) -> String {
    let mut shown = String::new();
    for c in o.to_string_lossy().chars() {
        if c.is_control() {
            shown.push_str(&format!("\\x{:02X}", u32::from(c)));
        } else {
            shown.push(c);
        }
    }
    shown
}

pub fn run(args: &[OsString]) -> Result<i32, Usage> {
    let mut server = ProcessEnv.non_empty_str(GENERIC_SERVER_VAR);
    let mut decoded = false;
    let mut origins = Vec::new();
    let mut a = Args::new(args);
    while let Some(arg) = a.next_arg() {
        match arg {
            Arg::Flag(f) if f == "--help" => {
                out!("{HELP}");
                return Ok(0);
            }
            Arg::Flag(f) if is(&f, "--server") => {
                server = Some(a.value(&f)?.to_string_lossy().into_owned())
            }
            Arg::Flag(f) if f == "--decoded" => decoded = true,
            Arg::Flag(f) => return usage(format!("unknown option {f}")),
            Arg::Operand(o) => origins.push(o),
            Arg::Rest(r) => origins.extend(r),
        }
    }
    if origins.is_empty() {
        return usage("url: give at least one ORIGIN (try cacheshim url --help)");
    }
    let server = match server.as_deref().map(CacheServer::parse) {
        Some(Ok(s)) if !decoded => Some(s),
        Some(Ok(_)) | None => None,
        Some(Err(e)) => return usage(format!("bad server: {e}")),
    };
    let mut failed = false;
    for o in &origins {
        match Origin::parse(o.as_bytes()) {
            Ok(origin) => {
                let path = format!("b/{}", origin.cache_path());
                let shown = match &server {
                    Some(s) => s.cache_url(&origin),
                    None if decoded => match safe_decoded_path(&path) {
                        Ok(p) => p,
                        Err(why) => {
                            return usage(format!("url --decoded: {}: {why}", shown_arg(o)));
                        }
                    },
                    None => path,
                };
                if let Some(c) = shown.chars().find(|c| c.is_control()) {
                    // Printed, it would split or hide a line of the output.
                    return usage(format!(
                        "url: {}: the cache path holds the control character U+{:04X}",
                        shown_arg(o),
                        u32::from(c)
                    ));
                }
                outln!("{shown}");
            }
            Err(why) => {
                errln!(
                    "cacheshim: {}: cannot be cached ({})",
                    o.to_string_lossy(),
                    why.code()
                );
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}
