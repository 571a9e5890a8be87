//! Just enough JSON output for `cacheshim plan` (no serde in the binary).

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;

pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An argument: a JSON string, or `{"hex": "…"}` when it is not UTF-8 (the
/// same convention as the argv fixtures).
pub fn os_arg(a: &OsStr) -> String {
    match std::str::from_utf8(a.as_bytes()) {
        Ok(s) => string(s),
        Err(_) => {
            let hex: String = a.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
            format!("{{\"hex\": \"{hex}\"}}")
        }
    }
}

pub fn opt_string(s: Option<&str>) -> String {
    s.map(string).unwrap_or_else(|| "null".into())
}

pub fn array(items: impl IntoIterator<Item = String>) -> String {
    format!("[{}]", items.into_iter().collect::<Vec<_>>().join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(string("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\u0001é\"");
        assert_eq!(os_arg(OsStr::from_bytes(b"\xffx")), "{\"hex\": \"ff78\"}");
        assert_eq!(array(vec!["1".into(), "2".into()]), "[1, 2]");
    }
}
