//! cacheshim: a curl/wget stand-in that fetches from a withcache cache host
//! when it holds the artifact, and otherwise runs the real tool as written.
//!
//! Data flow: `invocation` (argv[0]) → `settings` → `cmdline`, `config_files`,
//! `policy`, `sent_to_origin` and `route` → `planner` (pure) → `probe` (and
//! `origin_check`, `tool_probe`, which run the real tool by `bounded_run`) →
//! `planner::finish` → `real_tool` and `loop_guard` → `exec`.

#[macro_use]
pub mod output;
pub mod bounded_run;
pub mod cache_url;
pub mod cli;
pub mod cmdline;
pub mod config_files;
pub mod decision_log;
pub mod down_memory;
pub mod env_view;
pub mod exec;
pub mod invocation;
pub mod loop_guard;
pub mod machine_local;
pub mod options;
pub mod origin_check;
pub mod panics;
pub mod planner;
pub mod policy;
pub mod probe;
pub mod real_tool;
pub mod revalidate;
pub mod route;
pub mod secrets;
pub mod sent_to_origin;
pub mod settings;
pub mod shim;
pub mod tool;
pub mod tool_probe;
