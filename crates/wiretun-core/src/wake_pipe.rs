//! A pipe that wakes a thread blocked in poll(2), for platforms without eventfd (macOS). Same interface
//! as wake.rs: one pending wake-up is enough, so a full pipe just means one is already queued.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub(crate) struct Waker {
    read: OwnedFd,
    write: OwnedFd,
}

impl Waker {
    pub fn new() -> io::Result<Waker> {
        let mut fds = [0 as libc::c_int; 2];
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // Owned at once so both ends close on any error below.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        for fd in [&read, &write] {
            set_flags(fd.as_raw_fd())?;
        }
        Ok(Waker { read, write })
    }

    pub fn wake(&self) {
        let one = 1u8;
        unsafe {
            libc::write(
                self.write.as_raw_fd(),
                &one as *const u8 as *const libc::c_void,
                1,
            )
        };
    }

    pub fn drain(&self) {
        let mut buf = [0u8; 64];
        while unsafe {
            libc::read(
                self.read.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
            )
        } > 0
        {}
    }

    pub fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }
}

/// Non-blocking (wake and drain never stall) and close-on-exec (no pipe leaks into child processes).
fn set_flags(fd: RawFd) -> io::Result<()> {
    let ok = unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        fl >= 0
            && libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) == 0
            && libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) == 0
    };
    if ok {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(fd: RawFd) -> bool {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        unsafe { libc::poll(&mut pfd, 1, 0) == 1 }
    }

    #[test]
    fn wakes_poll_until_drained_and_never_blocks() {
        let w = Waker::new().unwrap();
        assert!(!readable(w.fd()));
        // Far more than a pipe holds: a blocking write end would hang here.
        for _ in 0..200_000 {
            w.wake();
        }
        assert!(readable(w.fd()));
        w.drain();
        assert!(!readable(w.fd()));
        w.wake();
        assert!(readable(w.fd()));
    }

    #[test]
    fn both_ends_are_close_on_exec() {
        let w = Waker::new().unwrap();
        for fd in [w.read.as_raw_fd(), w.write.as_raw_fd()] {
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
            assert_ne!(flags & libc::FD_CLOEXEC, 0, "fd {fd} leaks into children");
        }
    }
}
