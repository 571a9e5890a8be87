//! The one way the shim runs another program and waits for it (the origin
//! check's curl, the https cache probe's curl or wget): input handed in on
//! stdin, stdout and stderr captured, killed at a deadline, and nothing of
//! the user's inherited.
//!
//! stdin, stdout and stderr are memory files, not pipes: no thread is needed
//! to feed or drain them, and a child that dies early cannot kill the shim
//! with SIGPIPE (which the shim leaves at its default, for the real tool's
//! sake). Every other descriptor is closed at exec in the child, as
//! `posix_spawn` with a clean table would: a pipe the user handed the real
//! tool (`--cacert <(…)`, an inherited `/dev/fd/N`) is never read, nor held
//! open, by anything the shim runs.

use std::io::{Read, Seek, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What the child left: its status (None: it could not start, or was killed
/// at the deadline) and what it printed by then.
#[derive(Debug, Default)]
pub struct Finished {
    pub status: Option<ExitStatus>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

pub fn run(mut cmd: Command, input: &[u8], deadline: Instant) -> Finished {
    use nix::sys::memfd::{MFdFlags, memfd_create};
    let memory =
        || memfd_create(c"cacheshim-child", MFdFlags::MFD_CLOEXEC).map(std::fs::File::from);
    let (Ok(mut stdin), Ok(stdout), Ok(stderr)) = (memory(), memory(), memory()) else {
        return Finished::default();
    };
    if stdin.write_all(input).and_then(|_| stdin.rewind()).is_err() {
        return Finished::default();
    }
    let (Ok(mut out_reader), Ok(mut err_reader)) = (stdout.try_clone(), stderr.try_clone()) else {
        return Finished::default();
    };
    cmd.stdin(Stdio::from(stdin))
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr));
    // SAFETY: runs in the child between fork and exec, and makes only
    // async-signal-safe system calls (close_range, fcntl, getrlimit).
    unsafe {
        cmd.pre_exec(|| {
            close_inherited_at_exec();
            Ok(())
        });
    }
    let Ok(mut child) = cmd.spawn() else {
        return Finished::default();
    };
    // The command is dropped with its copies of the descriptors.
    drop(cmd);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_micros(500)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let mut done = Finished {
        status,
        ..Finished::default()
    };
    let _ = out_reader
        .rewind()
        .and_then(|_| out_reader.read_to_end(&mut done.stdout));
    let _ = err_reader
        .rewind()
        .and_then(|_| err_reader.read_to_end(&mut done.stderr));
    done
}

/// Marks every descriptor above stderr close-on-exec (`close_range` with
/// `CLOSE_RANGE_CLOEXEC`, Linux 5.11; before that, one `fcntl` each up to
/// the descriptor limit). Close-on-exec rather than closed: std's own
/// exec-error pipe must stay open until the exec.
fn close_inherited_at_exec() {
    use nix::libc;
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: plain system calls on descriptor numbers.
    unsafe {
        if libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        ) == 0
        {
            return;
        }
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        let top = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur.min(65_536) as libc::c_int
        } else {
            1024
        };
        for fd in 3..top {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn the_child_inherits_no_descriptor_of_ours() {
        // A descriptor without close-on-exec, as a shell's process
        // substitution leaves one.
        let (r, _w) = nix::unistd::pipe().unwrap();
        let fd = r.as_raw_fd();
        nix::fcntl::fcntl(
            &r,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        )
        .unwrap();
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", &format!("ls /proc/self/fd/{fd} 2>/dev/null; cat")]);
        let done = run(
            cmd,
            b"stdin reaches it\n",
            Instant::now() + Duration::from_secs(5),
        );
        assert!(done.status.is_some_and(|s| s.success()));
        assert_eq!(done.stdout, b"stdin reaches it\n");
    }

    #[test]
    fn a_child_past_the_deadline_is_killed() {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "echo early; exec sleep 30"]);
        let started = Instant::now();
        let done = run(cmd, b"", Instant::now() + Duration::from_millis(300));
        assert!(done.status.is_none());
        assert_eq!(done.stdout, b"early\n");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
