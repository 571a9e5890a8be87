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

#[test]
fn the_wgetrc_table_is_wgets_own_command_table() {
    // Every command of commands[] in wget's init.c, mapped to the option
    // whose option_data[] entry in main.c names it: regenerated from the
    // source and compared.
    let Some(src) = common::wget_source() else {
        common::missing_part("wget's Debian source (scripts/install-test-deps fetches it)");
        return;
    };
    let out = std::process::Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gen-wgetrc-table"))
        .arg(&src)
        .arg("--check")
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And every option it names is one the parser knows.
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("options/wgetrc.tsv"))
            .unwrap();
    for line in text.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 4, "{line}");
        if cols[1] == "-" {
            // A command that maps to no option says why it may be left aside.
            assert!(
                !cols[3].trim().is_empty(),
                "no option and no reason: {line}"
            );
        } else {
            assert!(
                options::by_long(Tool::Wget, cols[1]).is_some(),
                "--{}",
                cols[1]
            );
        }
    }
    // The SSL commands (IF_SSL in main.c) and the deprecated ones map too.
    for (command, long) in [
        ("checkcertificate", "check-certificate"),
        ("cacertificate", "ca-certificate"),
        ("pinnedpubkey", "pinnedpubkey"),
        ("secureprotocol", "secure-protocol"),
        ("htmlextension", "adjust-extension"),
        ("httppasswd", "http-password"),
    ] {
        assert!(
            cacheshim::options::WGETRC_COMMANDS
                .iter()
                .any(|(c, l)| *c == command && *l == long),
            "{command}"
        );
    }
    assert!(
        cacheshim::options::WGETRC_COMMANDS
            .iter()
            .any(|(c, l)| *c == "dirprefix" && *l == "directory-prefix")
    );
}
