//! Option tables generated from `options/curl.tsv` and `options/wget.tsv`,
//! and lookups with each tool's own matching rules.

use crate::tool::Tool;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Takes {
    /// Needs a value: the rest of a short cluster or the next argument
    /// (wget also `--name=value`).
    Value,
    /// No value; `--no-NAME` turns it off (wget: also `--name=on|off`).
    Bool,
    /// No value at all.
    None,
    /// wget only: `--name` or `--name=value`, never a separate argument.
    Optional,
}

#[derive(Debug, PartialEq, Eq)]
pub struct OptionSpec {
    pub long: &'static str,
    pub short: Option<u8>,
    pub takes: Takes,
    /// curl clears this option's value from its argv: it is a secret.
    pub secret: bool,
}

include!(concat!(env!("OUT_DIR"), "/option_tables.rs"));

/// curl options whose value the shared table (curl 8.x) requires but curl
/// 7.88 takes only when there is a next argument: `--help [category]`.
pub const CURL_VALUE_MAY_BE_ABSENT: &[&str] = &["help"];

/// Whether a missing value is fine for this option of this tool.
pub fn value_may_be_absent(tool: Tool, spec: &OptionSpec) -> bool {
    tool == Tool::Curl && CURL_VALUE_MAY_BE_ABSENT.contains(&spec.long)
}

pub fn table(tool: Tool) -> &'static [OptionSpec] {
    match tool {
        Tool::Curl => CURL_OPTIONS,
        Tool::Wget => WGET_OPTIONS,
    }
}

pub fn by_long(tool: Tool, name: &str) -> Option<&'static OptionSpec> {
    let t = table(tool);
    t.binary_search_by(|o| o.long.cmp(name)).ok().map(|i| &t[i])
}

/// The option a short letter means. Where two long names share a letter
/// (wget's `-E`: adjust-extension and html-extension) they are aliases.
pub fn by_short(tool: Tool, letter: u8) -> Option<&'static OptionSpec> {
    table(tool).iter().find(|o| o.short == Some(letter))
}

/// Result of matching a long option name the way the tool itself does.
#[derive(Debug, PartialEq, Eq)]
pub enum LongMatch {
    Found {
        spec: &'static OptionSpec,
        negated: bool,
    },
    Unknown,
    Ambiguous,
}

/// curl: an optional `no-` prefix is stripped first (only booleans accept
/// it), then the name matches exactly or as a unique prefix, ignoring case.
pub fn match_curl_long(word: &[u8]) -> LongMatch {
    let (name, negated) = match word.strip_prefix(b"no-") {
        Some(rest) => (rest, true),
        None => (word, false),
    };
    let found = match unique_prefix(CURL_OPTIONS.iter().map(|o| (o.long, o)), name, true) {
        Some(Ok(spec)) => spec,
        Some(Err(())) => return LongMatch::Ambiguous,
        None => return LongMatch::Unknown,
    };
    if negated && found.takes != Takes::Bool {
        // curl: "used '--no-' for option that isn't a boolean"
        return LongMatch::Unknown;
    }
    LongMatch::Found {
        spec: found,
        negated,
    }
}

/// wget (GNU getopt_long): the long names are the table's plus a generated
/// `no-NAME` for every boolean; exact match wins, else a unique prefix.
pub fn match_wget_long(word: &[u8]) -> LongMatch {
    let plain = WGET_OPTIONS.iter().map(|o| ((o.long, false), o));
    let negs = WGET_OPTIONS
        .iter()
        .filter(|o| o.takes == Takes::Bool)
        .map(|o| ((o.long, true), o));
    let names = plain.chain(negs);
    // Compare against the spelled-out name ("no-" + long for negations).
    let mut exact = None;
    let mut hits = 0usize;
    let mut last = None;
    for ((long, neg), spec) in names {
        let matches_prefix = |full: &[u8]| full.len() >= word.len() && &full[..word.len()] == word;
        let full: Vec<u8> = if neg {
            [b"no-".as_slice(), long.as_bytes()].concat()
        } else {
            long.as_bytes().to_vec()
        };
        if full == word {
            exact = Some((spec, neg));
            break;
        }
        if matches_prefix(&full) {
            hits += 1;
            last = Some((spec, neg));
        }
    }
    match (exact, hits, last) {
        (Some((spec, negated)), _, _) => LongMatch::Found { spec, negated },
        (None, 1, Some((spec, negated))) => LongMatch::Found { spec, negated },
        (None, 0, _) => LongMatch::Unknown,
        _ => LongMatch::Ambiguous,
    }
}

/// Exact match, else the single entry `word` is a prefix of.
/// `Some(Err(()))` means several entries match: ambiguous.
fn unique_prefix<T: Copy>(
    entries: impl Iterator<Item = (&'static str, T)>,
    word: &[u8],
    ignore_case: bool,
) -> Option<Result<T, ()>> {
    let eq = |a: &[u8], b: &[u8]| {
        if ignore_case {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    let mut hit = None;
    let mut hits = 0usize;
    for (name, item) in entries {
        let name = name.as_bytes();
        if name.len() < word.len() || !eq(&name[..word.len()], word) {
            continue;
        }
        if name.len() == word.len() {
            return Some(Ok(item));
        }
        hits += 1;
        hit = Some(item);
    }
    match hits {
        0 => None,
        1 => hit.map(Ok),
        _ => Some(Err(())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(m: LongMatch) -> (&'static str, bool) {
        match m {
            LongMatch::Found { spec, negated } => (spec.long, negated),
            other => panic!("expected a match, got {other:?}"),
        }
    }

    #[test]
    fn curl_long_names_match_like_curl() {
        assert_eq!(found(match_curl_long(b"silent")), ("silent", false));
        assert_eq!(found(match_curl_long(b"sil")), ("silent", false));
        assert_eq!(found(match_curl_long(b"SILENT")), ("silent", false));
        assert_eq!(found(match_curl_long(b"no-silent")), ("silent", true));
        assert_eq!(found(match_curl_long(b"no-buffer")), ("buffer", true));
        // "output" is exact even though "output-dir" shares the prefix.
        assert_eq!(found(match_curl_long(b"output")), ("output", false));
        assert_eq!(match_curl_long(b"outp"), LongMatch::Ambiguous);
        assert_eq!(match_curl_long(b"no-output"), LongMatch::Unknown);
        assert_eq!(match_curl_long(b"output=x"), LongMatch::Unknown);
        assert_eq!(match_curl_long(b"frobnicate"), LongMatch::Unknown);
    }

    #[test]
    fn wget_long_names_match_like_getopt() {
        assert_eq!(found(match_wget_long(b"quiet")), ("quiet", false));
        assert_eq!(found(match_wget_long(b"qui")), ("quiet", false));
        assert_eq!(found(match_wget_long(b"no-qu")), ("quiet", true));
        assert_eq!(found(match_wget_long(b"no-clobber")), ("no-clobber", false));
        assert_eq!(match_wget_long(b"no-c"), LongMatch::Ambiguous);
        assert_eq!(match_wget_long(b"outp"), LongMatch::Ambiguous);
        assert_eq!(
            found(match_wget_long(b"output-d")),
            ("output-document", false)
        );
        assert_eq!(match_wget_long(b"QUIET"), LongMatch::Unknown);
    }

    #[test]
    fn short_letters() {
        assert_eq!(by_short(Tool::Curl, b'o').unwrap().long, "output");
        assert_eq!(by_short(Tool::Curl, b'#').unwrap().long, "progress-bar");
        assert_eq!(by_short(Tool::Wget, b'O').unwrap().long, "output-document");
        assert_eq!(by_short(Tool::Wget, b'n').unwrap().takes, Takes::Value);
        assert!(by_short(Tool::Curl, b'W').is_none());
    }
}
