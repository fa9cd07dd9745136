//! The proxy's DNS client against a DNS server on the far stack, over two rootless devices in this process:
//! a truncated UDP answer is asked again over TCP, and a name without a dot goes through the search domains.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use wiretun_netstack::OsStream;
use wiretun_proxy::dns::StackResolver;
use wiretun_proxy::Resolve;

mod common;

/// The addresses the server knows for a name: big.test has 40 (too many for its UDP answers, which come back
/// with TC and none), db.corp.test one.
fn records(name: &[u8]) -> Option<Vec<Ipv4Addr>> {
    match name {
        b"\x03big\x04test\x00" => Some((1..=40).map(|i| Ipv4Addr::new(10, 9, 0, i)).collect()),
        b"\x02db\x04corp\x04test\x00" => Some(vec![Ipv4Addr::new(10, 9, 1, 1)]),
        _ => None,
    }
}

fn answer(q: &[u8], tcp: bool) -> Vec<u8> {
    let qend = 12 + q[12..].iter().position(|&b| b == 0).unwrap() + 5;
    let found = records(&q[12..qend - 4]);
    let is_a = q[qend - 3] == 1;
    let addrs = found.clone().filter(|_| is_a).unwrap_or_default();
    let truncated = !tcp && addrs.len() > 20;
    let addrs = if truncated { vec![] } else { addrs };
    let mut r = q[..2].to_vec();
    r.extend_from_slice(&[0x81 | if truncated { 0x02 } else { 0 }]);
    r.extend_from_slice(&[if found.is_some() { 0x80 } else { 0x83 }, 0, 1]);
    r.extend_from_slice(&(addrs.len() as u16).to_be_bytes());
    r.extend_from_slice(&[0, 0, 0, 0]);
    r.extend_from_slice(&q[12..qend]);
    for a in addrs {
        r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4]);
        r.extend_from_slice(&a.octets());
    }
    r
}

fn serve_tcp<S: Read + Write>(mut s: S) -> io::Result<()> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len)?;
    let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut q)?;
    let a = answer(&q, true);
    s.write_all(&(a.len() as u16).to_be_bytes())?;
    s.write_all(&a)
}

#[test]
fn truncated_answers_over_tcp_and_search_domains() {
    let (a, b) = common::linked("dns");
    let udp = b.stack().bind_udp("10.0.0.2:53".parse().unwrap()).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = udp.recv_from_timeout(&mut buf, Duration::from_secs(30)) {
            let _ = udp.send_to(&answer(&buf[..n], false), from);
        }
    });
    let _tcp = b
        .stack()
        .listen_tcp_with("10.0.0.2:53".parse().unwrap(), |conn| {
            let os = conn.splice_pair(|_| {}).unwrap();
            std::thread::spawn(move || match os {
                OsStream::Tcp(s) => serve_tcp(s),
                #[cfg(unix)]
                OsStream::Unix(s) => serve_tcp(s),
            });
        })
        .unwrap();
    let servers = vec!["10.0.0.2:53".parse().unwrap()];
    let resolver = StackResolver::new(a.stack().clone(), servers)
        .with_search(vec!["other.test".into(), "corp.test".into()]);
    // The first question may go before the handshake completes: the client's timeout covers it.
    let big = resolver.resolve("big.test").unwrap();
    assert_eq!(big.len(), 40, "the whole answer, over TCP");
    assert_eq!(big[39], IpAddr::from([10, 9, 0, 40]));
    assert_eq!(
        resolver.resolve("db").unwrap(),
        [IpAddr::from([10, 9, 1, 1])]
    );
    assert_eq!(
        resolver.resolve("db.corp.test").unwrap(),
        [IpAddr::from([10, 9, 1, 1])]
    );
    // With a dot, no search: db.other is not db.other.test or db.other.corp.test.
    let e = resolver.resolve("db.other").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    assert_eq!(
        resolver.resolve("nothing").unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
}

/// A DNS server on B answering `moved.test` with whatever `record` holds (NXDOMAIN while it is `None`), TTL
/// 2 s, counting the A questions.
fn moving_server(
    b: &wiretun_rootless::Rootless,
    record: std::sync::Arc<std::sync::Mutex<Option<Ipv4Addr>>>,
    asked: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let udp = b.stack().bind_udp("10.0.0.2:53".parse().unwrap()).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = udp.recv_from_timeout(&mut buf, Duration::from_secs(30)) {
            let q = &buf[..n];
            let qend = 12 + q[12..].iter().position(|&b| b == 0).unwrap() + 5;
            let is_a = q[qend - 3] == 1;
            let known = &q[12..qend - 4] == b"\x05moved\x04test\x00";
            let ip = if known { *record.lock().unwrap() } else { None };
            if is_a {
                asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            let found = ip.is_some();
            let mut r = q[..2].to_vec();
            r.extend_from_slice(&[0x81, if found { 0x80 } else { 0x83 }, 0, 1, 0]);
            r.push((found && is_a) as u8);
            r.extend_from_slice(&[0, 0, 0, 0]);
            r.extend_from_slice(&q[12..qend]);
            if let (Some(ip), true) = (ip, is_a) {
                r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 2, 0, 4]);
                r.extend_from_slice(&ip.octets());
            }
            let _ = udp.send_to(&r, from);
        }
    });
}

#[test]
fn answers_are_kept_for_their_ttl_failures_not_at_all() {
    use std::sync::atomic::Ordering::SeqCst;
    use std::time::Instant;
    let (a, b) = common::linked("dnsttl");
    let record = std::sync::Arc::new(std::sync::Mutex::new(None));
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    moving_server(&b, record.clone(), asked.clone());
    let resolver = StackResolver::new(a.stack().clone(), vec!["10.0.0.2:53".parse().unwrap()]);
    // Not there yet: the failure is not remembered, so the name works as soon as the record exists.
    let e = resolver.resolve("moved.test").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    *record.lock().unwrap() = Some(Ipv4Addr::new(10, 9, 2, 1));
    assert_eq!(
        resolver.resolve("moved.test").unwrap(),
        [IpAddr::from([10, 9, 2, 1])]
    );
    let t0 = Instant::now();
    // Within the TTL the answer is reused, without a question, even though the name has moved.
    let before = asked.load(SeqCst);
    *record.lock().unwrap() = Some(Ipv4Addr::new(10, 9, 2, 2));
    assert_eq!(
        resolver.resolve("moved.test").unwrap(),
        [IpAddr::from([10, 9, 2, 1])]
    );
    assert_eq!(asked.load(SeqCst), before);
    // Once it expires, the new address.
    let deadline = t0 + Duration::from_secs(10);
    while resolver.resolve("moved.test").unwrap() != [IpAddr::from([10, 9, 2, 2])] {
        assert!(
            Instant::now() < deadline,
            "the moved name was never asked again"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        t0.elapsed() >= Duration::from_millis(1500),
        "asked again after {:?}, before the 2 s TTL",
        t0.elapsed()
    );
}
