//! The floor for the hit rows of scripts/bench: the least any shim must do
//! on a hit, in a minimal static Rust program. One HEAD to the cache host
//! (plain TCP, no parsing beyond the status line), then exec of the real
//! curl with the arguments given (already pointing at the cache URL).
//! bench/run.py compiles it with the cache host and path fixed
//! (FLOOR_CACHE_ADDR, FLOOR_CACHE_PATH) and the curl to exec (FLOOR_TARGET).
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;

fn main() {
    let mut s = std::net::TcpStream::connect(env!("FLOOR_CACHE_ADDR")).expect("connect");
    let request = concat!(
        "HEAD ",
        env!("FLOOR_CACHE_PATH"),
        " HTTP/1.1\r\nHost: ",
        env!("FLOOR_CACHE_ADDR"),
        "\r\nConnection: close\r\n\r\n"
    );
    s.write_all(request.as_bytes()).expect("send");
    let mut answer = [0u8; 1024];
    let n = s.read(&mut answer).expect("answer");
    assert!(answer[..n].starts_with(b"HTTP/1.1 200"), "not a hit");
    drop(s);
    let err = std::process::Command::new(env!("FLOOR_TARGET"))
        .args(std::env::args_os().skip(1))
        .exec();
    eprintln!("hit floor: {err}");
    std::process::exit(126);
}
