//! Replays every case in `fixtures/argv/*.json` through the pure planner, and
//! checks the recorded withcache 0.13.3 columns: a case whose expected argv
//! differs from what withcache does must say why (`differs`), and a case that
//! says why must actually differ.
//!
//! Expected argv elements: a string; `{"hex": "..."}` for raw bytes;
//! `{"cache": ORIGIN}` for ORIGIN's cache URL under the case's `cache_base`.
//! The expansion below is written independently of the planner's code.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cacheshim::config_files::ConfigSource;
use cacheshim::env_view::MapEnv;
use cacheshim::planner::{self, Outcome, PlanInput, ProbeAnswer};
use cacheshim::tool::Tool;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

pub struct Case {
    pub file: String,
    pub name: String,
    pub tool: Tool,
    pub argv: Vec<OsString>,
    pub env: MapEnv,
    pub config: BTreeMap<PathBuf, Vec<u8>>,
    pub probe: Value,
    pub cache_base: String,
    pub outcome: String,
    pub expect: Vec<OsString>,
    pub removed: Vec<String>,
    pub withcache: Option<Value>,
    pub differs: Option<String>,
}

struct FixtureFiles(BTreeMap<PathBuf, Vec<u8>>);

impl ConfigSource for FixtureFiles {
    fn read(&self, path: &Path) -> Option<Vec<u8>> {
        self.0.get(path).cloned()
    }
}

/// Cache URL of `origin`: base + "/b/" + unpadded url-safe base64 of the
/// origin as written + "/" + its last path segment as written.
fn expected_cache_url(base: &str, origin: &str) -> String {
    let before_fragment = origin.split('#').next().unwrap();
    let path_part = before_fragment.split('?').next().unwrap();
    let name = path_part.rsplit('/').next().unwrap();
    format!("{base}/b/{}/{name}", URL_SAFE_NO_PAD.encode(origin))
}

fn decode_hex(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
        .collect()
}

fn arg(v: &Value, base: &str) -> OsString {
    match v {
        Value::String(s) => OsString::from(s),
        Value::Object(o) if o.contains_key("hex") => {
            OsString::from_vec(decode_hex(o["hex"].as_str().unwrap()))
        }
        Value::Object(o) if o.contains_key("cache") => {
            OsString::from(expected_cache_url(base, o["cache"].as_str().unwrap()))
        }
        other => panic!("bad argument {other}"),
    }
}

fn args(v: &Value, base: &str) -> Vec<OsString> {
    v.as_array()
        .expect("argv must be a list")
        .iter()
        .map(|a| arg(a, base))
        .collect()
}

pub fn load_cases() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/argv");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures/argv")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let defaults = doc["defaults"].as_object().cloned().unwrap_or_default();
        for c in doc["cases"].as_array().expect("cases") {
            cases.push(case(&file, &defaults, c.as_object().expect("case object")));
        }
    }
    cases
}

fn case(file: &str, defaults: &Map<String, Value>, c: &Map<String, Value>) -> Case {
    let get = |k: &str| c.get(k).or_else(|| defaults.get(k));
    let name = c["name"].as_str().expect("name").to_string();
    let tool =
        Tool::from_name(get("tool").and_then(Value::as_str).expect("tool")).expect("tool name");
    let cache_base = get("cache_base")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut env = BTreeMap::new();
    for src in [defaults.get("env"), c.get("env")].into_iter().flatten() {
        for (k, v) in src.as_object().expect("env object") {
            env.insert(k.clone(), OsString::from(v.as_str().expect("env value")));
        }
    }
    let config = c
        .get("config")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (PathBuf::from(k), v.as_str().unwrap().as_bytes().to_vec()))
                .collect()
        })
        .unwrap_or_default();
    let argv = args(&c["argv"], &cache_base);
    let expect = match c.get("expect") {
        Some(e) => args(e, &cache_base),
        None => argv.clone(),
    };
    Case {
        file: file.to_string(),
        name,
        tool,
        argv,
        env: MapEnv(env),
        config,
        probe: get("probe").cloned().unwrap_or(Value::Null),
        cache_base,
        outcome: c["outcome"].as_str().expect("outcome").to_string(),
        expect,
        removed: c
            .get("removed")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
            .unwrap_or_default(),
        withcache: c.get("withcache").cloned(),
        differs: c.get("differs").and_then(Value::as_str).map(str::to_string),
    }
}

fn answer_for(probe: &Value, origin: &str) -> Result<ProbeAnswer, String> {
    let code = match probe {
        Value::String(s) => s.as_str(),
        Value::Object(m) => m
            .get(origin)
            .or_else(|| m.get("*"))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("no probe answer for {origin}"))?,
        _ => return Err(format!("no probe answer for {origin}")),
    };
    ProbeAnswer::from_code(code).ok_or_else(|| format!("bad probe answer {code}"))
}

/// What our planner does with the case: ("rewrite" | "pass:<reason>", argv, removed).
pub fn run_case(case: &Case) -> Result<(String, Vec<OsString>, Vec<String>), String> {
    let files = FixtureFiles(case.config.clone());
    let input = PlanInput {
        tool: case.tool,
        args: &case.argv,
        env: &case.env,
        config: &files,
    };
    let mut probe_error = None;
    let outcome = planner::plan(&input, |prepared| {
        prepared
            .candidates
            .iter()
            .map(|c| {
                answer_for(&case.probe, &c.origin.url).unwrap_or_else(|e| {
                    probe_error = Some(e);
                    ProbeAnswer::Unreachable
                })
            })
            .collect()
    });
    if let Some(e) = probe_error {
        return Err(e);
    }
    Ok(match outcome {
        Outcome::PassThrough(p) => (
            format!("pass:{}", p.reason.code()),
            case.argv.clone(),
            vec![],
        ),
        Outcome::Rewrite(r) => ("rewrite".into(), r.argv, r.removed),
    })
}

fn show(args: &[OsString]) -> String {
    format!("{args:?}")
}

#[test]
fn at_least_200_cases_across_themed_files() {
    let cases = load_cases();
    assert!(cases.len() >= 200, "only {} fixture cases", cases.len());
    let mut names = std::collections::HashSet::new();
    for c in &cases {
        assert!(
            names.insert((c.file.clone(), c.name.clone())),
            "duplicate case {}: {}",
            c.file,
            c.name
        );
    }
}

#[test]
fn every_case_plans_as_recorded() {
    let mut failures = Vec::new();
    for case in load_cases() {
        let label = format!("{} / {}", case.file, case.name);
        match run_case(&case) {
            Err(e) => failures.push(format!("{label}: {e}")),
            Ok((outcome, argv, removed)) => {
                if outcome != case.outcome {
                    failures.push(format!(
                        "{label}: outcome {outcome}, expected {}",
                        case.outcome
                    ));
                } else if argv != case.expect {
                    failures.push(format!(
                        "{label}: argv\n    got      {}\n    expected {}",
                        show(&argv),
                        show(&case.expect)
                    ));
                } else if removed != case.removed {
                    failures.push(format!(
                        "{label}: removed {removed:?}, expected {:?}",
                        case.removed
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn withcache_columns_are_recorded_and_every_difference_has_a_reason() {
    let mut problems = Vec::new();
    for case in load_cases() {
        let label = format!("{} / {}", case.file, case.name);
        let Some(wc) = &case.withcache else {
            problems.push(format!(
                "{label}: no withcache columns (run scripts/record-withcache)"
            ));
            continue;
        };
        let mut differs_from = Vec::new();
        for column in ["python", "native"] {
            let recorded = &wc[column];
            let same = recorded.is_array() && args(recorded, &case.cache_base) == case.expect;
            if !same {
                differs_from.push(column);
            }
        }
        match (&case.differs, differs_from.is_empty()) {
            (None, false) => problems.push(format!(
                "{label}: differs from withcache ({}) but gives no reason",
                differs_from.join(", ")
            )),
            (Some(_), true) => {
                problems.push(format!("{label}: gives a reason but does not differ"))
            }
            (Some(r), false) if r.trim().is_empty() || r.contains('\n') => {
                problems.push(format!("{label}: the reason must be one line"))
            }
            _ => {}
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
