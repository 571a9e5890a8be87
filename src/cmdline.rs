//! Splits a curl or wget command line into options and operands exactly as the
//! real tool does, keeping where each came from so a later step can replace a
//! URL token or cut one option out of a cluster without touching anything else.
//! Arguments are bytes (OS strings): nothing here needs UTF-8.

use crate::options::{self, LongMatch, OptionSpec, Takes};
use crate::tool::Tool;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// Where an option occurrence sits in argv.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// The argument holding the option itself.
    pub index: usize,
    /// For a short option inside a cluster (`-fsu x`), the byte offset of its
    /// letter: cutting the argument there removes it and everything after it
    /// (a value-taking letter always ends its cluster).
    pub letter_at: Option<usize>,
    /// The separate argument holding its value, if the value was not inline.
    pub value_index: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occurrence {
    pub spec: &'static OptionSpec,
    /// False for `--no-NAME` (and wget's `--NAME=off`).
    pub enabled: bool,
    pub value: Option<Vec<u8>>,
    pub span: Span,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ParsedArgs {
    pub options: Vec<Occurrence>,
    /// Indexes of the non-option arguments, in order.
    pub operands: Vec<usize>,
}

/// The real tool would reject the command line; we then leave it alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    Unknown(String),
    Ambiguous(String),
    MissingValue(String),
    UnexpectedValue(String),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Unknown(o) => write!(f, "unknown option {o}"),
            ParseError::Ambiguous(o) => write!(f, "ambiguous option {o}"),
            ParseError::MissingValue(o) => write!(f, "option {o} needs a value"),
            ParseError::UnexpectedValue(o) => write!(f, "option {o} takes no value"),
        }
    }
}

/// Parse `argv` (without argv[0]). `posixly_correct` is wget's getopt mode in
/// which the first operand ends option parsing.
pub fn parse(
    tool: Tool,
    argv: &[OsString],
    posixly_correct: bool,
) -> Result<ParsedArgs, ParseError> {
    let mut parsed = ParsedArgs::default();
    let mut options_done = false;
    let mut i = 0;
    while i < argv.len() {
        let arg = argv[i].as_bytes();
        let is_option = !options_done && arg.len() > 1 && arg[0] == b'-';
        if !is_option {
            if tool == Tool::Curl && !options_done && arg == b"-" {
                // curl: "option -: is unknown"
                return Err(ParseError::Unknown("-".into()));
            }
            parsed.operands.push(i);
            if tool == Tool::Wget && posixly_correct {
                options_done = true;
            }
            i += 1;
            continue;
        }
        if arg == b"--" {
            options_done = true;
            i += 1;
            continue;
        }
        let next = argv.get(i + 1).map(|a| a.as_bytes());
        let consumed_next = if arg.starts_with(b"--") {
            parse_long(tool, &arg[2..], i, next, &mut parsed.options)?
        } else {
            parse_cluster(tool, arg, i, next, &mut parsed.options)?
        };
        i += if consumed_next { 2 } else { 1 };
    }
    Ok(parsed)
}

fn display(word: &[u8]) -> String {
    String::from_utf8_lossy(word).into_owned()
}

/// Returns whether the next argument was taken as the value.
fn parse_long(
    tool: Tool,
    body: &[u8],
    index: usize,
    next: Option<&[u8]>,
    out: &mut Vec<Occurrence>,
) -> Result<bool, ParseError> {
    // Only wget (getopt) splits `--name=value`; to curl `=` is part of the name.
    let (word, inline) = match (tool, body.iter().position(|&b| b == b'=')) {
        (Tool::Wget, Some(eq)) => (&body[..eq], Some(body[eq + 1..].to_vec())),
        _ => (body, None),
    };
    let shown = || format!("--{}", display(word));
    let matched = match tool {
        Tool::Curl => options::match_curl_long(word),
        Tool::Wget => options::match_wget_long(word),
    };
    let (spec, negated) = match matched {
        LongMatch::Found { spec, negated } => (spec, negated),
        LongMatch::Unknown => return Err(ParseError::Unknown(shown())),
        LongMatch::Ambiguous => return Err(ParseError::Ambiguous(shown())),
    };
    let mut span = Span {
        index,
        letter_at: None,
        value_index: None,
    };
    let mut enabled = !negated;
    let mut value = None;
    let mut consumed_next = false;
    match spec.takes {
        _ if negated => {
            if inline.is_some() {
                return Err(ParseError::UnexpectedValue(shown()));
            }
        }
        Takes::Value => match inline {
            Some(v) => value = Some(v),
            None if next.is_none() && options::value_may_be_absent(tool, spec) => {}
            None => {
                let v = next.ok_or_else(|| ParseError::MissingValue(shown()))?;
                value = Some(v.to_vec());
                span.value_index = Some(index + 1);
                consumed_next = true;
            }
        },
        Takes::Bool => {
            if let Some(v) = inline {
                // getopt registers wget's booleans with an optional value: a
                // boolean word sets the switch; any other word is the value of
                // a boolean-typed setting (`--restrict-file-names=windows`),
                // which wget's own handler reads (or rejects, as directly).
                match wget_boolean(&v) {
                    Some(on) => enabled = on,
                    None if WGET_WORD_VALUED_BOOLEANS.contains(&spec.long) => value = Some(v),
                    None => return Err(ParseError::UnexpectedValue(shown())),
                }
            }
        }
        Takes::Optional => value = inline,
        Takes::None => {
            if inline.is_some() {
                return Err(ParseError::UnexpectedValue(shown()));
            }
        }
    }
    out.push(Occurrence {
        spec,
        enabled,
        value,
        span,
    });
    Ok(consumed_next)
}

/// wget options registered as booleans whose handler takes words, not on/off
/// (wget 1.21.3: main.c `OPT_BOOLEAN` entries whose init.c action is not
/// `cmd_boolean` and reads a value): `--restrict-file-names=windows,lowercase`,
/// `--report-speed=bits`, `--backups=3`.
const WGET_WORD_VALUED_BOOLEANS: &[&str] = &["restrict-file-names", "report-speed", "backups"];

/// wget's `--bool=VALUE` words.
fn wget_boolean(v: &[u8]) -> Option<bool> {
    let v = v.to_ascii_lowercase();
    match v.as_slice() {
        b"on" | b"yes" | b"1" => Some(true),
        b"off" | b"no" | b"0" => Some(false),
        _ => None,
    }
}

/// `-fsSLo out`, `-oout`, `-qO-`, `-nv`. Returns whether the next argument was
/// taken as the value.
fn parse_cluster(
    tool: Tool,
    arg: &[u8],
    index: usize,
    next: Option<&[u8]>,
    out: &mut Vec<Occurrence>,
) -> Result<bool, ParseError> {
    for at in 1..arg.len() {
        let letter = arg[at];
        let shown = || format!("-{}", display(&[letter]));
        let spec = options::by_short(tool, letter).ok_or_else(|| ParseError::Unknown(shown()))?;
        let mut span = Span {
            index,
            letter_at: Some(at),
            value_index: None,
        };
        if spec.takes == Takes::Value {
            let rest = &arg[at + 1..];
            let (value, consumed_next) = if !rest.is_empty() {
                (rest.to_vec(), false)
            } else if next.is_none() && options::value_may_be_absent(tool, spec) {
                out.push(Occurrence {
                    spec,
                    enabled: true,
                    value: None,
                    span,
                });
                return Ok(false);
            } else {
                let v = next.ok_or_else(|| ParseError::MissingValue(shown()))?;
                span.value_index = Some(index + 1);
                (v.to_vec(), true)
            };
            out.push(Occurrence {
                spec,
                enabled: true,
                value: Some(value),
                span,
            });
            return Ok(consumed_next);
        }
        out.push(Occurrence {
            spec,
            enabled: true,
            value: None,
            span,
        });
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_help_takes_a_category_only_when_one_follows() {
        for argv in [&["--help"][..], &["-h"], &["-sh"], &["--help", "all"]] {
            let args: Vec<OsString> = argv.iter().map(OsString::from).collect();
            let parsed = parse(Tool::Curl, &args, false).expect("parses");
            assert_eq!(parsed.options.last().unwrap().spec.long, "help", "{argv:?}");
            assert!(parsed.operands.is_empty(), "{argv:?}");
        }
    }

    fn argv(items: &[&str]) -> Vec<OsString> {
        items.iter().map(OsString::from).collect()
    }

    fn names(p: &ParsedArgs) -> Vec<(String, bool, Option<String>)> {
        p.options
            .iter()
            .map(|o| {
                (
                    o.spec.long.to_string(),
                    o.enabled,
                    o.value.as_ref().map(|v| display(v)),
                )
            })
            .collect()
    }

    #[test]
    fn curl_cluster_with_value_in_next_argument() {
        let p = parse(Tool::Curl, &argv(&["-fsSLo", "out", "http://h/f"]), false).unwrap();
        let n = names(&p);
        assert_eq!(n.len(), 5);
        assert_eq!(n[4], ("output".into(), true, Some("out".into())));
        assert_eq!(
            p.options[4].span,
            Span {
                index: 0,
                letter_at: Some(5),
                value_index: Some(1)
            }
        );
        assert_eq!(p.operands, vec![2]);
    }

    #[test]
    fn curl_inline_short_value_and_double_dash() {
        let p = parse(Tool::Curl, &argv(&["-oout", "--", "-not-an-option"]), false).unwrap();
        assert_eq!(names(&p), vec![("output".into(), true, Some("out".into()))]);
        assert_eq!(p.operands, vec![2]);
    }

    #[test]
    fn curl_rejects_equals_and_lone_dash() {
        assert!(matches!(
            parse(Tool::Curl, &argv(&["--output=x", "u"]), false),
            Err(ParseError::Unknown(_))
        ));
        assert!(matches!(
            parse(Tool::Curl, &argv(&["-"]), false),
            Err(ParseError::Unknown(_))
        ));
        assert!(matches!(
            parse(Tool::Curl, &argv(&["-o"]), false),
            Err(ParseError::MissingValue(_))
        ));
    }

    #[test]
    fn wget_equals_bool_values_and_permutation() {
        let p = parse(
            Tool::Wget,
            &argv(&[
                "http://h/f",
                "--output-document=x",
                "--quiet=off",
                "-nv",
                "--no-verbose",
            ]),
            false,
        )
        .unwrap();
        assert_eq!(
            names(&p),
            vec![
                ("output-document".into(), true, Some("x".into())),
                ("quiet".into(), false, None),
                ("no".into(), true, Some("v".into())),
                ("verbose".into(), false, None),
            ]
        );
        assert_eq!(p.operands, vec![0]);
    }

    #[test]
    fn wget_posixly_correct_stops_at_first_operand() {
        let p = parse(Tool::Wget, &argv(&["-q", "http://h/f", "-O", "x"]), true).unwrap();
        assert_eq!(p.operands, vec![1, 2, 3]);
        // A lone "-" is an operand to wget.
        let p = parse(Tool::Wget, &argv(&["-"]), false).unwrap();
        assert_eq!(p.operands, vec![0]);
    }

    #[test]
    fn wget_rejects_values_where_getopt_does() {
        assert!(matches!(
            parse(Tool::Wget, &argv(&["--quiet=maybe"]), false),
            Err(ParseError::UnexpectedValue(_))
        ));
        assert!(matches!(
            parse(Tool::Wget, &argv(&["--no-quiet=on"]), false),
            Err(ParseError::UnexpectedValue(_))
        ));
        assert!(matches!(
            parse(Tool::Wget, &argv(&["--version=1"]), false),
            Err(ParseError::UnexpectedValue(_))
        ));
    }

    #[test]
    fn non_utf8_bytes_survive_as_values() {
        use std::os::unix::ffi::OsStringExt;
        let args = vec![OsString::from("-o"), OsString::from_vec(vec![0xff, b'x'])];
        let p = parse(Tool::Curl, &args, false).unwrap();
        assert_eq!(p.options[0].value.as_deref(), Some(&[0xff, b'x'][..]));
    }
}
