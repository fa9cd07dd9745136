//! Linux socket options for the outer UDP sockets.

use socket2::Socket;
use std::io;

/// SO_MARK, for policy routing that keeps the tunnel's own packets out of the tunnel.
pub(crate) fn set_mark(socket: &Socket, mark: u32) -> io::Result<()> {
    socket.set_mark(mark)
}

/// The socket option (level, name, value) that lets the kernel fragment our datagrams. quinn-udp forbids
/// fragmentation (it probes the path MTU itself); a WireGuard tunnel with a large MTU needs the kernel to
/// fragment the outer datagrams instead, as the kernel implementation does.
pub(crate) fn fragmentation_option(v6: bool) -> (libc::c_int, libc::c_int, libc::c_int) {
    if v6 {
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
    }
}
