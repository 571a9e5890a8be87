//! The two download tools the shim can stand in for.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tool {
    Curl,
    Wget,
}

impl Tool {
    /// The bare command name; also the argv[0] the real tool is exec'd with,
    /// so a BusyBox multi-call binary as the real wget knows what to be.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Curl => "curl",
            Tool::Wget => "wget",
        }
    }

    /// `REAL_CURL` / `REAL_WGET`: pins the real tool's path.
    pub fn real_override_var(self) -> &'static str {
        match self {
            Tool::Curl => "REAL_CURL",
            Tool::Wget => "REAL_WGET",
        }
    }

    /// `CURLWITHCACHE_SERVER` / `WGETWITHCACHE_SERVER`: beats `WITHCACHE_SERVER`.
    pub fn server_var(self) -> &'static str {
        match self {
            Tool::Curl => "CURLWITHCACHE_SERVER",
            Tool::Wget => "WGETWITHCACHE_SERVER",
        }
    }

    pub fn from_name(name: &str) -> Option<Tool> {
        match name {
            "curl" => Some(Tool::Curl),
            "wget" => Some(Tool::Wget),
            _ => None,
        }
    }
}
