//! The few socket calls the UDP path makes outside std and quinn-udp, on Unix: poll(2), an integer
//! setsockopt, and the errno values it tells apart. sock_windows.rs is the same interface over Winsock.

use std::io;
use std::net::UdpSocket;
use std::os::fd::{AsRawFd, RawFd};

/// A socket (or the waker's descriptor) as poll sees it.
pub(crate) type RawSock = RawFd;

pub(crate) fn raw(sock: &UdpSocket) -> RawSock {
    sock.as_raw_fd()
}

/// One entry of a poll set, laid out as the system's `pollfd`.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub(crate) struct PollFd(libc::pollfd);

impl PollFd {
    pub fn readable(fd: RawSock) -> PollFd {
        PollFd(libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
    }

    pub fn writable(fd: RawSock) -> PollFd {
        PollFd(libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        })
    }

    pub fn ready(&self) -> bool {
        self.0.revents != 0
    }
}

/// Waits until an entry is ready or `timeout_ms` passes; the number ready (0 on timeout, and on EINTR).
pub(crate) fn poll(fds: &mut [PollFd], timeout_ms: i32) -> io::Result<usize> {
    // SAFETY: PollFd is a transparent pollfd, and the slice is valid for the call.
    let rc = unsafe {
        libc::poll(
            fds.as_mut_ptr().cast::<libc::pollfd>(),
            fds.len() as libc::nfds_t,
            timeout_ms,
        )
    };
    match rc {
        n if n >= 0 => Ok(n as usize),
        _ => match io::Error::last_os_error() {
            e if e.kind() == io::ErrorKind::Interrupted => Ok(0),
            e => Err(e),
        },
    }
}

pub(crate) fn set_int_option(
    sock: &UdpSocket,
    level: i32,
    name: i32,
    value: i32,
) -> io::Result<()> {
    // SAFETY: a live socket and a pointer to an int of the size given.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            &value as *const i32 as *const libc::c_void,
            std::mem::size_of_val(&value) as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The error numbers the UDP path tells apart.
pub(crate) mod errno {
    pub const WOULD_BLOCK: i32 = libc::EAGAIN;
    pub const AF_NOT_SUPPORTED: i32 = libc::EAFNOSUPPORT;
    pub const ADDR_NOT_AVAILABLE: i32 = libc::EADDRNOTAVAIL;
    pub const INVALID: i32 = libc::EINVAL;
    pub const NET_UNREACHABLE: i32 = libc::ENETUNREACH;
}
