//! A loopback UDP socket that wakes a thread blocked in WSAPoll, for Windows (no eventfd, and WSAPoll takes
//! sockets only). Same interface as wake.rs: one pending wake-up is enough, so a full buffer means one is
//! already queued.

use crate::sock_sys::{self, RawSock};
use std::io;
use std::net::UdpSocket;

pub(crate) struct Waker {
    sock: UdpSocket,
}

impl Waker {
    pub fn new() -> io::Result<Waker> {
        // Connected to itself: only its own datagrams reach it.
        let sock = UdpSocket::bind("127.0.0.1:0")?;
        sock.connect(sock.local_addr()?)?;
        sock.set_nonblocking(true)?;
        Ok(Waker { sock })
    }

    pub fn wake(&self) {
        let _ = self.sock.send(&[1]);
    }

    pub fn drain(&self) {
        let mut buf = [0u8; 16];
        while self.sock.recv(&mut buf).is_ok() {}
    }

    pub fn fd(&self) -> RawSock {
        sock_sys::raw(&self.sock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sock_sys::{poll, PollFd};

    fn readable(w: &Waker) -> bool {
        poll(&mut [PollFd::readable(w.fd())], 0).unwrap() == 1
    }

    #[test]
    fn wakes_poll_until_drained_and_never_blocks() {
        let w = Waker::new().unwrap();
        assert!(!readable(&w));
        // More than the socket buffer holds: a blocking socket would hang here.
        for _ in 0..20_000 {
            w.wake();
        }
        assert!(readable(&w));
        w.drain();
        assert!(!readable(&w));
        w.wake();
        assert!(readable(&w));
    }
}
