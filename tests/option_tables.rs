//! The generated option tables are exactly the TSV files, and the TSV copies
//! in this repository are exactly the shared ones (read from curl's and wget's
//! own sources).

mod common;

use cacheshim::options::{self, Takes};
use cacheshim::tool::Tool;
use std::path::Path;

fn rows(text: &str) -> Vec<(String, Option<u8>, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .skip(1) // column names
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c[0].to_string(), c[1].bytes().next(), c[2].to_string())
        })
        .collect()
}

#[test]
fn generated_tables_match_the_tsv_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (tool, file) in [(Tool::Curl, "curl.tsv"), (Tool::Wget, "wget.tsv")] {
        let text = std::fs::read_to_string(root.join("options").join(file)).unwrap();
        let want = rows(&text);
        let table = options::table(tool);
        assert_eq!(table.len(), want.len(), "{file}: row count");
        for (long, short, takes) in &want {
            let spec =
                options::by_long(tool, long).unwrap_or_else(|| panic!("{file}: --{long} missing"));
            assert_eq!(spec.short, *short, "{file}: --{long} short letter");
            let t = match spec.takes {
                Takes::Value => "value",
                Takes::Bool => "bool",
                Takes::None => "none",
                Takes::Optional => "optional",
            };
            assert_eq!(t, takes, "{file}: --{long} arity");
        }
    }
}

#[test]
fn repository_copies_match_shared_options() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../shared/options");
    if !shared.is_dir() {
        common::missing_part("../shared/options beside the project");
        return;
    }
    for file in ["curl.tsv", "wget.tsv"] {
        let ours = std::fs::read(root.join("options").join(file)).unwrap();
        let theirs = std::fs::read(shared.join(file)).unwrap();
        assert!(
            ours == theirs,
            "options/{file} differs from ../shared/options/{file}: copy it again"
        );
    }
}
