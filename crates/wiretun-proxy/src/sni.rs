//! The server name of a TLS ClientHello (RFC 8446 §4.1.2, RFC 6066 §3), from the first bytes a client sends
//! on a connection: parsed from bytes, no I/O. The `[SNI]` listener dials that name and passes every byte on
//! untouched, the hello included, so nothing here decrypts or rewrites anything.
//!
//! The hello may come in several records (a handshake message can be fragmented) and those records in
//! several reads: [`parse`] takes all the bytes so far and says whether it needs more. Everything about the
//! input is hostile: lengths are checked against what is there and against the caps before any use.

use std::fmt;

/// The largest ClientHello accepted. Real ones are well under it (about 2 KiB with a post-quantum key share
/// and a session ticket); the cap bounds what one client makes us buffer.
pub const MAX_HELLO: usize = 16 * 1024;

/// The largest input (records, headers included) the hello must end within: a hello cut into many tiny
/// records costs 5 bytes a record, and this bounds that too.
pub const MAX_INPUT: usize = MAX_HELLO + 4096;

/// TLSPlaintext.length's limit (RFC 8446 §5.1).
const MAX_RECORD: usize = 1 << 14;
const CONTENT_HANDSHAKE: u8 = 22;
const CLIENT_HELLO: u8 = 1;
const EXT_SERVER_NAME: u16 = 0;
const NAME_HOST: u8 = 0;

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// The bytes so far are a valid beginning; more are needed.
    Need,
    /// The hello is complete and names this host (lowercase, no trailing dot).
    Done(String),
}

#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// The first bytes are not a TLS handshake record.
    NotTls,
    /// A TLS hello, but not a valid one: why.
    Malformed(&'static str),
    /// The hello is larger than [`MAX_HELLO`], or its records than [`MAX_INPUT`].
    TooLarge,
    /// A valid hello with no server_name extension, or one without a host name.
    NoName,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotTls => write!(f, "not a TLS ClientHello"),
            Error::Malformed(why) => write!(f, "malformed TLS ClientHello: {why}"),
            Error::TooLarge => write!(f, "TLS ClientHello larger than {MAX_HELLO} bytes"),
            Error::NoName => write!(f, "no server name (SNI) in the TLS ClientHello"),
        }
    }
}

impl std::error::Error for Error {}

/// The hello's server name once `input` (everything the client sent so far) holds all of it.
pub fn parse(input: &[u8]) -> Result<Parsed, Error> {
    let mut message = Vec::new();
    let mut at = 0;
    loop {
        if let Some(name) = hello_in(&message)? {
            return Ok(Parsed::Done(name));
        }
        if at >= MAX_INPUT {
            return Err(Error::TooLarge);
        }
        let rest = &input[at..];
        check_header(rest, at == 0)?;
        if rest.len() < 5 {
            return Ok(Parsed::Need);
        }
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if len == 0 {
            return Err(Error::Malformed("an empty handshake record"));
        }
        if len > MAX_RECORD {
            return Err(Error::Malformed("a record longer than 2^14 bytes"));
        }
        if at + 5 + len > MAX_INPUT {
            return Err(Error::TooLarge);
        }
        // A record still arriving counts with what it has: the hello may end inside it.
        let have = len.min(rest.len() - 5);
        message.extend_from_slice(&rest[5..5 + have]);
        if have < len {
            return hello_in(&message).map(|n| n.map_or(Parsed::Need, Parsed::Done));
        }
        at += 5 + len;
    }
}

/// Checks what is there of a record header: the first must be a handshake record of TLS (major version 3);
/// a later one that is not a handshake record interrupts the hello.
fn check_header(rest: &[u8], first: bool) -> Result<(), Error> {
    match (rest.first(), rest.get(1)) {
        (Some(&t), _) if t != CONTENT_HANDSHAKE && first => Err(Error::NotTls),
        (Some(&t), _) if t != CONTENT_HANDSHAKE => Err(Error::Malformed(
            "a record of another type inside the hello",
        )),
        (_, Some(&major)) if major != 3 => Err(if first {
            Error::NotTls
        } else {
            Error::Malformed("a record of another version inside the hello")
        }),
        _ => Ok(()),
    }
}

/// The server name once the handshake bytes so far hold the whole ClientHello; `None` while they do not.
fn hello_in(message: &[u8]) -> Result<Option<String>, Error> {
    let Some(header) = message.get(..4) else {
        if message.first().is_some_and(|&t| t != CLIENT_HELLO) {
            return Err(Error::Malformed(
                "the first handshake message is not a ClientHello",
            ));
        }
        return Ok(None);
    };
    if header[0] != CLIENT_HELLO {
        return Err(Error::Malformed(
            "the first handshake message is not a ClientHello",
        ));
    }
    let len = usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
    if len > MAX_HELLO {
        return Err(Error::TooLarge);
    }
    match message.get(4..4 + len) {
        Some(body) => client_hello(body).map(Some),
        None => Ok(None),
    }
}

/// A cursor over bytes whose reads fail, rather than panic, past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.0.len() {
            return Err(Error::Malformed("a length past the end of its field"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, Error> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    /// A field with a `width`-byte length before it.
    fn vec(&mut self, width: usize) -> Result<Reader<'a>, Error> {
        let n = if width == 1 {
            usize::from(self.u8()?)
        } else {
            usize::from(self.u16()?)
        };
        self.take(n).map(Reader)
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn client_hello(body: &[u8]) -> Result<String, Error> {
    let mut r = Reader(body);
    if r.u16()? >> 8 != 3 {
        return Err(Error::Malformed("legacy_version is not 3.x"));
    }
    r.take(32)?; // random
    if r.vec(1)?.0.len() > 32 {
        return Err(Error::Malformed("a session id longer than 32 bytes"));
    }
    let suites = r.vec(2)?.0.len();
    if suites == 0 || suites % 2 != 0 {
        return Err(Error::Malformed("no cipher suites, or an odd length"));
    }
    if r.vec(1)?.is_empty() {
        return Err(Error::Malformed("no compression methods"));
    }
    // TLS 1.2 and older may end the hello here, without extensions: then there is no name.
    if r.is_empty() {
        return Err(Error::NoName);
    }
    let mut extensions = r.vec(2)?;
    if !r.is_empty() {
        return Err(Error::Malformed("bytes after the extensions"));
    }
    let mut name = None;
    while !extensions.is_empty() {
        let kind = extensions.u16()?;
        let data = extensions.vec(2)?;
        if kind == EXT_SERVER_NAME {
            if name.is_some() {
                return Err(Error::Malformed("two server_name extensions"));
            }
            name = Some(server_name(data)?);
        }
    }
    name.ok_or(Error::NoName)
}

/// The server_name extension's host name; other name types are skipped (RFC 6066 has any new type start
/// with a 16-bit length, which is how they are stepped over).
fn server_name(mut data: Reader<'_>) -> Result<String, Error> {
    let mut list = data.vec(2)?;
    if !data.is_empty() || list.is_empty() {
        return Err(Error::Malformed(
            "a server_name extension that is not one list",
        ));
    }
    let mut host = None;
    while !list.is_empty() {
        let kind = list.u8()?;
        let value = list.vec(2)?;
        if kind == NAME_HOST {
            if host.is_some() {
                return Err(Error::Malformed("two host names"));
            }
            host = Some(host_name(value.0)?);
        }
    }
    host.ok_or(Error::NoName)
}

/// A DNS host name as RFC 6066 allows it: ASCII, no trailing dot, not an IP address literal.
fn host_name(raw: &[u8]) -> Result<String, Error> {
    if raw.is_empty() || raw.len() > 253 {
        return Err(Error::Malformed("a host name of 0 or more than 253 bytes"));
    }
    let ok_byte = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_';
    if !raw
        .split(|&b| b == b'.')
        .all(|label| (1..=63).contains(&label.len()) && label.iter().all(ok_byte))
    {
        return Err(Error::Malformed(
            "a host name that is not letters, digits and hyphens in dot-separated labels",
        ));
    }
    let name = String::from_utf8_lossy(raw).to_ascii_lowercase();
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(Error::Malformed("an IP address as the host name"));
    }
    Ok(name)
}

#[cfg(test)]
#[path = "sni_tests.rs"]
mod tests;
