//! SOCKS5 (RFC 1928) with username/password authentication (RFC 1929): parsers over bytes, no I/O.
//!
//! Each parser takes what has been read so far and says whether more is needed, or what was read and how
//! many bytes it took. Anything else is an error the server answers (where the protocol has an answer) and
//! then closes on.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const VERSION: u8 = 5;
pub const METHOD_NONE: u8 = 0x00;
pub const METHOD_USERPASS: u8 = 0x02;
pub const METHOD_REFUSED: u8 = 0xff;
pub const CMD_CONNECT: u8 = 0x01;

/// Reply codes (RFC 1928 section 6).
pub mod reply {
    pub const SUCCEEDED: u8 = 0x00;
    pub const GENERAL_FAILURE: u8 = 0x01;
    pub const NETWORK_UNREACHABLE: u8 = 0x03;
    pub const HOST_UNREACHABLE: u8 = 0x04;
    pub const CONNECTION_REFUSED: u8 = 0x05;
    pub const TTL_EXPIRED: u8 = 0x06;
    pub const COMMAND_NOT_SUPPORTED: u8 = 0x07;
    pub const ADDRESS_TYPE_NOT_SUPPORTED: u8 = 0x08;
}

/// A parse that has not failed: either more bytes are needed, or the value and the bytes it took.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<T> {
    Need,
    Done(T, usize),
}

#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// Not SOCKS5 (a SOCKS4 client, an HTTP request on the wrong port, garbage).
    Version(u8),
    /// A greeting offering no methods, a zero-length user name, a reserved byte that is not zero.
    Malformed(&'static str),
    /// A command other than CONNECT: answered with reply 0x07.
    Command(u8),
    /// An address type other than IPv4, domain or IPv6: answered with reply 0x08.
    AddressType(u8),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Version(v) => write!(f, "not SOCKS5 (version byte {v:#04x})"),
            Error::Malformed(what) => write!(f, "malformed {what}"),
            Error::Command(c) => write!(f, "command {c:#04x} not supported (only CONNECT)"),
            Error::AddressType(t) => write!(f, "address type {t:#04x} not supported"),
        }
    }
}

impl std::error::Error for Error {}

/// The methods a client offers: `VER NMETHODS METHODS...`.
pub fn parse_greeting(buf: &[u8]) -> Result<Parsed<Vec<u8>>, Error> {
    let Some(&ver) = buf.first() else {
        return Ok(Parsed::Need);
    };
    if ver != VERSION {
        return Err(Error::Version(ver));
    }
    let Some(&n) = buf.get(1) else {
        return Ok(Parsed::Need);
    };
    if n == 0 {
        return Err(Error::Malformed("greeting (no methods)"));
    }
    let end = 2 + n as usize;
    match buf.get(2..end) {
        Some(methods) => Ok(Parsed::Done(methods.to_vec(), end)),
        None => Ok(Parsed::Need),
    }
}

/// A user name and password, as bytes (RFC 1929 does not say which encoding).
pub type UserPass = (Vec<u8>, Vec<u8>);

/// RFC 1929's request: `VER=1 ULEN UNAME PLEN PASSWD`.
pub fn parse_userpass(buf: &[u8]) -> Result<Parsed<UserPass>, Error> {
    let Some(&ver) = buf.first() else {
        return Ok(Parsed::Need);
    };
    if ver != 1 {
        return Err(Error::Malformed(
            "username/password request (version is not 1)",
        ));
    }
    let Some(&ulen) = buf.get(1) else {
        return Ok(Parsed::Need);
    };
    if ulen == 0 {
        return Err(Error::Malformed(
            "username/password request (empty user name)",
        ));
    }
    let uend = 2 + ulen as usize;
    let Some(&plen) = buf.get(uend) else {
        return Ok(Parsed::Need);
    };
    let pend = uend + 1 + plen as usize;
    if buf.len() < pend {
        return Ok(Parsed::Need);
    }
    Ok(Parsed::Done(
        (buf[2..uend].to_vec(), buf[uend + 1..pend].to_vec()),
        pend,
    ))
}

/// Where a CONNECT goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    Name(String),
}

/// `VER CMD RSV ATYP DST.ADDR DST.PORT`.
pub fn parse_request(buf: &[u8]) -> Result<Parsed<(Host, u16)>, Error> {
    if buf.len() < 4 {
        if let Some(&ver) = buf.first() {
            if ver != VERSION {
                return Err(Error::Version(ver));
            }
        }
        return Ok(Parsed::Need);
    }
    if buf[0] != VERSION {
        return Err(Error::Version(buf[0]));
    }
    if buf[2] != 0 {
        return Err(Error::Malformed("request (reserved byte is not zero)"));
    }
    let (host, at) = match buf[3] {
        0x01 => match buf.get(4..8) {
            Some(a) => (Host::Ip(Ipv4Addr::new(a[0], a[1], a[2], a[3]).into()), 8),
            None => return Ok(Parsed::Need),
        },
        0x04 => match buf.get(4..20) {
            Some(a) => {
                let octets: [u8; 16] = a.try_into().expect("16 bytes");
                (Host::Ip(Ipv6Addr::from(octets).into()), 20)
            }
            None => return Ok(Parsed::Need),
        },
        0x03 => {
            let Some(&len) = buf.get(4) else {
                return Ok(Parsed::Need);
            };
            let end = 5 + len as usize;
            let Some(name) = buf.get(5..end) else {
                return Ok(Parsed::Need);
            };
            (Host::Name(parse_name(name)?), end)
        }
        t => return Err(Error::AddressType(t)),
    };
    let Some(port) = buf.get(at..at + 2) else {
        return Ok(Parsed::Need);
    };
    // The command is checked only once the whole request is in, so the error reply comes after it.
    if buf[1] != CMD_CONNECT {
        return Err(Error::Command(buf[1]));
    }
    Ok(Parsed::Done(
        (host, u16::from_be_bytes([port[0], port[1]])),
        at + 2,
    ))
}

/// A domain name as a resolver takes it: printable ASCII, not empty. (A name that is an IP literal stays a
/// name here; the server treats it as an address.)
fn parse_name(name: &[u8]) -> Result<String, Error> {
    if name.is_empty() || !name.iter().all(|b| b.is_ascii_graphic()) {
        return Err(Error::Malformed(
            "request (domain name is empty or not printable ASCII)",
        ));
    }
    Ok(String::from_utf8(name.to_vec()).expect("ASCII"))
}

/// A reply with a bound address (the stack's side of the connection, or zeros on failure).
pub fn encode_reply(code: u8, bound: Option<std::net::SocketAddr>) -> Vec<u8> {
    let mut out = vec![VERSION, code, 0];
    match bound {
        Some(std::net::SocketAddr::V6(a)) => {
            out.push(0x04);
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&a.port().to_be_bytes());
        }
        Some(std::net::SocketAddr::V4(a)) => {
            out.push(0x01);
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&a.port().to_be_bytes());
        }
        None => out.extend_from_slice(&[0x01, 0, 0, 0, 0, 0, 0]),
    }
    out
}

/// The reply code for a failed dial, by the error's kind.
pub fn reply_for(err: &std::io::Error) -> u8 {
    use std::io::ErrorKind::*;
    match err.kind() {
        ConnectionRefused | ConnectionReset => reply::CONNECTION_REFUSED,
        HostUnreachable | NotFound => reply::HOST_UNREACHABLE,
        NetworkUnreachable => reply::NETWORK_UNREACHABLE,
        TimedOut => reply::TTL_EXPIRED,
        _ => reply::GENERAL_FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting() {
        assert_eq!(parse_greeting(&[]), Ok(Parsed::Need));
        assert_eq!(parse_greeting(&[5]), Ok(Parsed::Need));
        assert_eq!(parse_greeting(&[5, 2, 0]), Ok(Parsed::Need));
        assert_eq!(
            parse_greeting(&[5, 2, 0, 2, 9]),
            Ok(Parsed::Done(vec![0, 2], 4))
        );
        assert_eq!(parse_greeting(&[4, 1, 0]), Err(Error::Version(4)));
        assert_eq!(
            parse_greeting(b"GET / HTTP/1.1\r\n"),
            Err(Error::Version(b'G'))
        );
        assert!(parse_greeting(&[5, 0]).is_err());
    }

    #[test]
    fn userpass() {
        let msg = [1, 3, b'b', b'o', b'b', 2, b'p', b'w'];
        for cut in 0..msg.len() {
            assert_eq!(
                parse_userpass(&msg[..cut]),
                Ok(Parsed::Need),
                "cut at {cut}"
            );
        }
        assert_eq!(
            parse_userpass(&msg),
            Ok(Parsed::Done((b"bob".to_vec(), b"pw".to_vec()), 8))
        );
        assert_eq!(
            parse_userpass(&[1, 1, b'a', 0]),
            Ok(Parsed::Done((b"a".to_vec(), vec![]), 4))
        );
        assert!(parse_userpass(&[5, 1, b'a', 0]).is_err());
        assert!(parse_userpass(&[1, 0, 0]).is_err());
    }

    #[test]
    fn requests() {
        let v4 = [5, 1, 0, 1, 10, 0, 0, 2, 0, 80];
        for cut in 0..v4.len() {
            assert_eq!(parse_request(&v4[..cut]), Ok(Parsed::Need), "cut at {cut}");
        }
        assert_eq!(
            parse_request(&v4),
            Ok(Parsed::Done(
                (Host::Ip("10.0.0.2".parse().unwrap()), 80),
                10
            ))
        );
        let mut v6 = vec![5, 1, 0, 4];
        v6.extend_from_slice(&"fd00::2".parse::<Ipv6Addr>().unwrap().octets());
        v6.extend_from_slice(&[1, 187]);
        assert_eq!(
            parse_request(&v6),
            Ok(Parsed::Done(
                (Host::Ip("fd00::2".parse().unwrap()), 443),
                22
            ))
        );
        let mut name = vec![5, 1, 0, 3, 7];
        name.extend_from_slice(b"a.b.com\x1f\x90");
        assert_eq!(
            parse_request(&name),
            Ok(Parsed::Done((Host::Name("a.b.com".into()), 8080), 14))
        );
    }

    #[test]
    fn hostile_requests() {
        assert_eq!(
            parse_request(&[5, 2, 0, 1, 1, 2, 3, 4, 0, 1]),
            Err(Error::Command(2))
        );
        assert_eq!(
            parse_request(&[5, 3, 0, 1, 1, 2, 3, 4, 0, 1]),
            Err(Error::Command(3))
        );
        assert_eq!(
            parse_request(&[5, 1, 0, 9, 1, 2]),
            Err(Error::AddressType(9))
        );
        assert_eq!(parse_request(&[4, 1]), Err(Error::Version(4)));
        assert!(parse_request(&[5, 1, 1, 1, 1, 2, 3, 4, 0, 1]).is_err());
        assert!(parse_request(&[5, 1, 0, 3, 0, 0, 80]).is_err());
        assert!(parse_request(&[5, 1, 0, 3, 3, b'a', 0, b'b', 0, 80]).is_err());
        // A huge domain length only ever asks for its 255 bytes.
        let mut long = vec![5, 1, 0, 3, 255];
        long.extend(std::iter::repeat_n(b'x', 255));
        assert_eq!(parse_request(&long), Ok(Parsed::Need));
        long.extend_from_slice(&[0, 80]);
        assert!(matches!(parse_request(&long), Ok(Parsed::Done(_, 262))));
    }

    #[test]
    fn replies() {
        assert_eq!(encode_reply(0, None), vec![5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        let r = encode_reply(0, Some("10.0.0.1:4000".parse().unwrap()));
        assert_eq!(r, vec![5, 0, 0, 1, 10, 0, 0, 1, 0x0f, 0xa0]);
        assert_eq!(encode_reply(5, Some("[::1]:1".parse().unwrap())).len(), 22);
        use std::io::{Error as E, ErrorKind as K};
        assert_eq!(reply_for(&E::from(K::ConnectionRefused)), 0x05);
        assert_eq!(reply_for(&E::from(K::HostUnreachable)), 0x04);
        assert_eq!(reply_for(&E::from(K::TimedOut)), 0x06);
        assert_eq!(reply_for(&E::from(K::Other)), 0x01);
    }
}
