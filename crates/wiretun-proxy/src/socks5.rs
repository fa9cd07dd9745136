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
pub const CMD_UDP_ASSOCIATE: u8 = 0x03;

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
    /// A command other than CONNECT and UDP ASSOCIATE (BIND): answered with reply 0x07.
    Command(u8),
    /// An address type other than IPv4, domain or IPv6: answered with reply 0x08.
    AddressType(u8),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Version(v) => write!(f, "not SOCKS5 (version byte {v:#04x})"),
            Error::Malformed(what) => write!(f, "malformed {what}"),
            Error::Command(c) => write!(
                f,
                "command {c:#04x} not supported (only CONNECT and UDP ASSOCIATE)"
            ),
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

/// Where a CONNECT or a datagram goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    Name(String),
}

/// A request: CONNECT to `host:port`, or UDP ASSOCIATE where `host:port` is the address the client will send
/// its datagrams from (zeros when it does not know).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub command: u8,
    pub host: Host,
    pub port: u16,
}

/// `VER CMD RSV ATYP DST.ADDR DST.PORT`; CONNECT and UDP ASSOCIATE.
pub fn parse_request(buf: &[u8]) -> Result<Parsed<Request>, Error> {
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
    let Some((host, port, used)) = parse_addr(&buf[3..])? else {
        return Ok(Parsed::Need);
    };
    // The command is checked only once the whole request is in, so the error reply comes after it.
    if buf[1] != CMD_CONNECT && buf[1] != CMD_UDP_ASSOCIATE {
        return Err(Error::Command(buf[1]));
    }
    let request = Request {
        command: buf[1],
        host,
        port,
    };
    Ok(Parsed::Done(request, 3 + used))
}

/// `ATYP ADDR PORT`: the address, the port and the bytes taken; `None` when more bytes are needed.
fn parse_addr(buf: &[u8]) -> Result<Option<(Host, u16, usize)>, Error> {
    let Some(&atyp) = buf.first() else {
        return Ok(None);
    };
    let (host, at) = match atyp {
        0x01 => match buf.get(1..5) {
            Some(a) => (Host::Ip(Ipv4Addr::new(a[0], a[1], a[2], a[3]).into()), 5),
            None => return Ok(None),
        },
        0x04 => match buf.get(1..17) {
            Some(a) => {
                let octets: [u8; 16] = a.try_into().expect("16 bytes");
                (Host::Ip(Ipv6Addr::from(octets).into()), 17)
            }
            None => return Ok(None),
        },
        0x03 => {
            let Some(&len) = buf.get(1) else {
                return Ok(None);
            };
            let end = 2 + len as usize;
            let Some(name) = buf.get(2..end) else {
                return Ok(None);
            };
            (Host::Name(parse_name(name)?), end)
        }
        t => return Err(Error::AddressType(t)),
    };
    Ok(buf
        .get(at..at + 2)
        .map(|p| (host, u16::from_be_bytes([p[0], p[1]]), at + 2)))
}

/// A UDP datagram's header (RFC 1928 section 7): `RSV(2) FRAG ATYP DST.ADDR DST.PORT DATA`.
#[derive(Debug, PartialEq, Eq)]
pub struct UdpHeader {
    pub frag: u8,
    pub host: Host,
    pub port: u16,
    /// Where DATA starts.
    pub data_at: usize,
}

/// Parses a whole datagram's header. A datagram comes whole, so a short one is an error, never "need more".
pub fn parse_udp_header(dgram: &[u8]) -> Result<UdpHeader, Error> {
    if dgram.len() < 4 {
        return Err(Error::Malformed("UDP header (too short)"));
    }
    if dgram[0] != 0 || dgram[1] != 0 {
        return Err(Error::Malformed("UDP header (reserved bytes are not zero)"));
    }
    match parse_addr(&dgram[3..])? {
        Some((host, port, used)) => Ok(UdpHeader {
            frag: dgram[2],
            host,
            port,
            data_at: 3 + used,
        }),
        None => Err(Error::Malformed("UDP header (address cut short)")),
    }
}

/// The header a reply datagram from `from` carries back to the client.
pub fn encode_udp_header(from: std::net::SocketAddr) -> Vec<u8> {
    let mut out = vec![0, 0, 0];
    push_addr(&mut out, Some(from));
    out
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
    push_addr(&mut out, bound);
    out
}

/// `ATYP ADDR PORT` of an address (IPv4-mapped IPv6 as IPv4), or an IPv4 zero address.
fn push_addr(out: &mut Vec<u8>, addr: Option<std::net::SocketAddr>) {
    let Some(addr) = addr else {
        out.extend_from_slice(&[0x01, 0, 0, 0, 0, 0, 0]);
        return;
    };
    match addr.ip().to_canonical() {
        IpAddr::V6(ip) => {
            out.push(0x04);
            out.extend_from_slice(&ip.octets());
        }
        IpAddr::V4(ip) => {
            out.push(0x01);
            out.extend_from_slice(&ip.octets());
        }
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
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

    fn req(command: u8, host: &str, port: u16) -> Request {
        let host = match host.parse() {
            Ok(ip) => Host::Ip(ip),
            Err(_) => Host::Name(host.into()),
        };
        Request {
            command,
            host,
            port,
        }
    }

    #[test]
    fn requests() {
        let v4 = [5, 1, 0, 1, 10, 0, 0, 2, 0, 80];
        for cut in 0..v4.len() {
            assert_eq!(parse_request(&v4[..cut]), Ok(Parsed::Need), "cut at {cut}");
        }
        assert_eq!(
            parse_request(&v4),
            Ok(Parsed::Done(req(1, "10.0.0.2", 80), 10))
        );
        let mut v6 = vec![5, 1, 0, 4];
        v6.extend_from_slice(&"fd00::2".parse::<Ipv6Addr>().unwrap().octets());
        v6.extend_from_slice(&[1, 187]);
        assert_eq!(
            parse_request(&v6),
            Ok(Parsed::Done(req(1, "fd00::2", 443), 22))
        );
        let mut name = vec![5, 1, 0, 3, 7];
        name.extend_from_slice(b"a.b.com\x1f\x90");
        assert_eq!(
            parse_request(&name),
            Ok(Parsed::Done(req(1, "a.b.com", 8080), 14))
        );
        // UDP ASSOCIATE with the zero address: the client does not know its UDP source yet.
        assert_eq!(
            parse_request(&[5, 3, 0, 1, 0, 0, 0, 0, 0, 0]),
            Ok(Parsed::Done(req(3, "0.0.0.0", 0), 10))
        );
    }

    #[test]
    fn hostile_requests() {
        assert_eq!(
            parse_request(&[5, 2, 0, 1, 1, 2, 3, 4, 0, 1]),
            Err(Error::Command(2))
        );
        assert_eq!(
            parse_request(&[5, 0, 0, 1, 1, 2, 3, 4, 0, 1]),
            Err(Error::Command(0))
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

    #[test]
    fn udp_headers() {
        let mut d = vec![0, 0, 0, 1, 10, 0, 0, 2, 0, 53];
        d.extend_from_slice(b"query");
        let h = parse_udp_header(&d).unwrap();
        assert_eq!((h.frag, h.port, &d[h.data_at..]), (0, 53, &b"query"[..]));
        assert_eq!(h.host, Host::Ip("10.0.0.2".parse().unwrap()));
        let mut v6 = vec![0, 0, 0, 4];
        v6.extend_from_slice(&"fd00::2".parse::<Ipv6Addr>().unwrap().octets());
        v6.extend_from_slice(&[0, 53]);
        assert_eq!(parse_udp_header(&v6).unwrap().data_at, 22);
        let name = parse_udp_header(b"\0\0\0\x03\x08dns.test\0\x35x").unwrap();
        assert_eq!(
            (name.host, name.port, name.data_at),
            (Host::Name("dns.test".into()), 53, 15)
        );
        // A fragment parses (the server drops it by its FRAG); an empty payload is a datagram too.
        assert_eq!(
            parse_udp_header(&[0, 0, 1, 1, 1, 2, 3, 4, 0, 1])
                .unwrap()
                .frag,
            1
        );
        assert_eq!(parse_udp_header(&d[..10]).unwrap().data_at, 10);
        // Encoding: IPv4 (also when IPv4-mapped) and IPv6 sources.
        assert_eq!(
            encode_udp_header("10.0.0.2:53".parse().unwrap()),
            [0, 0, 0, 1, 10, 0, 0, 2, 0, 53]
        );
        assert_eq!(
            encode_udp_header("[::ffff:10.0.0.2]:53".parse().unwrap()).len(),
            10
        );
        let e = encode_udp_header("[fd00::2]:53".parse().unwrap());
        assert_eq!(parse_udp_header(&e).unwrap().data_at, e.len());
    }

    #[test]
    fn hostile_udp_headers() {
        let d = [0, 0, 0, 1, 10, 0, 0, 2, 0, 53];
        for cut in 0..d.len() {
            assert!(parse_udp_header(&d[..cut]).is_err(), "cut at {cut}");
        }
        assert!(parse_udp_header(&[0, 1, 0, 1, 1, 2, 3, 4, 0, 1]).is_err());
        assert!(parse_udp_header(&[1, 0, 0, 1, 1, 2, 3, 4, 0, 1]).is_err());
        assert_eq!(
            parse_udp_header(&[0, 0, 0, 7, 1, 2, 3, 4, 0, 1]),
            Err(Error::AddressType(7))
        );
        // Names: empty, not printable, longer than the datagram.
        assert!(parse_udp_header(&[0, 0, 0, 3, 0, 0, 53]).is_err());
        assert!(parse_udp_header(b"\0\0\0\x03\x03a\nb\0\x35").is_err());
        assert!(parse_udp_header(&[0, 0, 0, 3, 255, b'a', 0, 53]).is_err());
        // A version byte of SOCKS (5) where RSV belongs: a client that sent a TCP message over UDP.
        assert!(parse_udp_header(&[5, 1, 0, 1, 1, 2, 3, 4, 0, 1]).is_err());
    }
}
