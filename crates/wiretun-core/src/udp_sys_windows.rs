//! Socket options for the outer UDP sockets on Windows.

use socket2::Socket;
use std::io;
use windows_sys::Win32::Networking::WinSock::{
    IPPROTO_IP, IPPROTO_IPV6, IPV6_DONTFRAG, IP_DONTFRAGMENT,
};

/// There is no SO_MARK here; a clear EOPNOTSUPP instead of an obscure failure later.
pub(crate) fn set_mark(_socket: &Socket, _mark: u32) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "fwmark (SO_MARK) exists only on Linux",
    ))
}

/// The socket option (level, name, value) that lets the stack fragment our datagrams: quinn-udp sets
/// IP_DONTFRAGMENT / IPV6_DONTFRAG, and a tunnel with a large MTU needs fragmentation, as elsewhere.
pub(crate) fn fragmentation_option(v6: bool) -> (i32, i32, i32) {
    if v6 {
        (IPPROTO_IPV6, IPV6_DONTFRAG, 0)
    } else {
        (IPPROTO_IP, IP_DONTFRAGMENT, 0)
    }
}
