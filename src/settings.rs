//! The shim's own environment variables.

use crate::env_view::EnvView;
use crate::tool::Tool;
use std::ffi::OsString;
use std::time::Duration;

pub const GENERIC_SERVER_VAR: &str = "WITHCACHE_SERVER";
pub const PROBE_TIMEOUT_VAR: &str = "WITHCACHE_PROBE_TIMEOUT";
pub const DEBUG_VAR: &str = "WITHCACHE_DEBUG";
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The server setting in effect: the tool's own variable beats the generic one;
/// empty means unset. Returns the variable's name with its value.
pub fn server_setting(tool: Tool, env: &dyn EnvView) -> Option<(&'static str, OsString)> {
    [tool.server_var(), GENERIC_SERVER_VAR]
        .into_iter()
        .find_map(|name| env.non_empty(name).map(|v| (name, v)))
}

/// `WITHCACHE_PROBE_TIMEOUT` in seconds (fractions allowed); anything that is
/// not a positive finite number means the default.
pub fn probe_timeout(env: &dyn EnvView) -> Duration {
    env.non_empty_str(PROBE_TIMEOUT_VAR)
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 3600.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_PROBE_TIMEOUT)
}

pub fn debug_enabled(env: &dyn EnvView) -> bool {
    env.var(DEBUG_VAR)
        .is_some_and(|v| !v.is_empty() && v != "0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env_view::MapEnv;

    fn env(pairs: &[(&str, &str)]) -> MapEnv {
        MapEnv(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), OsString::from(v)))
                .collect(),
        )
    }

    #[test]
    fn tool_variable_wins_and_empty_is_unset() {
        let e = env(&[("WITHCACHE_SERVER", "a"), ("CURLWITHCACHE_SERVER", "b")]);
        assert_eq!(server_setting(Tool::Curl, &e).unwrap().1, "b");
        assert_eq!(server_setting(Tool::Wget, &e).unwrap().1, "a");
        let e = env(&[("WITHCACHE_SERVER", "a"), ("CURLWITHCACHE_SERVER", "")]);
        assert_eq!(
            server_setting(Tool::Curl, &e).unwrap(),
            ("WITHCACHE_SERVER", "a".into())
        );
        assert!(server_setting(Tool::Curl, &env(&[("WITHCACHE_SERVER", "")])).is_none());
    }

    #[test]
    fn timeout_parsing() {
        assert_eq!(probe_timeout(&env(&[])), DEFAULT_PROBE_TIMEOUT);
        assert_eq!(
            probe_timeout(&env(&[(PROBE_TIMEOUT_VAR, "0.25")])),
            Duration::from_millis(250)
        );
        for bad in ["0", "-1", "nan", "inf", "x", "1e9"] {
            assert_eq!(
                probe_timeout(&env(&[(PROBE_TIMEOUT_VAR, bad)])),
                DEFAULT_PROBE_TIMEOUT
            );
        }
    }

    #[test]
    fn debug_flag() {
        assert!(debug_enabled(&env(&[(DEBUG_VAR, "1")])));
        assert!(!debug_enabled(&env(&[(DEBUG_VAR, "0")])));
        assert!(!debug_enabled(&env(&[])));
    }
}
