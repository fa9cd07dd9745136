//! Value syntax of the UAPI: keys as lowercase hex, decimal numbers, flags, numeric endpoints and prefixes,
//! with the acceptance rules of inet_pton(3) (what wg(8) uses) and the spelling of inet_ntop(3) (what `wg show`
//! and `ip` print). Errors carry the errno wireguard-go answers with and never quote key material.

use crate::keys::Key;
use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The errnos wireguard-go writes in `errno=N`: negative, as its ipcError* constants are (wg reads the number
/// with `%d` and returns it as is).
pub const EIO: i32 = -5;
pub const EINVAL: i32 = -22;
pub const EPROTO: i32 = -71;
pub const EADDRINUSE: i32 = -98;
/// wireguard-go's ipcErrorUnknown (-ENOANO): an error with no better code.
pub const UNKNOWN: i32 = -55;

/// A refused request: the errno of its `errno=N` reply and a one-line reason without key material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UapiError {
    pub errno: i32,
    pub message: String,
}

impl UapiError {
    pub fn new(errno: i32, message: impl Into<String>) -> Self {
        UapiError {
            errno,
            message: message.into(),
        }
    }
}

impl fmt::Display for UapiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (errno {})", self.message, self.errno)
    }
}

impl From<crate::Error> for UapiError {
    /// A device failure as the errno its code names (a busy port is -98); the device's messages name what
    /// failed and never carry key material.
    fn from(e: crate::Error) -> Self {
        UapiError::new(errno_for_code(e.code), e.message)
    }
}

pub(crate) type Parsed<T> = Result<T, UapiError>;

pub(crate) fn invalid(message: impl Into<String>) -> UapiError {
    UapiError::new(EINVAL, message)
}

/// The reply errno for an errno name such as "EADDRINUSE"; anything unnamed is ipcErrorUnknown.
pub fn errno_for_code(code: &str) -> i32 {
    let n = match code {
        "EPERM" => libc::EPERM,
        "ENOENT" => libc::ENOENT,
        "EIO" => libc::EIO,
        "EBADF" => libc::EBADF,
        "EAGAIN" => libc::EAGAIN,
        "ENOMEM" => libc::ENOMEM,
        "EACCES" => libc::EACCES,
        "EBUSY" => libc::EBUSY,
        "EEXIST" => libc::EEXIST,
        "ENODEV" => libc::ENODEV,
        "EINVAL" => libc::EINVAL,
        "ENAMETOOLONG" => libc::ENAMETOOLONG,
        "ENOSYS" => libc::ENOSYS,
        "EMSGSIZE" => libc::EMSGSIZE,
        "EOPNOTSUPP" => libc::EOPNOTSUPP,
        "EADDRINUSE" => libc::EADDRINUSE,
        "EADDRNOTAVAIL" => libc::EADDRNOTAVAIL,
        "ENOBUFS" => libc::ENOBUFS,
        #[cfg(target_os = "linux")]
        "EBADFD" => libc::EBADFD,
        _ => return UNKNOWN,
    };
    -n
}

/// Request text fit for a message (which wiretund logs): quoted as JSON quotes it, cut to `max` characters,
/// and with any run of 16 or more base64/hex characters withheld, since a malformed line may be key material.
pub fn shown(text: &str, max: usize) -> String {
    let cut: String = text.chars().take(max).collect();
    let is_keyish = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=');
    let mut out = String::from("\"");
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 16 {
            out.push_str(&format!("<{} characters withheld>", run.len()));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in cut.chars() {
        if is_keyish(c) {
            run.push(c);
            continue;
        }
        flush(&mut run, &mut out);
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    flush(&mut run, &mut out);
    out.push('"');
    out
}

/// 64 lowercase hex characters → 32 bytes. The value never goes into the message: it may be secret.
pub(crate) fn hex_key(key: &str, value: &str) -> Parsed<Key> {
    let b = value.as_bytes();
    let ok = b.len() == 64 && b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    if !ok {
        return Err(invalid(format!(
            "{key}: expected 64 lowercase hex characters"
        )));
    }
    let nibble = |c: u8| if c <= b'9' { c - b'0' } else { c - b'a' + 10 };
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks(2).enumerate() {
        out[i] = nibble(pair[0]) << 4 | nibble(pair[1]);
    }
    Ok(out)
}

pub(crate) fn write_hex(out: &mut String, key: &Key) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in key {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
}

/// An unsigned decimal (leading zeros allowed, as Go's ParseUint allows them) no larger than `max`.
pub(crate) fn uint(key: &str, value: &str, max: u64) -> Parsed<u64> {
    match value.parse::<u64>() {
        Ok(n) if all_digits(value) && n <= max => Ok(n),
        _ => Err(invalid(format!(
            "{key}: expected an integer from 0 to {max}"
        ))),
    }
}

/// The only value a flag accepts.
pub(crate) fn flag(key: &str, value: &str) -> Parsed<()> {
    if value != "true" {
        return Err(invalid(format!("{key}: the only accepted value is true")));
    }
    Ok(())
}

/// inet_pton(AF_INET): exactly four decimal octets, no leading zeros.
fn parse_ipv4(text: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = text.split('.');
    for o in &mut octets {
        let p = parts.next()?;
        if !all_digits(p) || p.len() > 3 || (p.len() > 1 && p.starts_with('0')) {
            return None;
        }
        *o = p.parse().ok()?;
    }
    parts.next().is_none().then(|| Ipv4Addr::from(octets))
}

fn hex_groups(part: &str) -> Option<Vec<u16>> {
    if part.is_empty() {
        return Some(Vec::new());
    }
    part.split(':')
        .map(|g| {
            let ok = (1..=4).contains(&g.len()) && g.bytes().all(|c| c.is_ascii_hexdigit());
            ok.then(|| u16::from_str_radix(g, 16).ok()).flatten()
        })
        .collect()
}

/// inet_pton(AF_INET6): hex groups, at most one `::`, an optional dotted-quad tail; no zone id.
fn parse_ipv6(text: &str) -> Option<Ipv6Addr> {
    let charset = |c: u8| c.is_ascii_hexdigit() || c == b':' || c == b'.';
    if !text.bytes().all(charset) || !text.contains(':') {
        return None;
    }
    let mut head = text;
    let mut tail = Vec::new();
    if text.contains('.') {
        let cut = text.rfind(':')?;
        let v4 = parse_ipv4(&text[cut + 1..])?.octets();
        tail = vec![
            u16::from_be_bytes([v4[0], v4[1]]),
            u16::from_be_bytes([v4[2], v4[3]]),
        ];
        head = &text[..cut + 1];
        // `a:b:1.2.3.4` leaves a dangling single colon that belongs to the dotted quad, `::1.2.3.4` does not.
        if !head.ends_with("::") {
            head = &head[..head.len() - 1];
        }
    }
    let halves: Vec<&str> = head.split("::").collect();
    if halves.len() > 2 {
        return None;
    }
    let left = hex_groups(halves[0])?;
    let right = if halves.len() == 2 {
        hex_groups(halves[1])?
    } else {
        Vec::new()
    };
    let given = left.len() + right.len() + tail.len();
    let fill = match halves.len() {
        1 if given == 8 => 0,
        2 if given <= 7 => 8 - given,
        _ => return None,
    };
    let words: Vec<u16> = left
        .into_iter()
        .chain(std::iter::repeat_n(0, fill))
        .chain(right)
        .chain(tail)
        .collect();
    let words: [u16; 8] = words.try_into().ok()?;
    Some(Ipv6Addr::from(words))
}

/// An address the way wg(8)'s parse_ip reads one: a colon means IPv6.
pub(crate) fn parse_ip(text: &str) -> Option<IpAddr> {
    if text.contains(':') {
        parse_ipv6(text).map(IpAddr::V6)
    } else {
        parse_ipv4(text).map(IpAddr::V4)
    }
}

/// `a.b.c.d:port` or `[v6]:port`, numeric only (wg resolves names first). IPv6 zone ids are refused: the data
/// plane cannot honour them.
pub(crate) fn endpoint(value: &str) -> Parsed<SocketAddr> {
    let bad = || {
        invalid(format!(
            "endpoint: {} is not a.b.c.d:port or [v6]:port",
            shown(value, 80)
        ))
    };
    let (host, port, bracketed) = match value.strip_prefix('[') {
        Some(rest) => {
            let (host, after) = rest.split_once(']').ok_or_else(bad)?;
            (host, after.strip_prefix(':').ok_or_else(bad)?, true)
        }
        None => {
            let (host, port) = value.split_once(':').ok_or_else(bad)?;
            if host.contains(['[', ']']) {
                return Err(bad());
            }
            (host, port, false)
        }
    };
    if !all_digits(port) {
        return Err(bad());
    }
    let ip = parse_ip(host)
        .filter(|ip| ip.is_ipv6() == bracketed)
        .ok_or_else(bad)?;
    let port = uint("endpoint port", port, 65535)? as u16;
    Ok(SocketAddr::new(ip, port))
}

/// `addr/prefix` (the prefix is required, as Go's netip.ParsePrefix requires it). Host bits are allowed and
/// masked off, as wg and wireguard-go do.
pub(crate) fn allowed_ip(value: &str) -> Parsed<IpNet> {
    let bad = || {
        invalid(format!(
            "allowed_ip: {} is not an IP prefix",
            shown(value, 80)
        ))
    };
    let (addr, prefix) = value.split_once('/').ok_or_else(bad)?;
    let ip = parse_ip(addr).ok_or_else(bad)?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = uint("prefix", prefix, max).map_err(|_| bad())?;
    Ok(IpNet::new(ip, prefix as u8).map_err(|_| bad())?.trunc())
}

/// inet_ntop(AF_INET6) as glibc writes it, including its embedded-IPv4 forms.
fn fmt_ipv6(ip: &Ipv6Addr, out: &mut String) {
    let words = ip.segments();
    let (mut best, mut cur) = ((8usize, 0usize), (8usize, 0usize));
    for (i, w) in words.iter().enumerate() {
        if *w == 0 {
            cur = if cur.0 == 8 {
                (i, 1)
            } else {
                (cur.0, cur.1 + 1)
            };
            if cur.1 > best.1 {
                best = cur;
            }
        } else {
            cur = (8, 0);
        }
    }
    if best.1 < 2 {
        best = (8, 0);
    }
    for (i, w) in words.iter().enumerate() {
        if best.0 != 8 && i >= best.0 && i < best.0 + best.1 {
            if i == best.0 {
                out.push(':');
            }
            continue;
        }
        if i != 0 {
            out.push(':');
        }
        if i == 6 && best.0 == 0 && (best.1 == 6 || (best.1 == 5 && words[5] == 0xffff)) {
            let o = ip.octets();
            out.push_str(&Ipv4Addr::new(o[12], o[13], o[14], o[15]).to_string());
            return;
        }
        out.push_str(&format!("{w:x}"));
    }
    if best.0 != 8 && best.0 + best.1 == 8 {
        out.push(':');
    }
}

pub fn fmt_ip(ip: &IpAddr) -> String {
    let mut out = String::new();
    match ip {
        IpAddr::V4(a) => out.push_str(&a.to_string()),
        IpAddr::V6(a) => fmt_ipv6(a, &mut out),
    }
    out
}

/// `a.b.c.d:port` or `[v6]:port` in inet_ntop spelling.
pub fn fmt_endpoint(addr: &SocketAddr) -> String {
    match addr.ip() {
        IpAddr::V4(a) => format!("{a}:{}", addr.port()),
        ip => format!("[{}]:{}", fmt_ip(&ip), addr.port()),
    }
}

/// `network/prefix` exactly as `wg show allowed-ips` prints the entry.
pub fn fmt_net(net: &IpNet) -> String {
    let n = net.trunc();
    format!("{}/{}", fmt_ip(&n.addr()), n.prefix_len())
}
