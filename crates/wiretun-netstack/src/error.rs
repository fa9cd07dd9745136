//! The errors the stack reports, as `std::io::Error`s whose kinds map one to one onto errno names.

use std::io::{Error, ErrorKind};
use std::net::{IpAddr, SocketAddr};

/// The errno name for an error from this crate (`"ECONNREFUSED"`, `"ETIMEDOUT"`, ...), so a binding can raise
/// the error code a Node user expects from `net`. Errors of other origins map by kind the same way; an OS error
/// without a listed kind is `"EIO"`.
pub fn errno_name(err: &Error) -> &'static str {
    match err.kind() {
        ErrorKind::ConnectionRefused => "ECONNREFUSED",
        ErrorKind::TimedOut => "ETIMEDOUT",
        ErrorKind::HostUnreachable => "EHOSTUNREACH",
        ErrorKind::NetworkUnreachable => "ENETUNREACH",
        ErrorKind::AddrInUse => "EADDRINUSE",
        ErrorKind::AddrNotAvailable => "EADDRNOTAVAIL",
        ErrorKind::ConnectionReset => "ECONNRESET",
        ErrorKind::ConnectionAborted => "ECONNABORTED",
        ErrorKind::BrokenPipe => "EPIPE",
        ErrorKind::NotConnected => "ENOTCONN",
        ErrorKind::InvalidInput => "EINVAL",
        ErrorKind::FileTooLarge => "EMSGSIZE",
        ErrorKind::OutOfMemory => "ENOMEM",
        _ => "EIO",
    }
}

pub(crate) fn refused(remote: SocketAddr) -> Error {
    Error::new(
        ErrorKind::ConnectionRefused,
        format!("connect {remote}: connection refused (RST)"),
    )
}

pub(crate) fn connect_timed_out(remote: SocketAddr) -> Error {
    Error::new(ErrorKind::TimedOut, format!("connect {remote}: timed out"))
}

pub(crate) fn no_route(dst: IpAddr) -> Error {
    Error::new(
        ErrorKind::HostUnreachable,
        format!("{dst}: no route (no peer's allowed IPs cover it)"),
    )
}

pub(crate) fn no_source(dst: IpAddr) -> Error {
    Error::new(
        ErrorKind::NetworkUnreachable,
        format!("{dst}: the stack has no address of this IP version"),
    )
}

pub(crate) fn in_use(addr: SocketAddr) -> Error {
    Error::new(
        ErrorKind::AddrInUse,
        format!("{addr}: address already in use"),
    )
}

pub(crate) fn not_local(addr: SocketAddr) -> Error {
    Error::new(
        ErrorKind::AddrNotAvailable,
        format!("{addr}: not an address of this stack"),
    )
}

pub(crate) fn no_ports() -> Error {
    Error::new(ErrorKind::AddrNotAvailable, "no free local port")
}

pub(crate) fn reset() -> Error {
    Error::new(
        ErrorKind::ConnectionReset,
        "connection reset by the remote (RST)",
    )
}

pub(crate) fn timed_out(what: &str) -> Error {
    Error::new(ErrorKind::TimedOut, format!("{what}: timed out"))
}

pub(crate) fn aborted(why: &str) -> Error {
    Error::new(ErrorKind::ConnectionAborted, why.to_string())
}

pub(crate) fn stopped() -> Error {
    Error::new(ErrorKind::NotConnected, "the network stack has stopped")
}

pub(crate) fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidInput, msg.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_name_their_errno() {
        let addr: SocketAddr = "10.0.0.1:80".parse().unwrap();
        assert_eq!(errno_name(&refused(addr)), "ECONNREFUSED");
        assert_eq!(errno_name(&connect_timed_out(addr)), "ETIMEDOUT");
        assert_eq!(errno_name(&no_route(addr.ip())), "EHOSTUNREACH");
        assert_eq!(errno_name(&in_use(addr)), "EADDRINUSE");
        assert_eq!(errno_name(&reset()), "ECONNRESET");
        assert_eq!(errno_name(&Error::other("x")), "EIO");
    }
}
