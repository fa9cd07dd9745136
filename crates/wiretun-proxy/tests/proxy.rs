//! The proxies over two rootless devices in this process (WireGuard over 127.0.0.1 UDP, real handshakes):
//! the client-side device A runs the proxies on OS sockets, device B (10.0.0.2 / fd00::2) runs an echo
//! server on its stack. Each proxy moves a few MB each way with a hash check; auth failures, unknown hosts,
//! refused and unreachable targets get the protocol's reply.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use wiretun_netstack::OsStream;
use wiretun_proxy::socks5::Host;
use wiretun_proxy::{Credentials, Options, Resolve, Reverse, Server};
use wiretun_rootless::Rootless;

mod common;

const SIZE: usize = 3 << 20;

struct Names;

impl Resolve for Names {
    fn resolve(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        match name {
            "server.test" => Ok(vec!["10.0.0.2".parse().unwrap()]),
            _ => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{name}: no such name"),
            )),
        }
    }
}

fn opts(a: &Rootless, names: bool) -> Options {
    let mut o = Options::new(a.stack().clone());
    o.connect_timeout = Duration::from_secs(5);
    o.handshake_timeout = Duration::from_secs(2);
    if names {
        o.resolver = Some(Arc::new(Names));
    }
    o
}

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn hash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    })
}

fn pattern(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Sends SIZE bytes through `s`, half-closes, and checks the echo is the same stream.
fn echo_check(s: TcpStream) {
    let data = pattern(7, SIZE);
    let want = hash(&data);
    let mut w = s.try_clone().unwrap();
    let t = std::thread::spawn(move || {
        w.write_all(&data).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    });
    let mut s = s;
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    t.join().unwrap();
    assert_eq!(got.len(), SIZE);
    assert_eq!(hash(&got), want);
}

fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut b = vec![0; n];
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.read_exact(&mut b).unwrap();
    b
}

fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(s.read(&mut b), Ok(0) | Err(_))
}

#[test]
fn forward_moves_data_both_ways() {
    let (a, _b, _echo) = common::linked_with_echo("fwd");
    let host = Host::Ip("10.0.0.2".parse().unwrap());
    let server = Server::forward(opts(&a, false), local(), host, 80).unwrap();
    echo_check(TcpStream::connect(server.local_addr()).unwrap());
    let v6 = Server::forward(
        opts(&a, false),
        local(),
        Host::Ip("fd00::2".parse().unwrap()),
        80,
    )
    .unwrap();
    echo_check(TcpStream::connect(v6.local_addr()).unwrap());
}

/// Knows `late.test` only once `known` is set: a tunnel whose DNS does not answer yet.
struct Late(std::sync::atomic::AtomicBool);

impl Resolve for Late {
    fn resolve(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        if name == "late.test" && self.0.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(vec!["10.0.0.2".parse().unwrap()]);
        }
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{name}: no such name"),
        ))
    }
}

#[test]
fn forward_resolves_its_target_name_per_connection() {
    let (a, _b, _echo) = common::linked_with_echo("fwdname");
    let late = Arc::new(Late(std::sync::atomic::AtomicBool::new(false)));
    let mut o = opts(&a, false);
    o.resolver = Some(late.clone());
    // Starts although the name does not resolve yet; that connection alone fails.
    let server = Server::forward(o, local(), Host::Name("late.test".into()), 80).unwrap();
    let mut first = TcpStream::connect(server.local_addr()).unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert!(closed(&mut first));
    late.0.store(true, std::sync::atomic::Ordering::SeqCst);
    echo_check(TcpStream::connect(server.local_addr()).unwrap());
}

/// Greets and requests; returns the stream and the reply's code.
fn socks_connect(addr: SocketAddr, auth: Option<(&str, &str)>, request: &[u8]) -> (TcpStream, u8) {
    let mut s = TcpStream::connect(addr).unwrap();
    let method = if auth.is_some() { 2 } else { 0 };
    s.write_all(&[5, 1, method]).unwrap();
    assert_eq!(read_n(&mut s, 2), [5, method]);
    if let Some((u, p)) = auth {
        let mut m = vec![1, u.len() as u8];
        m.extend_from_slice(u.as_bytes());
        m.push(p.len() as u8);
        m.extend_from_slice(p.as_bytes());
        s.write_all(&m).unwrap();
        assert_eq!(read_n(&mut s, 2), [1, 0]);
    }
    s.write_all(request).unwrap();
    let head = read_n(&mut s, 4);
    assert_eq!(head[0], 5);
    let rest = if head[3] == 4 { 18 } else { 6 };
    read_n(&mut s, rest);
    (s, head[1])
}

fn v4_request(ip: [u8; 4], port: u16) -> Vec<u8> {
    let mut r = vec![5, 1, 0, 1];
    r.extend_from_slice(&ip);
    r.extend_from_slice(&port.to_be_bytes());
    r
}

fn name_request(name: &str, port: u16) -> Vec<u8> {
    let mut r = vec![5, 1, 0, 3, name.len() as u8];
    r.extend_from_slice(name.as_bytes());
    r.extend_from_slice(&port.to_be_bytes());
    r
}

#[test]
fn socks5_connect_and_errors() {
    let (a, _b, _echo) = common::linked_with_echo("socks");
    let server = Server::socks5(opts(&a, true), local(), None).unwrap();
    let addr = server.local_addr();
    let (s, code) = socks_connect(addr, None, &v4_request([10, 0, 0, 2], 80));
    assert_eq!(code, 0);
    echo_check(s);
    let mut v6 = vec![5, 1, 0, 4];
    v6.extend_from_slice(&"fd00::2".parse::<std::net::Ipv6Addr>().unwrap().octets());
    v6.extend_from_slice(&80u16.to_be_bytes());
    let (s, code) = socks_connect(addr, None, &v6);
    assert_eq!(code, 0);
    echo_check(s);
    let (s, code) = socks_connect(addr, None, &name_request("server.test", 80));
    assert_eq!(code, 0);
    echo_check(s);
    // Unknown name, refused port, no route, BIND, bad address type.
    assert_eq!(
        socks_connect(addr, None, &name_request("nowhere.test", 80)).1,
        0x04
    );
    assert_eq!(
        socks_connect(addr, None, &v4_request([10, 0, 0, 2], 81)).1,
        0x05
    );
    assert_eq!(
        socks_connect(addr, None, &v4_request([10, 0, 0, 9], 80)).1,
        0x04
    );
    assert_eq!(
        socks_connect(addr, None, &[5, 2, 0, 1, 10, 0, 0, 2, 0, 80]).1,
        0x07
    );
    assert_eq!(socks_connect(addr, None, &[5, 1, 0, 9, 1, 2]).1, 0x08);
    // Not SOCKS5 at all: closed without a reply.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    assert!(closed(&mut s));
}

#[test]
fn socks5_without_dns_refuses_names() {
    let (a, _b, _echo) = common::linked_with_echo("nodns");
    let server = Server::socks5(opts(&a, false), local(), None).unwrap();
    let (_, code) = socks_connect(server.local_addr(), None, &name_request("server.test", 80));
    assert_eq!(code, 0x04);
}

#[test]
fn socks5_auth() {
    let (a, _b, _echo) = common::linked_with_echo("sauth");
    let creds = Credentials {
        user: "alice".into(),
        pass: "s3cret".into(),
    };
    let server = Server::socks5(opts(&a, true), local(), Some(creds)).unwrap();
    let addr = server.local_addr();
    let (s, code) = socks_connect(
        addr,
        Some(("alice", "s3cret")),
        &v4_request([10, 0, 0, 2], 80),
    );
    assert_eq!(code, 0);
    echo_check(s);
    // Wrong password: status 1, then closed (RFC 1929).
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(&[5, 1, 2]).unwrap();
    assert_eq!(read_n(&mut s, 2), [5, 2]);
    s.write_all(&[1, 5, b'a', b'l', b'i', b'c', b'e', 2, b'n', b'o'])
        .unwrap();
    let status = read_n(&mut s, 2);
    assert_eq!(status[0], 1);
    assert_ne!(status[1], 0);
    assert!(closed(&mut s));
    // A client offering only no-auth: method 0xFF, closed.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(&[5, 1, 0]).unwrap();
    assert_eq!(read_n(&mut s, 2), [5, 0xff]);
    assert!(closed(&mut s));
}

fn http_head(s: &mut TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut b).unwrap() == 0 {
            break;
        }
        head.push(b[0]);
    }
    String::from_utf8(head).unwrap()
}

#[test]
fn http_connect_auth_and_errors() {
    let (a, _b, _echo) = common::linked_with_echo("http");
    let creds = Credentials {
        user: "a".into(),
        pass: "b".into(),
    };
    let server = Server::http(opts(&a, true), local(), Some(creds)).unwrap();
    let addr = server.local_addr();
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"CONNECT server.test:80 HTTP/1.1\r\nProxy-Authorization: Basic YTpi\r\n\r\n")
        .unwrap();
    assert!(http_head(&mut s).starts_with("HTTP/1.1 200 "));
    echo_check(s);
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"CONNECT 10.0.0.2:80 HTTP/1.1\r\n\r\n")
        .unwrap();
    let head = http_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 407 "), "{head}");
    assert!(head.contains("Proxy-Authenticate: Basic"), "{head}");
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"CONNECT 10.0.0.2:80 HTTP/1.1\r\nProxy-Authorization: Basic YTpj\r\n\r\n")
        .unwrap();
    assert!(http_head(&mut s).starts_with("HTTP/1.1 407 "));
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"\x16\x03\x01garbage\r\n\r\n").unwrap();
    assert!(http_head(&mut s).starts_with("HTTP/1.1 400 "));
    let mut s = TcpStream::connect(addr).unwrap();
    let filler = format!("CONNECT a:1 HTTP/1.1\r\nX: {}\r\n\r\n", "y".repeat(20_000));
    let _ = s.write_all(filler.as_bytes());
    assert!(http_head(&mut s).starts_with("HTTP/1.1 431 "));
    // A client that never finishes its head gets a 408 after the header timeout.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"CONNECT 10.0.0.2:80 HTTP/1.1\r\n").unwrap();
    assert!(http_head(&mut s).starts_with("HTTP/1.1 408 "));
}

#[test]
fn http_absolute_uri_and_gateway_errors() {
    let (a, _b, _echo) = common::linked_with_echo("http2");
    let server = Server::http(opts(&a, true), local(), None).unwrap();
    let addr = server.local_addr();
    // The echo server returns what the origin got: the head in origin-form, without proxy headers, and one
    // request per connection (it is spliced to this origin, so a kept-alive second request could be for another).
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET http://10.0.0.2/x?y HTTP/1.1\r\nHost: 10.0.0.2\r\nProxy-Connection: keep-alive\r\n\r\n")
        .unwrap();
    assert_eq!(
        http_head(&mut s),
        "GET /x?y HTTP/1.1\r\nHost: 10.0.0.2\r\nConnection: close\r\n\r\n"
    );
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"CONNECT nowhere.test:80 HTTP/1.1\r\n\r\n")
        .unwrap();
    assert!(http_head(&mut s).starts_with("HTTP/1.1 502 "));
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"CONNECT 10.0.0.2:81 HTTP/1.1\r\n\r\n")
        .unwrap();
    assert!(http_head(&mut s).starts_with("HTTP/1.1 502 "));
}

#[test]
fn reverse_forward_reaches_a_host_port() {
    let (a, b, _echo) = common::linked_with_echo("rev");
    let os = TcpListener::bind(local()).unwrap();
    let port = os.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in os.incoming().flatten() {
            std::thread::spawn(move || common::tcp_echo(OsStream::Tcp(s)));
        }
    });
    let _rev = Reverse::start(&opts(&b, false), 8080, format!("127.0.0.1:{port}")).unwrap();
    // A name is the host's: localhost through the host's resolver (not the tunnel's DNS), per connection.
    let _by_name = Reverse::start(&opts(&b, false), 8081, format!("localhost:{port}")).unwrap();
    // A reaches B's stack ports through forwards of its own; B connects them to the host's echo.
    for stack_port in [8080, 8081] {
        let host = Host::Ip("10.0.0.2".parse().unwrap());
        let fwd = Server::forward(opts(&a, false), local(), host, stack_port).unwrap();
        echo_check(TcpStream::connect(fwd.local_addr()).unwrap());
    }
}

/// A DNS server on B's stack (10.0.0.2:53): server.test is 10.0.0.2, anything else NXDOMAIN.
fn dns_server(b: &Rootless) -> std::thread::JoinHandle<()> {
    let sock = b.stack().bind_udp("10.0.0.2:53".parse().unwrap()).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = sock.recv_from_timeout(&mut buf, Duration::from_secs(30)) {
            let q = &buf[..n];
            let qend = 12 + q[12..].iter().position(|&b| b == 0).unwrap() + 5;
            let known = &q[12..qend - 4] == b"\x06server\x04test\x00";
            let is_a = q[qend - 3] == 1;
            let mut r = q[..2].to_vec();
            r.extend_from_slice(&[
                0x81,
                if known { 0x80 } else { 0x83 },
                0,
                1,
                0,
                (known && is_a) as u8,
                0,
                0,
                0,
                0,
            ]);
            r.extend_from_slice(&q[12..qend]);
            if known && is_a {
                r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, 0, 2]);
            }
            sock.send_to(&r, from).unwrap();
        }
    })
}

#[test]
fn socks5_names_resolve_through_the_tunnel_dns() {
    let (a, b, _echo) = common::linked_with_echo("dns");
    let _dns = dns_server(&b);
    let mut o = opts(&a, false);
    let resolver = wiretun_proxy::dns::StackResolver::new(
        a.stack().clone(),
        vec!["10.0.0.2:53".parse().unwrap()],
    );
    o.resolver = Some(Arc::new(resolver));
    let server = Server::socks5(o.clone(), local(), None).unwrap();
    let (s, code) = socks_connect(server.local_addr(), None, &name_request("server.test", 80));
    assert_eq!(code, 0);
    echo_check(s);
    assert_eq!(
        socks_connect(server.local_addr(), None, &name_request("nowhere.test", 80)).1,
        0x04
    );
    let http = Server::http(o, local(), None).unwrap();
    let mut s = TcpStream::connect(http.local_addr()).unwrap();
    s.write_all(b"CONNECT server.test:80 HTTP/1.1\r\n\r\n")
        .unwrap();
    assert!(http_head(&mut s).starts_with("HTTP/1.1 200 "));
    echo_check(s);
}

#[test]
fn clients_beyond_the_handshake_limit_wait_for_a_slot() {
    let (a, _b, _echo) = common::linked_with_echo("limit");
    let mut o = opts(&a, false);
    o.max_handshakes = 2;
    let server = Server::socks5(o, local(), None).unwrap();
    let idle: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(server.local_addr()).unwrap())
        .collect();
    // Accepts are taken in order, so the third is counted after the two idle ones: it waits, unanswered.
    let mut third = TcpStream::connect(server.local_addr()).unwrap();
    third.write_all(&[5, 1, 0]).unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut reply = [0u8; 2];
    assert!(
        third.read_exact(&mut reply).is_err(),
        "served beyond the limit"
    );
    // Once the idle ones are gone, it is served, not closed.
    drop(idle);
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    third.read_exact(&mut reply).unwrap();
    assert_eq!(reply, [5, 0]);
    drop(third);
    let (s, code) = socks_connect(server.local_addr(), None, &v4_request([10, 0, 0, 2], 80));
    assert_eq!(code, 0);
    echo_check(s);
}

#[test]
fn a_client_dripping_its_handshake_is_dropped_at_the_handshake_timeout() {
    let (a, _b, _echo) = common::linked_with_echo("drip");
    let mut o = opts(&a, false);
    o.handshake_timeout = Duration::from_millis(600);
    let server = Server::socks5(o, local(), None).unwrap();
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    let start = std::time::Instant::now();
    s.write_all(&[5, 1, 0]).unwrap();
    // A byte of a domain request every 100 ms: each read is quick, the message never completes.
    let mut request = vec![5, 1, 0, 3, 255];
    request.extend_from_slice(&[b'a'; 255]);
    let dripping = s.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut w = dripping;
        for b in request {
            if w.write_all(&[b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reply = [0u8; 2];
    s.read_exact(&mut reply).unwrap();
    assert_eq!(reply, [5, 0]);
    assert!(closed(&mut s));
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn udp_forward_round_trips_per_client() {
    let (a, b, _echo) = common::linked_with_echo("udp");
    let echo = b.stack().bind_udp("10.0.0.2:7".parse().unwrap()).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = echo.recv_from_timeout(&mut buf, Duration::from_secs(20)) {
            let mut reply = b"echo:".to_vec();
            reply.extend_from_slice(&buf[..n]);
            echo.send_to(&reply, from).unwrap();
        }
    });
    let fwd = wiretun_proxy::udp::UdpForward::start(
        &opts(&a, false),
        local(),
        "10.0.0.2:7".parse().unwrap(),
    )
    .unwrap();
    for name in ["one", "two"] {
        let c = std::net::UdpSocket::bind(local()).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut buf = [0u8; 64];
        // The first datagrams may go out before the handshake completes; ask again until answered.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let n = loop {
            c.send_to(name.as_bytes(), fwd.local_addr()).unwrap();
            if let Ok((n, _)) = c.recv_from(&mut buf) {
                break n;
            }
            assert!(std::time::Instant::now() < deadline, "no UDP answer");
        };
        assert_eq!(&buf[..n], format!("echo:{name}").as_bytes());
    }
}
