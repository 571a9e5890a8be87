//! Generates the curl and wget option tables from `options/*.tsv`.
//!
//! The TSV files are copies of `../shared/options/*.tsv`, read from the tools'
//! own sources; `tests/option_tables.rs` checks that the copies still match.
//! Generating (instead of hand-typing ~450 options) keeps the parser exactly as
//! wide as the real tools.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

fn main() {
    let out = Path::new(&env::var("OUT_DIR").expect("OUT_DIR")).join("option_tables.rs");
    let mut code = String::new();
    for (tool, konst) in [("curl", "CURL_OPTIONS"), ("wget", "WGET_OPTIONS")] {
        let path = format!("options/{tool}.tsv");
        println!("cargo:rerun-if-changed={path}");
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut rows = parse_rows(&path, &text);
        rows.sort_by(|a, b| a.long.cmp(&b.long));
        writeln!(code, "pub static {konst}: &[OptionSpec] = &[").unwrap();
        for r in &rows {
            let short = match r.short {
                Some(c) => format!("Some(b'{}')", c.escape_default()),
                None => "None".to_string(),
            };
            writeln!(
                code,
                "    OptionSpec {{ long: {:?}, short: {short}, takes: Takes::{}, secret: {} }},",
                r.long, r.takes, r.secret
            )
            .unwrap();
        }
        writeln!(code, "];").unwrap();
    }
    // wgetrc commands -> the long option each sets (from wget's init.c and
    // main.c; commands without an option are left out).
    let path = "options/wgetrc.tsv";
    println!("cargo:rerun-if-changed={path}");
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    writeln!(code, "pub static WGETRC_COMMANDS: &[(&str, &str)] = &[").unwrap();
    for line in text.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 4, "{path}: {line}");
        if cols[1] != "-" {
            writeln!(code, "    ({:?}, {:?}),", cols[0], cols[1]).unwrap();
        }
    }
    writeln!(code, "];").unwrap();
    fs::write(out, code).expect("write option tables");
}

struct Row {
    long: String,
    short: Option<char>,
    takes: &'static str,
    secret: bool,
}

fn parse_rows(path: &str, text: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut header_seen = false;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !header_seen {
            // First non-comment line names the columns.
            assert!(
                line.starts_with("long\tshort\ttakes"),
                "{path}: unexpected header"
            );
            header_seen = true;
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(cols.len() >= 3, "{path}:{}: need 3 columns", n + 1);
        let short = match cols[1] {
            "" => None,
            s if s.chars().count() == 1 => s.chars().next(),
            s => panic!("{path}:{}: short option {s:?} is not one character", n + 1),
        };
        let takes = match cols[2] {
            "value" => "Value",
            "bool" => "Bool",
            "none" => "None",
            "optional" => "Optional",
            t => panic!("{path}:{}: unknown arity {t:?}", n + 1),
        };
        let secret = cols
            .get(3)
            .is_some_and(|f| f.split(',').any(|f| f == "clear"));
        rows.push(Row {
            long: cols[0].to_string(),
            short,
            takes,
            secret,
        });
    }
    rows
}
