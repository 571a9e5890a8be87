//! The floor for the pass-through rows of scripts/bench: a minimal static
//! Rust program that only execs the trivial tool (its path is fixed when
//! bench/run.py compiles it, from FLOOR_TARGET).
use std::os::unix::process::CommandExt;

fn main() {
    let err = std::process::Command::new(env!("FLOOR_TARGET")).exec();
    eprintln!("floor: {err}");
    std::process::exit(126);
}
