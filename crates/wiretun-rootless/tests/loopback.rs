//! Two rootless devices in this process, talking WireGuard over real UDP sockets on 127.0.0.1 with real
//! handshakes: TCP (spliced to socketpairs, with a hash check over a transfer each way), UDP, ping over both
//! IP versions, and the errors a caller sees. No root, no TUN.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use wiretun_core::keys::{generate_private_key, public_key};
use wiretun_core::PeerUpdate;
use wiretun_netstack::{OsStream, StackConfig};
use wiretun_rootless::{errno_name, Rootless};

const WAIT: Duration = Duration::from_secs(10);

fn rootless(name: &str, v4: &str, v6: &str) -> Rootless {
    let config = StackConfig::new(vec![(v4.parse().unwrap(), 24), (v6.parse().unwrap(), 64)]);
    let r = Rootless::create(name, config).unwrap();
    r.device().set_private_key(Some(generate_private_key()));
    r
}

fn peer(a: &Rootless, b: &Rootless, allowed: &[&str]) {
    let update = PeerUpdate {
        endpoint: Some(SocketAddr::from(([127, 0, 0, 1], b.device().listen_port()))),
        allowed_ips: allowed.iter().map(|n| n.parse().unwrap()).collect(),
        ..PeerUpdate::default()
    };
    let key = public_key(&b.device().private_key().unwrap());
    a.device().set_peer(key, update).unwrap();
}

/// A is 10.0.0.1 / fd00::1, B is 10.0.0.2 / fd00::2. A also routes 10.0.0.3, where nobody answers.
fn pair() -> (Rootless, Rootless) {
    let a = rootless("rl-a", "10.0.0.1", "fd00::1");
    let b = rootless("rl-b", "10.0.0.2", "fd00::2");
    peer(&a, &b, &["10.0.0.2/32", "10.0.0.3/32", "fd00::2/128"]);
    peer(&b, &a, &["10.0.0.1/32", "fd00::1/128"]);
    (a, b)
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[cfg(unix)]
type App = std::os::unix::net::UnixStream;
#[cfg(not(unix))]
type App = std::net::TcpStream;

fn app(os: OsStream) -> App {
    match os {
        #[cfg(unix)]
        OsStream::Unix(s) => s,
        #[cfg(not(unix))]
        OsStream::Tcp(s) => s,
        #[allow(unreachable_patterns)]
        other => panic!("unexpected socket {other:?}"),
    }
}

/// FNV-1a: enough to tell a reordered, truncated or corrupted stream from the original.
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

/// Writes `data` and half-closes on one thread, reads to EOF on this one.
fn exchange(mut ours: App, data: Vec<u8>) -> Vec<u8> {
    let mut writer = ours.try_clone().unwrap();
    let w = std::thread::spawn(move || {
        writer.write_all(&data).unwrap();
        writer.shutdown(std::net::Shutdown::Write).unwrap();
    });
    ours.set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut got = Vec::new();
    ours.read_to_end(&mut got).unwrap();
    w.join().unwrap();
    got
}

/// Dials `dst` on B from A, transfers `size` bytes each way at once and checks both streams.
fn tcp_transfer(a: &Rootless, b: &Rootless, dst: SocketAddr, size: usize) {
    let listener = b.stack().listen_tcp(dst).unwrap();
    let conn_a = a.stack().dial_tcp_timeout(dst, WAIT).wait().unwrap();
    let conn_b = listener.accept_timeout(WAIT).unwrap();
    assert_eq!(conn_b.peer_addr(), conn_a.local_addr());
    let (done_a, ends_a) = std::sync::mpsc::channel();
    let (done_b, ends_b) = std::sync::mpsc::channel();
    let app_a = app(conn_a.splice_pair(move |e| drop(done_a.send(e))).unwrap());
    let app_b = app(conn_b.splice_pair(move |e| drop(done_b.send(e))).unwrap());
    let (up, down) = (pattern(1, size), pattern(2, size));
    let (up_hash, down_hash) = (hash(&up), hash(&down));
    let t = std::thread::spawn(move || exchange(app_b, down));
    let a_got = exchange(app_a, up);
    let b_got = t.join().unwrap();
    assert_eq!(
        (b_got.len(), hash(&b_got)),
        (size, up_hash),
        "A to B differs"
    );
    assert_eq!(
        (a_got.len(), hash(&a_got)),
        (size, down_hash),
        "B to A differs"
    );
    for ends in [ends_a, ends_b] {
        let end = ends.recv_timeout(WAIT).unwrap();
        end.result.unwrap();
        assert_eq!((end.to_stack, end.to_os), (size as u64, size as u64));
    }
}

fn megabytes() -> usize {
    std::env::var("ROOTLESS_TEST_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4)
}

#[test]
fn tcp_both_ways_over_ipv4_and_ipv6_with_real_handshakes() {
    let (a, b) = pair();
    tcp_transfer(&a, &b, sa("10.0.0.2:80"), megabytes() << 20);
    tcp_transfer(&a, &b, sa("[fd00::2]:443"), 1 << 20);
    // The device saw a handshake and counted what crossed it.
    let peers = a.device().peers();
    assert!(peers[0].last_handshake.is_some());
    assert!(peers[0].rx_bytes > 1 << 20 && peers[0].tx_bytes > 1 << 20);
}

#[test]
fn udp_echo_and_ping() {
    let (a, b) = pair();
    let server = b.stack().bind_udp(sa("0.0.0.0:53")).unwrap();
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        for _ in 0..2 {
            let (n, from) = server.recv_from_timeout(&mut buf, WAIT).unwrap();
            server.send_to(&buf[..n], from).unwrap();
        }
        // Dropped right after its last send: the reply must still leave (as from a closed OS socket).
    });
    let client = a.stack().bind_udp(sa("0.0.0.0:0")).unwrap();
    let mut buf = [0u8; 2048];
    for (i, msg) in [&b"query one"[..], &[7u8; 1200][..]].iter().enumerate() {
        client.send_to(msg, sa("10.0.0.2:53")).unwrap();
        let (n, from) = client.recv_from_timeout(&mut buf, WAIT).unwrap();
        assert_eq!((&buf[..n], from), (*msg, sa("10.0.0.2:53")), "datagram {i}");
    }
    echo.join().unwrap();
    for dst in ["10.0.0.2", "fd00::2"] {
        let rtt = a.stack().ping(dst.parse().unwrap(), WAIT).wait().unwrap();
        assert!(rtt < WAIT, "{dst}: {rtt:?}");
    }
}

#[test]
fn errors_name_their_errno() {
    let (a, b) = pair();
    // Make sure the session is up, so the refusal below is B's RST and not a lost handshake.
    a.stack()
        .ping("10.0.0.2".parse().unwrap(), WAIT)
        .wait()
        .unwrap();
    let err = a
        .stack()
        .dial_tcp_timeout(sa("10.0.0.2:9"), WAIT)
        .wait()
        .unwrap_err();
    assert_eq!(errno_name(&err), "ECONNREFUSED", "{err}");
    // No peer's allowed IPs cover 10.0.0.99: refused at once, nothing sent.
    let err = a
        .stack()
        .dial_tcp_timeout(sa("10.0.0.99:80"), WAIT)
        .wait()
        .unwrap_err();
    assert_eq!(errno_name(&err), "EHOSTUNREACH", "{err}");
    let unrouted: IpAddr = "10.0.0.99".parse().unwrap();
    let err = a.stack().ping(unrouted, WAIT).wait().unwrap_err();
    assert_eq!(errno_name(&err), "EHOSTUNREACH", "{err}");
    let udp = a.stack().bind_udp(sa("0.0.0.0:0")).unwrap();
    let err = udp.send_to(b"x", sa("10.0.0.99:53")).unwrap_err();
    assert_eq!(errno_name(&err), "EHOSTUNREACH", "{err}");
    // 10.0.0.3 is routed to B, whose stack is not 10.0.0.3: nothing answers.
    let silent = Duration::from_millis(1500);
    let err = a
        .stack()
        .dial_tcp_timeout(sa("10.0.0.3:80"), silent)
        .wait()
        .unwrap_err();
    assert_eq!(errno_name(&err), "ETIMEDOUT", "{err}");
    drop(b);
}

#[test]
fn closing_one_side_resets_its_connections_on_the_other() {
    let (a, b) = pair();
    let listener = b.stack().listen_tcp(sa("10.0.0.2:7")).unwrap();
    let conn_a = a
        .stack()
        .dial_tcp_timeout(sa("10.0.0.2:7"), WAIT)
        .wait()
        .unwrap();
    let _conn_b = listener.accept_timeout(WAIT).unwrap();
    let (done, ends) = std::sync::mpsc::channel();
    let mut app_a = app(conn_a.splice_pair(move |e| drop(done.send(e))).unwrap());
    b.close();
    // B's stack reset the connection on its way down, through B's device, still running then.
    let end = ends.recv_timeout(WAIT).unwrap();
    assert_eq!(errno_name(&end.result.unwrap_err()), "ECONNRESET");
    app_a.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 1];
    assert!(matches!(app_a.read(&mut buf), Ok(0) | Err(_)));
    assert!(!b.device().is_running());
}

#[test]
fn a_datagram_sent_right_before_close_still_leaves_and_the_port_is_free() {
    let (a, b) = pair();
    let server = b.stack().bind_udp(sa("10.0.0.2:5353")).unwrap();
    for round in 0..2u8 {
        let client = a.stack().bind_udp(sa("10.0.0.1:4000")).unwrap();
        client.send_to(&[round; 100], sa("10.0.0.2:5353")).unwrap();
        drop(client);
        let mut buf = [0u8; 200];
        let (n, from) = server.recv_from_timeout(&mut buf, WAIT).unwrap();
        assert_eq!((&buf[..n], from), (&[round; 100][..], sa("10.0.0.1:4000")));
    }
}
