//! Replays every case in `fixtures/argv/*.json` through the pure planner, and
//! checks the recorded withcache 0.13.3 columns: a case whose expected argv
//! differs from what withcache does must say why (`differs`), and a case that
//! says why must actually differ.
//!
//! The fixture format is described in `tests/common/fixtures.rs`.

mod common;

use cacheshim::planner::{self, Outcome, PlanInput, ProbeAnswer};
use common::fixtures::{Case, FixtureFiles, args, load_cases};
use serde_json::Value;
use std::ffi::OsString;

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
        busybox: false,
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
