//! Linux socket options for the outer UDP sockets.

use socket2::Socket;
use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;

/// SO_MARK, for policy routing that keeps the tunnel's own packets out of the tunnel.
pub(crate) fn set_mark(socket: &Socket, mark: u32) -> io::Result<()> {
    socket.set_mark(mark)
}

/// quinn-udp forbids fragmentation (it probes the path MTU itself); a WireGuard tunnel with a large MTU
/// needs the kernel to fragment the outer datagrams instead, as the kernel implementation does.
pub(crate) fn allow_fragmentation(sock: &UdpSocket, v6: bool) -> io::Result<()> {
    let (level, name, value) = if v6 {
        (
            libc::IPPROTO_IPV6,
            libc::IPV6_MTU_DISCOVER,
            libc::IPV6_PMTUDISC_DONT,
        )
    } else {
        (
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            libc::IP_PMTUDISC_DONT,
        )
    };
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            &value as *const _ as *const libc::c_void,
            std::mem::size_of_val(&value) as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
