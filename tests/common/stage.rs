//! A stage for direct-versus-shim runs of real tools: bin/{curl,wget} link
//! to the binary under test; each run gets a fresh directory, and what it
//! left (exit status, stdout, every file) is compared.
#![allow(dead_code)]

use super::{clean_command, run_bounded};
use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

/// What a run left: exit status, stdout, and every file in its directory.
#[derive(Debug, PartialEq)]
pub struct Result_ {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: Vec<u8>,
    pub files: BTreeMap<String, Vec<u8>>,
}

pub struct Stage {
    dir: tempfile::TempDir,
}

impl Stage {
    /// bin/{curl,wget} -> the binary; the run directories are writable by
    /// the unprivileged user the thread-limit runs use.
    pub fn new(binary: &Path) -> Stage {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        for name in ["curl", "wget"] {
            symlink(binary, dir.path().join("bin").join(name)).unwrap();
        }
        chmod(dir.path(), 0o755);
        Stage { dir }
    }

    pub fn bin(&self) -> String {
        self.dir.path().join("bin").display().to_string()
    }

    /// `script` in bash, in a fresh directory, with PATH starting at `path`.
    pub fn run(&self, label: &str, path: &str, script: &str, env: &[(&str, &str)]) -> Result_ {
        let work = self.dir.path().join(label);
        std::fs::create_dir(&work).unwrap();
        chmod(&work, 0o777);
        let mut cmd = clean_command("/bin/bash");
        cmd.arg("-c")
            .arg(script)
            .current_dir(&work)
            .env("PATH", format!("{path}:/usr/bin:/bin"))
            .env("HOME", &work);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = run_bounded(&mut cmd, LIMIT);
        let mut files = BTreeMap::new();
        for e in std::fs::read_dir(&work).unwrap() {
            let e = e.unwrap();
            files.insert(
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap_or_default(),
            );
        }
        Result_ {
            code: out.status.code(),
            signal: out.status.signal(),
            stdout: out.stdout,
            files,
        }
    }

    /// The same script directly (real tools first on PATH) and through the
    /// shim; both results, direct first.
    pub fn both(&self, label: &str, script: &str, env: &[(&str, &str)]) -> (Result_, Result_) {
        let direct = self.run(&format!("{label}-direct"), "/usr/bin", script, env);
        let shim = self.run(&format!("{label}-shim"), &self.bin(), script, env);
        (direct, shim)
    }
}

impl Stage {
    /// `script` directly and through the shim (with `WITHCACHE_DEBUG=1`, its
    /// stderr in `debug.txt`), which must agree; the shim's result and its
    /// debug line.
    pub fn same_with_debug<K: AsRef<str>, V: AsRef<str>>(
        &self,
        label: &str,
        script: &str,
        env: &[(K, V)],
    ) -> (Result_, String) {
        let script = format!("{{ {script}\n}} 2>debug.txt");
        let mut env: Vec<(&str, &str)> =
            env.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
        env.push(("WITHCACHE_DEBUG", "1"));
        let (mut direct, mut shim) = self.both(label, &script, &env);
        direct.files.remove("debug.txt");
        let said = shim
            .files
            .remove("debug.txt")
            .map(|d| String::from_utf8_lossy(&d).into_owned())
            .unwrap_or_default();
        assert_same(&format!("{label} ({said})"), &direct, &shim);
        (shim, said)
    }
}

pub fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

pub fn assert_same(label: &str, direct: &Result_, shim: &Result_) {
    assert_eq!(
        shim.signal, None,
        "{label}: the shim died of a signal: {shim:?}"
    );
    assert_eq!(
        direct, shim,
        "{label}: direct (left) and through the shim (right) differ"
    );
}
