//! Socket options for the outer UDP sockets where Linux's are missing (macOS).

use socket2::Socket;
use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;

/// There is no SO_MARK here; a clear EOPNOTSUPP instead of an obscure failure later.
pub(crate) fn set_mark(_socket: &Socket, _mark: u32) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "fwmark (SO_MARK) exists only on Linux",
    ))
}

/// quinn-udp sets IP_DONTFRAG / IPV6_DONTFRAG (it probes the path MTU itself); a WireGuard tunnel with
/// a large MTU needs the kernel to fragment the outer datagrams instead, as on Linux.
pub(crate) fn allow_fragmentation(sock: &UdpSocket, v6: bool) -> io::Result<()> {
    let (level, name) = if v6 {
        (libc::IPPROTO_IPV6, libc::IPV6_DONTFRAG)
    } else {
        (libc::IPPROTO_IP, libc::IP_DONTFRAG)
    };
    let off: libc::c_int = 0;
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            &off as *const _ as *const libc::c_void,
            std::mem::size_of_val(&off) as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
