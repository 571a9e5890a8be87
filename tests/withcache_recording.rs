//! The withcache columns in fixtures/argv are real: re-running the recorder
//! against withcache 0.13.3 reproduces every one of them.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[test]
fn recorded_withcache_columns_match_withcache_0_13_3() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv/bin/python");
    let has_withcache = Command::new(&python)
        .args(["-c", "import withcache"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_withcache {
        common::missing_part("withcache 0.13.3 in .venv (scripts/setup-venv)");
        return;
    }
    let mut cmd = Command::new(&python);
    cmd.arg(root.join("scripts/record_withcache.py"))
        .arg("--check");
    let out = common::run_bounded(&mut cmd, Duration::from_secs(300));
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
