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
/// not a positive number of at most an hour means the default.
pub fn probe_timeout(env: &dyn EnvView) -> Duration {
    env.non_empty_str(PROBE_TIMEOUT_VAR)
        .and_then(|v| parse_seconds(&v))
        .filter(|d| !d.is_zero() && *d <= Duration::from_secs(3600))
        .unwrap_or(DEFAULT_PROBE_TIMEOUT)
}

/// `2`, `0.25`, `1.5`: seconds with up to nine decimals. Integer arithmetic
/// only: the float parser and its tables cost the binary ~25 KB.
pub fn parse_seconds(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if (whole.is_empty() && frac.is_empty())
        || frac.len() > 9
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let secs: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let nanos: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    Some(Duration::new(secs, nanos))
}

/// Milliseconds with one decimal (`12.3`), without floating point.
pub fn millis(d: Duration) -> String {
    let tenths = d.as_micros() / 100;
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// Seconds with milliseconds, `1.800`, as curl and wget read a time limit
/// (integer arithmetic: float formatting would cost the binary ~10 KB).
pub fn seconds_text(d: Duration) -> String {
    format!("{}.{:03}", d.as_secs(), d.subsec_millis())
}

/// How long a hit confirmed fresh by the origin is remembered
/// (`WITHCACHE_REVALIDATE_TTL`, default 60 s, 0 = never).
pub fn revalidate_ttl(env: &dyn EnvView) -> Duration {
    env.non_empty_str(crate::revalidate::TTL_VAR)
        .and_then(|v| parse_seconds(&v))
        .filter(|d| *d <= Duration::from_secs(86_400))
        .unwrap_or(Duration::from_secs(crate::revalidate::DEFAULT_TTL_SECS))
}

/// Whole seconds, rounded up.
pub fn seconds_ceil(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// A boolean environment variable: `1`, `true`, `yes`, `on` (any case) are
/// on; `0`, `false`, `no`, `off` are off; unset or empty is `unset`; any
/// other word is `bad`, the safe value (and a warning under
/// `WITHCACHE_DEBUG`, from `flag_warnings`).
pub struct Flag {
    pub var: &'static str,
    pub unset: bool,
    pub bad: bool,
}

/// `WITHCACHE_KEEP_QUERY=1` (after withcache-server's `--keep-query`): the
/// cache host keys blobs on the full URL, so URLs with a query may be served.
/// Unknown words: off (another query's bytes must not come back).
pub const KEEP_QUERY: Flag = Flag {
    var: "WITHCACHE_KEEP_QUERY",
    unset: false,
    bad: false,
};

/// Never serve an https origin from a plain-http cache host. Unknown words:
/// on.
pub const REQUIRE_TLS: Flag = Flag {
    var: "WITHCACHE_REQUIRE_TLS",
    unset: false,
    bad: true,
};

/// Ask the origin before hits that depend on it. Unknown words: on.
pub const ORIGIN_CHECK: Flag = Flag {
    var: "WITHCACHE_ORIGIN_CHECK",
    unset: true,
    bad: true,
};

/// The one-line account on stderr. Unknown words: on (someone asked).
pub const DEBUG: Flag = Flag {
    var: DEBUG_VAR,
    unset: false,
    bad: true,
};

pub const FLAGS: &[&Flag] = &[&KEEP_QUERY, &REQUIRE_TLS, &ORIGIN_CHECK, &DEBUG];

pub fn parse_bool(word: &str) -> Option<bool> {
    let w = word.trim().to_ascii_lowercase();
    match w.as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

impl Flag {
    pub fn get(&self, env: &dyn EnvView) -> bool {
        match env.non_empty_str(self.var) {
            None => self.unset,
            Some(v) => parse_bool(&v).unwrap_or(self.bad),
        }
    }
}

/// One line per flag set to a word that is not a boolean.
pub fn flag_warnings(env: &dyn EnvView) -> Vec<String> {
    FLAGS
        .iter()
        .filter_map(|f| {
            let v = env.non_empty_str(f.var)?;
            parse_bool(&v).is_none().then(|| {
                format!(
                    "{}={v:?} is not 1/true/yes/on or 0/false/no/off: taken as {}",
                    f.var,
                    if f.bad { "on" } else { "off" }
                )
            })
        })
        .collect()
}

pub fn keep_query(env: &dyn EnvView) -> bool {
    KEEP_QUERY.get(env)
}

pub fn debug_enabled(env: &dyn EnvView) -> bool {
    DEBUG.get(env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env_view::MapEnv;

    fn env(pairs: &[(&str, &str)]) -> MapEnv {
        MapEnv::from_pairs(pairs)
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
    fn booleans_as_words() {
        for (word, keep) in [
            ("1", true),
            ("true", true),
            ("YES", true),
            ("on", true),
            ("0", false),
            ("false", false),
            ("no", false),
            ("Off", false),
            ("", false),
            ("maybe", false),
        ] {
            assert_eq!(
                keep_query(&env(&[(KEEP_QUERY.var, word)])),
                keep,
                "{word:?}"
            );
        }
        assert!(REQUIRE_TLS.get(&env(&[(REQUIRE_TLS.var, "maybe")])));
        assert!(!REQUIRE_TLS.get(&env(&[(REQUIRE_TLS.var, "no")])));
        assert!(ORIGIN_CHECK.get(&env(&[])));
        assert!(!ORIGIN_CHECK.get(&env(&[(ORIGIN_CHECK.var, "off")])));
        assert!(!ORIGIN_CHECK.get(&env(&[(ORIGIN_CHECK.var, "false")])));
        assert!(ORIGIN_CHECK.get(&env(&[(ORIGIN_CHECK.var, "sometimes")])));
        let said = flag_warnings(&env(&[(KEEP_QUERY.var, "maybe"), (DEBUG_VAR, "1")]));
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].contains("WITHCACHE_KEEP_QUERY") && said[0].contains("off"));
    }

    #[test]
    fn debug_flag() {
        assert!(debug_enabled(&env(&[(DEBUG_VAR, "1")])));
        assert!(!debug_enabled(&env(&[(DEBUG_VAR, "0")])));
        assert!(!debug_enabled(&env(&[])));
    }
}
