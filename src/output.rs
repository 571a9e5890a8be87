//! Output that cannot crash. std's `print!`/`eprintln!` panic when the write
//! fails (`>/dev/full`), and std treats a closed stdout as a sink that
//! swallows everything: neither is acceptable in front of every curl. Here
//! stdout is written straight to fd 1 and the first failure is kept for the
//! caller to report (`cacheshim url >/dev/full` must say it wrote nothing);
//! stderr is best effort, since there is nowhere left to report its failure.

use std::io::Write;
use std::os::fd::BorrowedFd;
use std::sync::Mutex;

static STDOUT_FAILURE: Mutex<Option<std::io::Error>> = Mutex::new(None);

/// Writes `text` to fd 1 (unbuffered). After a failure nothing more is
/// written; `stdout_failure` tells what went wrong.
pub fn write_stdout(text: &[u8]) {
    let Ok(mut failure) = STDOUT_FAILURE.lock() else {
        return;
    };
    if failure.is_some() {
        return;
    }
    // SAFETY: fd 1 is only borrowed for the write; if it is closed the
    // write fails with EBADF, which is what we want to learn.
    let fd = unsafe { BorrowedFd::borrow_raw(1) };
    let mut rest = text;
    while !rest.is_empty() {
        match nix::unistd::write(fd, rest) {
            Ok(0) => {
                *failure = Some(std::io::ErrorKind::WriteZero.into());
                return;
            }
            Ok(n) => rest = &rest[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => {
                *failure = Some(std::io::Error::from_raw_os_error(e as i32));
                return;
            }
        }
    }
}

/// `write_stdout` for formatted text (one function for every call site:
/// smaller than a `format!` at each).
pub fn write_stdout_fmt(args: std::fmt::Arguments) {
    struct Fd1;
    impl std::fmt::Write for Fd1 {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            write_stdout(s.as_bytes());
            Ok(())
        }
    }
    let _ = std::fmt::Write::write_fmt(&mut Fd1, args);
}

/// The first failed stdout write, if any (taken: reported once).
pub fn stdout_failure() -> Option<std::io::Error> {
    STDOUT_FAILURE.lock().ok()?.take()
}

/// Best effort: a full or closed stderr loses the message, nothing else.
/// Formatted first and written with one `write(2)` (a line under PIPE_BUF
/// from shims running in parallel is never cut by another's).
pub fn write_stderr(args: std::fmt::Arguments) {
    let text = std::fmt::format(args);
    let _ = std::io::stderr().write_all(text.as_bytes());
}

#[macro_export]
macro_rules! out {
    ($($t:tt)*) => { $crate::output::write_stdout_fmt(format_args!($($t)*)) };
}

#[macro_export]
macro_rules! outln {
    () => { $crate::output::write_stdout(b"\n") };
    ($($t:tt)*) => { $crate::output::write_stdout_fmt(format_args!("{}\n", format_args!($($t)*))) };
}

#[macro_export]
macro_rules! errln {
    ($($t:tt)*) => { $crate::output::write_stderr(format_args!("{}\n", format_args!($($t)*))) };
}

#[macro_export]
macro_rules! err {
    ($($t:tt)*) => { $crate::output::write_stderr(format_args!($($t)*)) };
}
