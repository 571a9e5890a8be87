//! Loading `fixtures/argv/*.json` (shared by the fixture replay and the
//! `cacheshim plan` replay).
//!
//! Expected argv elements: a string; `{"hex": "..."}` for raw bytes;
//! `{"cache": ORIGIN}` for ORIGIN's cache URL under the case's `cache_base`.
//! The expansion here is written independently of the planner's code.
#![allow(dead_code)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cacheshim::config_files::ConfigSource;
use cacheshim::env_view::MapEnv;
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

pub struct FixtureFiles(pub BTreeMap<PathBuf, Vec<u8>>);

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

pub fn args(v: &Value, base: &str) -> Vec<OsString> {
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
