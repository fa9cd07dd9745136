//! A small DNS client over the stack: A and AAAA questions to the tunnel's DNS servers, through the tunnel, so
//! a SOCKS5 or HTTP target name never reaches the host's resolver. Questions go over UDP; an answer with TC
//! set (too large for a datagram) is asked again over TCP. Names without a dot are tried with each search
//! domain of the config's DNS line first (wg-quick's words there that are not addresses), then as they are.
//! The query and answer codecs are pure functions. Answers are kept for their TTL (the smallest of the records
//! used), so a forward that resolves its target per connection does not ask for every connection, and a name
//! that moves is followed once its old answer expires; failures are not kept.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const A: u16 = 1;
const AAAA: u16 = 28;

/// A query for `name` of `qtype`, recursion desired.
pub fn encode_query(id: u16, name: &str, qtype: u16) -> io::Result<Vec<u8>> {
    let mut q = Vec::with_capacity(18 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "bad host name length",
        ));
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name}: bad label"),
            ));
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    Ok(q)
}

/// The addresses of the asked type in an answer, and how long they may be kept: the smallest TTL among them
/// (0 when there are none).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Answer {
    pub addrs: Vec<IpAddr>,
    pub ttl: u32,
}

/// What an answer said: `Ok(None)` for another query's answer, `Err(NotFound)` for NXDOMAIN, else the
/// addresses of the asked type.
pub fn parse_answer(msg: &[u8], id: u16, qtype: u16) -> io::Result<Option<Answer>> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed DNS answer");
    if msg.len() < 12 || u16::from_be_bytes([msg[0], msg[1]]) != id || msg[2] & 0x80 == 0 {
        return Ok(None);
    }
    match msg[3] & 0x0f {
        0 => {}
        3 => {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no such name (NXDOMAIN)",
            ))
        }
        rc => return Err(io::Error::other(format!("DNS server answered rcode {rc}"))),
    }
    let qd = u16::from_be_bytes([msg[4], msg[5]]);
    let an = u16::from_be_bytes([msg[6], msg[7]]);
    let mut at = 12;
    for _ in 0..qd {
        at = skip_name(msg, at).ok_or_else(bad)? + 4;
    }
    let mut out = Vec::new();
    let mut ttl = u32::MAX;
    for _ in 0..an {
        at = skip_name(msg, at).ok_or_else(bad)?;
        let rr = msg.get(at..at + 10).ok_or_else(bad)?;
        let (ty, len) = (
            u16::from_be_bytes([rr[0], rr[1]]),
            u16::from_be_bytes([rr[8], rr[9]]) as usize,
        );
        let rr_ttl = u32::from_be_bytes([rr[4], rr[5], rr[6], rr[7]]);
        let data = msg.get(at + 10..at + 10 + len).ok_or_else(bad)?;
        at += 10 + len;
        let ip = match (ty, len) {
            (A, 4) if qtype == A => IpAddr::V4(Ipv4Addr::new(data[0], data[1], data[2], data[3])),
            (AAAA, 16) if qtype == AAAA => {
                let o: [u8; 16] = data.try_into().expect("16 bytes");
                IpAddr::V6(Ipv6Addr::from(o))
            }
            _ => continue,
        };
        out.push(ip);
        ttl = ttl.min(rr_ttl);
    }
    let ttl = if out.is_empty() { 0 } else { ttl };
    Ok(Some(Answer { addrs: out, ttl }))
}

/// Whether an answer says it was cut to fit a datagram (TC): the whole one comes over TCP.
pub fn is_truncated(msg: &[u8]) -> bool {
    msg.len() >= 12 && msg[2] & 0x02 != 0
}

/// The names to ask for `name`, in order: with each search domain first when it has no dot (a trailing dot
/// makes a name absolute, as in resolv.conf).
pub fn candidates(name: &str, search: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    if !name.contains('.') {
        for domain in search {
            let domain = domain.trim_matches('.');
            if !domain.is_empty() {
                out.push(format!("{name}.{domain}"));
            }
        }
    }
    out.push(name.to_string());
    out
}

/// The offset after a (possibly compressed) name.
fn skip_name(msg: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *msg.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return msg.get(at + 1).map(|_| at + 2),
            l if l & 0xc0 == 0 => at += 1 + l as usize,
            _ => return None,
        }
    }
}

/// Resolves through `servers` (tunnel addresses, port 53 if none given) over the stack's UDP.
pub struct StackResolver {
    stack: Arc<wiretun_netstack::Stack>,
    servers: Vec<SocketAddr>,
    search: Vec<String>,
    timeout: Duration,
    next_id: AtomicU16,
    /// Name as asked → its addresses and when they expire.
    cache: Mutex<HashMap<String, (Vec<IpAddr>, Instant)>>,
}

/// Names kept at most (SOCKS5 clients choose names, so the cache must not grow without bound), and the longest
/// an answer is kept whatever its TTL says.
const CACHE_NAMES: usize = 1024;
const CACHE_MAX_TTL: Duration = Duration::from_secs(24 * 3600);

impl StackResolver {
    pub fn new(stack: Arc<wiretun_netstack::Stack>, servers: Vec<SocketAddr>) -> StackResolver {
        // Query ids start at a random point (std's per-process random hash keys), so they are not guessable.
        use std::hash::{BuildHasher, Hasher};
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish() as u16;
        StackResolver {
            stack,
            servers,
            search: Vec::new(),
            timeout: Duration::from_secs(3),
            next_id: AtomicU16::new(seed),
            cache: Mutex::default(),
        }
    }

    /// Search domains for names without a dot (wg-quick's non-address words in `DNS =`).
    pub fn with_search(mut self, search: Vec<String>) -> StackResolver {
        self.search = search;
        self
    }

    fn ask(&self, server: SocketAddr, name: &str, qtype: u16) -> io::Result<Answer> {
        let local = match server {
            SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
            SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
        };
        let sock = self.stack.bind_udp(local)?;
        let id = self
            .next_id
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(40503);
        let query = encode_query(id, name, qtype)?;
        sock.send_to(&query, server)?;
        let deadline = Instant::now() + self.timeout;
        let mut buf = vec![0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("DNS server {server}: no answer"),
                ));
            }
            let (n, from) = sock.recv_from_timeout(&mut buf, left)?;
            if from != server {
                continue;
            }
            if let Some(answer) = parse_answer(&buf[..n], id, qtype)? {
                if is_truncated(&buf[..n]) {
                    return self.ask_tcp(server, &query, id, qtype);
                }
                return Ok(answer);
            }
        }
    }

    /// The same question over TCP (RFC 7766: each message after its two-byte length).
    fn ask_tcp(&self, server: SocketAddr, query: &[u8], id: u16, qtype: u16) -> io::Result<Answer> {
        let conn = self
            .stack
            .dial_tcp_timeout(server, self.timeout)
            .wait()
            .map_err(|e| io::Error::new(e.kind(), format!("DNS server {server} over TCP: {e}")))?;
        let answer = match conn.splice_pair(|_| {})? {
            wiretun_netstack::OsStream::Tcp(s) => {
                s.set_read_timeout(Some(self.timeout))?;
                exchange(s, query)?
            }
            #[cfg(unix)]
            wiretun_netstack::OsStream::Unix(s) => {
                s.set_read_timeout(Some(self.timeout))?;
                exchange(s, query)?
            }
        };
        parse_answer(&answer, id, qtype)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("DNS server {server}: a TCP answer to another question"),
            )
        })
    }

    fn resolve_one(&self, name: &str) -> io::Result<Answer> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{name}: no DNS servers"));
        for &server in &self.servers {
            let v4 = self.ask(server, name, A);
            if let Err(e) = &v4 {
                if e.kind() != io::ErrorKind::NotFound {
                    last = io::Error::new(e.kind(), format!("{name}: {e}"));
                    continue;
                }
            }
            let v4 = v4.unwrap_or_default();
            let v6 = self.ask(server, name, AAAA).unwrap_or_default();
            let ttl = match (v4.addrs.is_empty(), v6.addrs.is_empty()) {
                (false, false) => v4.ttl.min(v6.ttl),
                (false, true) => v4.ttl,
                _ => v6.ttl,
            };
            let addrs = [v4.addrs, v6.addrs].concat();
            if addrs.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{name}: no such name"),
                ));
            }
            return Ok(Answer { addrs, ttl });
        }
        Err(last)
    }

    fn cached(&self, name: &str) -> Option<Vec<IpAddr>> {
        let cache = self.cache.lock().unwrap();
        let (addrs, expires) = cache.get(name)?;
        (Instant::now() < *expires).then(|| addrs.clone())
    }

    fn remember(&self, name: &str, answer: &Answer) {
        if answer.ttl == 0 {
            return;
        }
        let now = Instant::now();
        let keep = Duration::from_secs(answer.ttl.into()).min(CACHE_MAX_TTL);
        let mut cache = self.cache.lock().unwrap();
        if cache.len() >= CACHE_NAMES {
            cache.retain(|_, (_, expires)| now < *expires);
            if cache.len() >= CACHE_NAMES {
                cache.clear();
            }
        }
        cache.insert(name.to_string(), (answer.addrs.clone(), now + keep));
    }
}

/// Writes one length-prefixed query and reads one length-prefixed answer.
fn exchange<S: io::Read + io::Write>(mut s: S, query: &[u8]) -> io::Result<Vec<u8>> {
    let mut msg = (query.len() as u16).to_be_bytes().to_vec();
    msg.extend_from_slice(query);
    s.write_all(&msg)?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len)?;
    let mut answer = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut answer)?;
    Ok(answer)
}

impl crate::Resolve for StackResolver {
    fn resolve(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        if let Some(addrs) = self.cached(name) {
            return Ok(addrs);
        }
        let mut last = None;
        for candidate in candidates(name, &self.search) {
            match self.resolve_one(&candidate) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => last = Some(e),
                Err(e) => return Err(e),
                Ok(answer) => {
                    self.remember(name, &answer);
                    return Ok(answer.addrs);
                }
            }
        }
        Err(last.expect("at least the name itself"))
    }
}

/// The host's own resolver (getaddrinfo), for `--system-dns` only: names then leave through the host's
/// network, not the tunnel, which is why it is never the default.
pub struct SystemResolver;

impl crate::Resolve for SystemResolver {
    fn resolve(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        use std::net::ToSocketAddrs;
        let addrs: Vec<IpAddr> = (name, 0)
            .to_socket_addrs()
            .map_err(|e| io::Error::new(io::ErrorKind::NotFound, format!("{name}: {e}")))?
            .map(|a| a.ip())
            .collect();
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{name}: no addresses"),
            ));
        }
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_resolver_uses_the_hosts_resolver() {
        use crate::Resolve;
        let ips = SystemResolver.resolve("localhost").unwrap();
        assert!(ips.iter().all(|ip| ip.is_loopback()), "{ips:?}");
        let err = SystemResolver.resolve("no-such-name.invalid").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    fn answer(id: u16, rcode: u8, records: &[(u16, &[u8])]) -> Vec<u8> {
        let mut m = id.to_be_bytes().to_vec();
        m.extend_from_slice(&[0x81, 0x80 | rcode, 0, 1, 0, records.len() as u8, 0, 0, 0, 0]);
        m.extend_from_slice(b"\x01a\x04test\x00\x00\x01\x00\x01");
        for (ty, data) in records {
            m.extend_from_slice(&[0xc0, 0x0c]);
            m.extend_from_slice(&ty.to_be_bytes());
            m.extend_from_slice(&[0, 1, 0, 0, 0, 30, 0, data.len() as u8]);
            m.extend_from_slice(data);
        }
        m
    }

    #[test]
    fn query_and_answer() {
        let q = encode_query(0x1234, "a.test.", A).unwrap();
        assert_eq!(
            q,
            b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x04test\x00\x00\x01\x00\x01"
        );
        let m = answer(
            0x1234,
            0,
            &[(A, &[10, 0, 0, 2]), (5, b"\x01b\x00"), (A, &[10, 0, 0, 3])],
        );
        let got = parse_answer(&m, 0x1234, A).unwrap().unwrap();
        assert_eq!(
            got.addrs,
            vec![
                "10.0.0.2".parse::<IpAddr>().unwrap(),
                "10.0.0.3".parse().unwrap()
            ]
        );
        assert_eq!(got.ttl, 30);
        // The smallest TTL of the records used; the CNAME's does not count.
        let mut short = m.clone();
        short[24 + 9] = 5;
        assert_eq!(parse_answer(&short, 0x1234, A).unwrap().unwrap().ttl, 5);
        assert_eq!(
            parse_answer(&m, 0x1234, AAAA).unwrap().unwrap(),
            Answer::default()
        );
        assert_eq!(parse_answer(&m, 0x9999, A).unwrap(), None);
        let nx = answer(7, 3, &[]);
        assert_eq!(
            parse_answer(&nx, 7, A).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn truncation_and_search_domains() {
        let mut m = answer(1, 0, &[]);
        assert!(!is_truncated(&m));
        m[2] |= 0x02;
        assert!(is_truncated(&m));
        assert!(!is_truncated(&m[..11]));
        let search = vec!["corp.test".to_string(), ".lab.".to_string(), "".to_string()];
        assert_eq!(candidates("db", &search), ["db.corp.test", "db.lab", "db"]);
        assert_eq!(candidates("db.", &search), ["db."]);
        assert_eq!(candidates("db.corp.test", &search), ["db.corp.test"]);
        assert_eq!(candidates("db", &[]), ["db"]);
    }

    #[test]
    fn hostile_answers() {
        let m = answer(1, 0, &[(A, &[10, 0, 0, 2])]);
        for cut in 12..m.len() {
            assert!(parse_answer(&m[..cut], 1, A).is_err(), "cut at {cut}");
        }
        assert!(encode_query(1, "", A).is_err());
        assert!(encode_query(1, "a..b", A).is_err());
        assert!(encode_query(1, &"x".repeat(64), A).is_err());
    }
}
