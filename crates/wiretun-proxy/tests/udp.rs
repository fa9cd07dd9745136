//! UDP through the proxies, over two rootless devices in this process: SOCKS5 UDP ASSOCIATE (IPv4, IPv6 and
//! name destinations, auth, what is dropped, the association ending with its control connection) and the
//! UDP forward's inactivity timeout. B runs UDP echoes that say which tunnel port a datagram came from.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wiretun_proxy::socks5::{encode_udp_header, parse_udp_header, Host};
use wiretun_proxy::udp::UdpForward;
use wiretun_proxy::{Credentials, Options, Resolve, Server};

mod common;

struct Names;

impl Resolve for Names {
    fn resolve(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        match name {
            "echo.test" => Ok(vec!["fd00::2".parse().unwrap()]),
            _ => Err(io::Error::new(io::ErrorKind::NotFound, "no such name")),
        }
    }
}

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn alice() -> Option<Credentials> {
    Some(Credentials {
        user: "alice".into(),
        pass: "s3cret".into(),
    })
}

/// Greets with username/password and sends UDP ASSOCIATE; the control connection and the relay address, or
/// the RFC 1929 status when authentication failed.
fn associate(server: SocketAddr, pass: &str) -> Result<(TcpStream, SocketAddr), u8> {
    let mut s = TcpStream::connect(server).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&[5, 1, 2]).unwrap();
    let mut b = [0u8; 2];
    s.read_exact(&mut b).unwrap();
    assert_eq!(b, [5, 2]);
    let mut auth = vec![1, 5];
    auth.extend_from_slice(b"alice");
    auth.push(pass.len() as u8);
    auth.extend_from_slice(pass.as_bytes());
    s.write_all(&auth).unwrap();
    s.read_exact(&mut b).unwrap();
    if b != [1, 0] {
        return Err(b[1]);
    }
    s.write_all(&[5, 3, 0, 1, 0, 0, 0, 0, 0, 0]).unwrap();
    let mut reply = [0u8; 10];
    s.read_exact(&mut reply).unwrap();
    assert_eq!(
        &reply[..4],
        [5, 0, 0, 1],
        "an IPv4 relay address for an IPv4 client"
    );
    let ip = IpAddr::from([reply[4], reply[5], reply[6], reply[7]]);
    Ok((
        s,
        SocketAddr::new(ip, u16::from_be_bytes([reply[8], reply[9]])),
    ))
}

fn wrap(dst: &[u8], payload: &str) -> Vec<u8> {
    let mut d = vec![0, 0, 0];
    d.extend_from_slice(dst);
    d.extend_from_slice(payload.as_bytes());
    d
}

fn v4(ip: [u8; 4], port: u16) -> Vec<u8> {
    let mut a = vec![1];
    a.extend_from_slice(&ip);
    a.extend_from_slice(&port.to_be_bytes());
    a
}

/// Sends `dgram` to `to` until something comes back (the first may go before the handshake is done).
fn exchange(c: &UdpSocket, to: SocketAddr, dgram: &[u8]) -> Vec<u8> {
    c.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 2048];
    loop {
        c.send_to(dgram, to).unwrap();
        if let Ok((n, _)) = c.recv_from(&mut buf) {
            return buf[..n].to_vec();
        }
        assert!(Instant::now() < deadline, "no UDP answer from {to}");
    }
}

/// A datagram through the association: the answer's source and payload.
fn ask(c: &UdpSocket, relay: SocketAddr, dgram: &[u8]) -> (SocketAddr, String) {
    let answer = exchange(c, relay, dgram);
    let h = parse_udp_header(&answer).expect("a SOCKS header on the answer");
    let Host::Ip(ip) = h.host else {
        panic!("answers name their source by address")
    };
    let payload = String::from_utf8_lossy(&answer[h.data_at..]).into_owned();
    (SocketAddr::new(ip, h.port), payload)
}

fn socks5(tag: &str) -> (common::Pair, Server) {
    let (a, b) = common::linked(tag);
    common::udp_echo(&b, "[::]:7");
    let mut o = Options::new(a.stack().clone());
    o.resolver = Some(Arc::new(Names));
    let server = Server::socks5(o, local(), alice()).unwrap();
    ((a, b), server)
}

#[test]
fn associate_relays_ipv4_ipv6_and_names() {
    let (_pair, server) = socks5("assoc");
    let (_control, relay) = associate(server.local_addr(), "s3cret").unwrap();
    let c = UdpSocket::bind(local()).unwrap();
    let (from, got) = ask(&c, relay, &wrap(&v4([10, 0, 0, 2], 7), "over v4"));
    assert_eq!(from, "10.0.0.2:7".parse().unwrap());
    assert!(
        got.starts_with("echo:") && got.ends_with(":over v4"),
        "{got}"
    );
    let six = encode_udp_header("[fd00::2]:7".parse().unwrap());
    let (from, got) = ask(&c, relay, &[six, b"over v6".to_vec()].concat());
    assert_eq!(from, "[fd00::2]:7".parse().unwrap());
    assert!(got.ends_with(":over v6"), "{got}");
    let mut name = vec![3, 9];
    name.extend_from_slice(b"echo.test\x00\x07");
    let (from, got) = ask(&c, relay, &wrap(&name, "by name"));
    assert_eq!(from, "[fd00::2]:7".parse().unwrap());
    assert!(got.ends_with(":by name"), "{got}");
}

#[test]
fn associate_drops_fragments_bad_headers_and_strangers() {
    let (_pair, server) = socks5("drops");
    let (_control, relay) = associate(server.local_addr(), "s3cret").unwrap();
    let c = UdpSocket::bind(local()).unwrap();
    ask(&c, relay, &wrap(&v4([10, 0, 0, 2], 7), "first"));
    // Another port of the client's host is not the association's client; nor are fragments or garbage.
    let stranger = UdpSocket::bind(local()).unwrap();
    stranger
        .send_to(&wrap(&v4([10, 0, 0, 2], 7), "stranger"), relay)
        .unwrap();
    let mut frag = wrap(&v4([10, 0, 0, 2], 7), "fragment");
    frag[2] = 1;
    c.send_to(&frag, relay).unwrap();
    c.send_to(b"\x05\x01\x00garbage", relay).unwrap();
    c.send_to(&wrap(&[9, 1, 2], "bad type"), relay).unwrap();
    c.send_to(&wrap(&[3, 0, 0, 7], "empty name"), relay)
        .unwrap();
    c.send_to(&wrap(&[3, 7], "cut short"), relay).unwrap();
    let mut nowhere = vec![3, 12];
    nowhere.extend_from_slice(b"nowhere.test\x00\x07");
    c.send_to(&wrap(&nowhere, "unknown name"), relay).unwrap();
    // Answers up to the next good datagram's are only late ones to the first: none of the above went
    // through (the echoes keep order here).
    let second = wrap(&v4([10, 0, 0, 2], 7), "second");
    loop {
        let (_, got) = ask(&c, relay, &second);
        if got.ends_with(":second") {
            break;
        }
        assert!(got.ends_with(":first"), "{got} went through");
    }
    stranger
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(stranger.recv_from(&mut [0u8; 64]).is_err());
}

#[test]
fn associate_ends_with_its_control_connection() {
    let (_pair, server) = socks5("ends");
    let (control, relay) = associate(server.local_addr(), "s3cret").unwrap();
    let c = UdpSocket::bind(local()).unwrap();
    ask(&c, relay, &wrap(&v4([10, 0, 0, 2], 7), "alive"));
    drop(control);
    // The relay's port is given back once the association is gone.
    let deadline = Instant::now() + Duration::from_secs(5);
    while UdpSocket::bind(relay).is_err() {
        assert!(Instant::now() < deadline, "the relay port stayed bound");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn associate_needs_the_credentials() {
    let (_pair, server) = socks5("auth");
    assert_eq!(associate(server.local_addr(), "wrong").unwrap_err(), 1);
}

/// The tunnel port B's echo saw for a datagram through `fwd` from `c`.
fn tunnel_port(c: &UdpSocket, fwd: SocketAddr) -> String {
    String::from_utf8_lossy(&exchange(c, fwd, b"x")).into_owned()
}

#[test]
fn udp_forward_inactivity_timeout() {
    let (a, b) = common::linked("idle");
    common::udp_echo(&b, "10.0.0.2:7");
    let target = "10.0.0.2:7".parse().unwrap();
    let o = Options::new(a.stack().clone());
    let short =
        UdpForward::start_with(&o, local(), target, Some(Duration::from_millis(300))).unwrap();
    let never = UdpForward::start_with(&o, local(), target, None).unwrap();
    let (c1, c2) = (
        UdpSocket::bind(local()).unwrap(),
        UdpSocket::bind(local()).unwrap(),
    );
    let (s1, n1) = (
        tunnel_port(&c1, short.local_addr()),
        tunnel_port(&c2, never.local_addr()),
    );
    // Quiet for longer than the short timeout: that client's tunnel socket is new, the other one's is not.
    std::thread::sleep(Duration::from_millis(1200));
    assert_ne!(tunnel_port(&c1, short.local_addr()), s1);
    assert_eq!(tunnel_port(&c2, never.local_addr()), n1);
}

#[test]
fn udp_forward_replies_count_as_activity() {
    let (a, b) = common::linked("replies");
    // For each datagram, six answers 100 ms apart, each naming the tunnel port it went to.
    let ticker = b.stack().bind_udp("10.0.0.2:9".parse().unwrap()).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        while let Ok((_, from)) = ticker.recv_from_timeout(&mut buf, Duration::from_secs(30)) {
            for _ in 0..6 {
                let _ = ticker.send_to(format!("tick:{}", from.port()).as_bytes(), from);
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    });
    let o = Options::new(a.stack().clone());
    let target = "10.0.0.2:9".parse().unwrap();
    let fwd =
        UdpForward::start_with(&o, local(), target, Some(Duration::from_millis(300))).unwrap();
    let c = UdpSocket::bind(local()).unwrap();
    let first = tunnel_port(&c, fwd.local_addr());
    // The client stays quiet while the answers keep coming for longer than the timeout.
    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 64];
    for _ in 0..4 {
        let n = c.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], first.as_bytes());
    }
    assert_eq!(tunnel_port(&c, fwd.local_addr()), first);
}

/// Knows echo.test (fd00::2) once its flag is set: a tunnel whose DNS does not answer yet.
struct Later(Arc<std::sync::atomic::AtomicBool>);

impl Resolve for Later {
    fn resolve(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        if self.0.load(std::sync::atomic::Ordering::SeqCst) {
            return Names.resolve(name);
        }
        Err(io::Error::new(io::ErrorKind::NotFound, "no such name"))
    }
}

#[test]
fn udp_forward_resolves_its_target_name_per_client() {
    let (a, b) = common::linked("udpname");
    common::udp_echo(&b, "[fd00::2]:7");
    let known = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut o = Options::new(a.stack().clone());
    o.resolver = Some(Arc::new(Later(known.clone())));
    // Starts although the name does not resolve; the client's datagrams are dropped until it does.
    let fwd = UdpForward::start_to(&o, local(), Host::Name("echo.test".into()), 7, None).unwrap();
    let c = UdpSocket::bind(local()).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    c.send_to(b"early", fwd.local_addr()).unwrap();
    let mut buf = [0u8; 64];
    assert!(
        c.recv_from(&mut buf).is_err(),
        "an answer while the name does not resolve"
    );
    known.store(true, std::sync::atomic::Ordering::SeqCst);
    let answer = exchange(&c, fwd.local_addr(), b"late");
    assert!(
        answer.ends_with(b":late"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}
