//! Socket options for the outer UDP sockets where Linux's are missing (macOS).

use socket2::Socket;
use std::io;

/// There is no SO_MARK here; a clear EOPNOTSUPP instead of an obscure failure later.
pub(crate) fn set_mark(_socket: &Socket, _mark: u32) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "fwmark (SO_MARK) exists only on Linux",
    ))
}

/// The socket option (level, name, value) that lets the kernel fragment our datagrams. quinn-udp sets
/// IP_DONTFRAG / IPV6_DONTFRAG (it probes the path MTU itself); a WireGuard tunnel with a large MTU needs
/// the kernel to fragment the outer datagrams instead, as on Linux.
pub(crate) fn fragmentation_option(v6: bool) -> (libc::c_int, libc::c_int, libc::c_int) {
    if v6 {
        (libc::IPPROTO_IPV6, libc::IPV6_DONTFRAG, 0)
    } else {
        (libc::IPPROTO_IP, libc::IP_DONTFRAG, 0)
    }
}
