//! The planner reads the environment through this view, so fixtures can hand
//! it a map and the binary can hand it the real process environment.

use std::collections::BTreeMap;
use std::ffi::OsString;

pub trait EnvView {
    fn var(&self, name: &str) -> Option<OsString>;

    /// Set and not empty: empty means unset for every variable we read.
    fn non_empty(&self, name: &str) -> Option<OsString> {
        self.var(name).filter(|v| !v.is_empty())
    }

    fn non_empty_str(&self, name: &str) -> Option<String> {
        self.non_empty(name)
            .map(|v| v.to_string_lossy().into_owned())
    }
}

/// The real process environment.
pub struct ProcessEnv;

impl EnvView for ProcessEnv {
    fn var(&self, name: &str) -> Option<OsString> {
        std::env::var_os(name)
    }
}

/// A fixed environment (fixtures, `cacheshim plan`).
#[derive(Clone, Debug, Default)]
pub struct MapEnv(pub BTreeMap<String, OsString>);

impl MapEnv {
    pub fn from_pairs(pairs: &[(&str, &str)]) -> MapEnv {
        MapEnv(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), OsString::from(v)))
                .collect(),
        )
    }
}

impl EnvView for MapEnv {
    fn var(&self, name: &str) -> Option<OsString> {
        self.0.get(name).cloned()
    }
}
