//! Keeps shims from exec'ing each other forever.
//!
//! Every shim adds its own file identity to `CACHESHIM_CHAIN` before it execs,
//! and every shim skips the identities listed there when it looks for the real
//! tool. So two different shim binaries on PATH end at the real tool within
//! one extra hop, and a script that the real tool runs can call curl again and
//! still be cached: the list only ever names shims, never changes behaviour
//! otherwise. `CACHESHIM_HOPS` is a backstop for what identities cannot see
//! (say, a wrapper script that re-execs us): at `MAX_HOPS` we stop.

use crate::env_view::EnvView;
use crate::real_tool::FileId;

pub const CHAIN_VAR: &str = "CACHESHIM_CHAIN";
pub const HOPS_VAR: &str = "CACHESHIM_HOPS";
/// `REAL_CURL`/`REAL_WGET` files already run in this chain: reached again,
/// the override is a wrapper that calls the tool by name, and the real
/// tool on PATH is meant.
pub const VIA_VAR: &str = "CACHESHIM_VIA";
pub const MAX_HOPS: u32 = 20;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chain {
    pub seen: Vec<FileId>,
    pub overrides_taken: Vec<FileId>,
    pub hops: u32,
}

impl Chain {
    /// Unparsable entries are ignored: the variable is advice, never a reason to fail.
    pub fn from_env(env: &dyn EnvView) -> Chain {
        let ids = |var: &str| -> Vec<FileId> {
            env.non_empty_str(var)
                .map(|v| {
                    v.split(',')
                        .filter_map(|e| {
                            let (d, i) = e.split_once(':')?;
                            Some(FileId {
                                dev: u64::from_str_radix(d, 16).ok()?,
                                ino: u64::from_str_radix(i, 16).ok()?,
                            })
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let hops = env
            .non_empty_str(HOPS_VAR)
            .and_then(|h| h.trim().parse().ok())
            .unwrap_or(0);
        Chain {
            seen: ids(CHAIN_VAR),
            overrides_taken: ids(VIA_VAR),
            hops,
        }
    }

    pub fn exhausted(&self) -> bool {
        self.hops >= MAX_HOPS
    }

    /// The variables to hand to the program we exec: ourselves added to
    /// the shims seen, and the override we run (if any) to those taken.
    pub fn passed_on(
        &self,
        me: Option<FileId>,
        override_run: Option<FileId>,
    ) -> Vec<(&'static str, String)> {
        let with = |list: &[FileId], id: Option<FileId>| {
            let mut list = list.to_vec();
            if let Some(id) = id
                && !list.contains(&id)
            {
                list.push(id);
            }
            list.iter()
                .map(|f| format!("{:x}:{:x}", f.dev, f.ino))
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut vars = vec![
            (CHAIN_VAR, with(&self.seen, me)),
            (HOPS_VAR, (self.hops + 1).to_string()),
        ];
        if override_run.is_some() || !self.overrides_taken.is_empty() {
            vars.push((VIA_VAR, with(&self.overrides_taken, override_run)));
        }
        vars
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env_view::MapEnv;
    use std::ffi::OsString;

    #[test]
    fn round_trip_and_garbage_tolerance() {
        let me = FileId {
            dev: 0x803,
            ino: 0x1f,
        };
        let c = Chain::default().passed_on(Some(me), None);
        let env = MapEnv(
            c.iter()
                .map(|(k, v)| (k.to_string(), OsString::from(v)))
                .collect(),
        );
        let back = Chain::from_env(&env);
        assert_eq!(
            back,
            Chain {
                seen: vec![me],
                overrides_taken: vec![],
                hops: 1
            }
        );
        // Adding ourselves twice keeps one entry.
        assert_eq!(back.passed_on(Some(me), None)[0].1, "803:1f");

        let env = MapEnv(
            [(CHAIN_VAR, "zz,1:2,,3"), (HOPS_VAR, "x")]
                .iter()
                .map(|(k, v)| (k.to_string(), OsString::from(v)))
                .collect(),
        );
        assert_eq!(
            Chain::from_env(&env),
            Chain {
                seen: vec![FileId { dev: 1, ino: 2 }],
                overrides_taken: vec![],
                hops: 0
            }
        );
    }

    #[test]
    fn hop_cap() {
        assert!(
            !Chain {
                seen: vec![],
                overrides_taken: vec![],
                hops: MAX_HOPS - 1
            }
            .exhausted()
        );
        assert!(
            Chain {
                seen: vec![],
                overrides_taken: vec![],
                hops: MAX_HOPS
            }
            .exhausted()
        );
    }
}
