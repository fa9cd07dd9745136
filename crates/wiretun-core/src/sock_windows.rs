//! The few socket calls the UDP path makes outside std and quinn-udp, on Windows: WSAPoll, an integer
//! setsockopt, and the WSA error values it tells apart. Same interface as sock_unix.rs.

use std::io;
use std::net::UdpSocket;
use std::os::windows::io::{AsRawSocket, RawSocket};
use windows_sys::Win32::Networking::WinSock::{
    setsockopt, WSAPoll, POLLRDNORM, POLLWRNORM, SOCKET, SOCKET_ERROR, WSAPOLLFD,
};

pub(crate) type RawSock = RawSocket;

pub(crate) fn raw(sock: &UdpSocket) -> RawSock {
    sock.as_raw_socket()
}

#[repr(transparent)]
#[derive(Clone, Copy)]
pub(crate) struct PollFd(WSAPOLLFD);

impl PollFd {
    pub fn readable(sock: RawSock) -> PollFd {
        PollFd(WSAPOLLFD {
            fd: sock as SOCKET,
            events: POLLRDNORM,
            revents: 0,
        })
    }

    pub fn writable(sock: RawSock) -> PollFd {
        PollFd(WSAPOLLFD {
            fd: sock as SOCKET,
            events: POLLWRNORM,
            revents: 0,
        })
    }

    pub fn ready(&self) -> bool {
        self.0.revents != 0
    }
}

pub(crate) fn poll(fds: &mut [PollFd], timeout_ms: i32) -> io::Result<usize> {
    // SAFETY: PollFd is a transparent WSAPOLLFD, and the slice is valid for the call.
    let rc = unsafe {
        WSAPoll(
            fds.as_mut_ptr().cast::<WSAPOLLFD>(),
            fds.len() as u32,
            timeout_ms,
        )
    };
    if rc == SOCKET_ERROR {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc as usize)
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
        setsockopt(
            sock.as_raw_socket() as SOCKET,
            level,
            name,
            &value as *const i32 as *const u8,
            std::mem::size_of_val(&value) as i32,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

pub(crate) mod errno {
    use windows_sys::Win32::Networking::WinSock as ws;
    pub const WOULD_BLOCK: i32 = ws::WSAEWOULDBLOCK;
    pub const AF_NOT_SUPPORTED: i32 = ws::WSAEAFNOSUPPORT;
    pub const ADDR_NOT_AVAILABLE: i32 = ws::WSAEADDRNOTAVAIL;
    pub const INVALID: i32 = ws::WSAEINVAL;
    pub const NET_UNREACHABLE: i32 = ws::WSAENETUNREACH;
}
