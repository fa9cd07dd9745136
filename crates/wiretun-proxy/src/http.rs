//! An HTTP/1.x proxy request head: parsed from bytes, no I/O. CONNECT (authority-form) and absolute-URI
//! requests (rewritten to origin-form for the origin server).

/// Heads larger than this are refused with 431.
pub const MAX_HEAD: usize = 16 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Need,
    Done(Head, usize),
}

/// Why a head is refused: the status to answer with.
#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// 400: not HTTP/1.x, no host, a header line without a colon, an origin-form request to a proxy.
    Bad(&'static str),
    /// 431: the head did not end within [`MAX_HEAD`] bytes.
    TooLarge,
}

impl Error {
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            Error::Bad(_) => (400, "Bad Request"),
            Error::TooLarge => (431, "Request Header Fields Too Large"),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Bad(why) => write!(f, "bad request: {why}"),
            Error::TooLarge => write!(f, "request head larger than {MAX_HEAD} bytes"),
        }
    }
}

impl std::error::Error for Error {}

#[derive(Debug, PartialEq, Eq)]
pub struct Head {
    /// `CONNECT host:port`: the tunnel is spliced after a 200 and nothing of the head goes on.
    pub connect: bool,
    /// The target's host (brackets removed from an IPv6 literal) and port.
    pub host: String,
    pub port: u16,
    /// The Proxy-Authorization header's value, if any.
    pub auth: Option<String>,
    /// For a non-CONNECT request, the head to send the origin: request line in origin-form and the headers
    /// without the hop-by-hop proxy ones.
    pub forward: Vec<u8>,
}

/// Parses a head once it is complete (ends with an empty line).
pub fn parse_head(buf: &[u8]) -> Result<Parsed, Error> {
    let Some(end) = find_end(buf) else {
        if buf.len() >= MAX_HEAD {
            return Err(Error::TooLarge);
        }
        // Bail out early on something that can never be an HTTP request line.
        if buf
            .iter()
            .any(|&b| b == 0 || (b >= 0x80 && !buf.contains(&b'\n')))
        {
            return Err(Error::Bad("not a text request line"));
        }
        return Ok(Parsed::Need);
    };
    if end > MAX_HEAD {
        return Err(Error::TooLarge);
    }
    let text = std::str::from_utf8(&buf[..end]).map_err(|_| Error::Bad("head is not UTF-8"))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request = lines.next().unwrap_or("");
    let mut parts = request.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Bad("request line is not METHOD TARGET VERSION"));
    };
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(Error::Bad("version is not HTTP/1.0 or HTTP/1.1"));
    }
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase() || b == b'-') {
        return Err(Error::Bad("method is not a token"));
    }
    let mut auth = None;
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or(Error::Bad("header without a colon"))?;
        if name.is_empty() || name.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(Error::Bad("header name is not a token"));
        }
        let value = value.trim();
        if name.eq_ignore_ascii_case("proxy-authorization") {
            auth = Some(value.to_string());
        } else if !["proxy-connection", "connection", "keep-alive"]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h))
        {
            headers.push((name, value));
        }
    }
    let connect = method == "CONNECT";
    let (host, port, path) = if connect {
        let (h, p) = split_authority(target, None)?;
        (h, p, "")
    } else {
        let rest = target.strip_prefix("http://").ok_or(Error::Bad(
            "not an absolute http:// URI (https goes through CONNECT)",
        ))?;
        let slash = rest.find(['/', '?']).unwrap_or(rest.len());
        let (h, p) = split_authority(&rest[..slash], Some(80))?;
        (h, p, &rest[slash..])
    };
    let mut forward = Vec::new();
    if !connect {
        let path = if path.is_empty() { "/" } else { path };
        forward.extend_from_slice(format!("{method} {path} {version}\r\n").as_bytes());
        for (name, value) in headers {
            forward.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        // The connection is spliced to this one origin after the head, so a second request on it (a client
        // keeping its proxy connection alive, maybe for another host) would reach the wrong server: one
        // request per connection, and the origin's close ends the client's too.
        forward.extend_from_slice(b"Connection: close\r\n\r\n");
    }
    Ok(Parsed::Done(
        Head {
            connect,
            host,
            port,
            auth,
            forward,
        },
        end,
    ))
}

/// The end of the head (after its empty line), accepting bare LF line ends as RFC 9112 allows.
fn find_end(buf: &[u8]) -> Option<usize> {
    let limit = buf.len().min(MAX_HEAD + 4);
    (0..limit).find_map(|i| {
        if buf[i..limit].starts_with(b"\r\n\r\n") {
            Some(i + 4)
        } else if buf[i..limit].starts_with(b"\n\n") {
            Some(i + 2)
        } else {
            None
        }
    })
}

/// `host:port`, `[v6]:port`, or a host alone when there is a default port.
fn split_authority(s: &str, default: Option<u16>) -> Result<(String, u16), Error> {
    if s.contains('@') {
        return Err(Error::Bad("user info in the URI"));
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or(Error::Bad("unclosed [ in the host"))?;
        (h, after.strip_prefix(':'))
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            Some(_) => return Err(Error::Bad("IPv6 host without brackets")),
            None => (s, None),
        }
    };
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b))
    {
        return Err(Error::Bad("no valid host"));
    }
    let port = match (port, default) {
        (Some(p), _) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or(Error::Bad("bad port"))?,
        (None, Some(d)) => d,
        (None, None) => return Err(Error::Bad("CONNECT without a port")),
    };
    Ok((host.to_string(), port))
}

/// `Basic base64(user:pass)`, to compare a Proxy-Authorization value against.
pub fn basic_credentials(user: &str, pass: &str) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{pass}");
    let mut out = String::from("Basic ");
    for chunk in input.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Whether a Proxy-Authorization value carries these credentials (the scheme is case-insensitive).
pub fn auth_matches(value: Option<&str>, expected: &str) -> bool {
    let Some(value) = value else { return false };
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    scheme.eq_ignore_ascii_case("basic") && token.trim() == &expected["Basic ".len()..]
}

/// A complete response with no body.
pub fn response(status: u16, reason: &str, extra: &str) -> Vec<u8> {
    format!("HTTP/1.1 {status} {reason}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n")
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(buf: &[u8]) -> Head {
        match parse_head(buf) {
            Ok(Parsed::Done(h, n)) => {
                assert_eq!(n, buf.len());
                h
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn connect() {
        let h = done(
            b"CONNECT 10.0.0.2:443 HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic YTpi\r\n\r\n",
        );
        assert!(h.connect);
        assert_eq!((h.host.as_str(), h.port), ("10.0.0.2", 443));
        assert_eq!(h.auth.as_deref(), Some("Basic YTpi"));
        let h = done(b"CONNECT [fd00::2]:8443 HTTP/1.1\r\n\r\n");
        assert_eq!((h.host.as_str(), h.port), ("fd00::2", 8443));
    }

    #[test]
    fn absolute_uri_is_rewritten() {
        let h = done(b"GET http://example.com:8080/a/b?c HTTP/1.1\r\nHost: example.com\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: Basic x\r\n\r\n");
        assert!(!h.connect);
        assert_eq!((h.host.as_str(), h.port), ("example.com", 8080));
        assert_eq!(
            h.forward,
            b"GET /a/b?c HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"
        );
        let h = done(b"GET http://example.com HTTP/1.0\n\n");
        assert_eq!(h.port, 80);
        assert_eq!(h.forward, b"GET / HTTP/1.0\r\nConnection: close\r\n\r\n");
        // The client's own keep-alive is replaced: the spliced connection serves one request.
        let h = done(b"GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n");
        assert_eq!(
            h.forward,
            b"GET / HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn incomplete_heads_need_more() {
        let full = b"CONNECT a:1 HTTP/1.1\r\nHost: a\r\n\r\n";
        for cut in 0..full.len() {
            assert_eq!(parse_head(&full[..cut]), Ok(Parsed::Need), "cut at {cut}");
        }
    }

    #[test]
    fn hostile_heads() {
        for bad in [
            &b"garbage\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\n\r\n",
            b"GET https://a/ HTTP/1.1\r\n\r\n",
            b"CONNECT a HTTP/1.1\r\n\r\n",
            b"CONNECT a:0 HTTP/1.1\r\n\r\n",
            b"CONNECT a:99999 HTTP/1.1\r\n\r\n",
            b"CONNECT fd00::1:80 HTTP/1.1\r\n\r\n",
            b"CONNECT [fd00::1:80 HTTP/1.1\r\n\r\n",
            b"CONNECT u@a:80 HTTP/1.1\r\n\r\n",
            b"CONNECT a:80 HTTP/2.0\r\n\r\n",
            b"CONNECT a:80 HTTP/1.1 x\r\n\r\n",
            b"CONNECT a:80 HTTP/1.1\r\nno colon\r\n\r\n",
            b"get http://a/ HTTP/1.1\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01",
            b"CONNECT a\xff:80 HTTP/1.1\r\n\r\n",
        ] {
            assert!(
                matches!(parse_head(bad), Err(Error::Bad(_))),
                "{:?}: {:?}",
                String::from_utf8_lossy(bad),
                parse_head(bad)
            );
        }
        let mut huge = b"CONNECT a:80 HTTP/1.1\r\n".to_vec();
        while huge.len() < MAX_HEAD {
            huge.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert_eq!(parse_head(&huge), Err(Error::TooLarge));
        huge.extend_from_slice(b"\r\n");
        assert_eq!(parse_head(&huge), Err(Error::TooLarge));
        assert_eq!(Error::TooLarge.status().0, 431);
    }

    #[test]
    fn basic_auth() {
        assert_eq!(basic_credentials("a", "b"), "Basic YTpi");
        assert_eq!(
            basic_credentials("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(basic_credentials("ab", "c"), "Basic YWI6Yw==");
        let want = basic_credentials("a", "b");
        assert!(auth_matches(Some("basic YTpi"), &want));
        assert!(!auth_matches(Some("Basic YTpj"), &want));
        assert!(!auth_matches(Some("Bearer YTpi"), &want));
        assert!(!auth_matches(None, &want));
    }
}
