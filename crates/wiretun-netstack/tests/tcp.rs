//! TCP between two back-to-back stacks, spliced to OS sockets.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use common::*;
use wiretun_netstack::{errno_name, TcpConn};

/// Dials B:port from A and accepts it on B; returns (A's conn, B's conn).
fn connect(p: &Pair, dst: std::net::SocketAddr) -> (TcpConn, TcpConn) {
    let listener =
        p.b.listen_tcp(std::net::SocketAddr::new(dst.ip(), dst.port()))
            .unwrap();
    let a =
        p.a.dial_tcp_timeout(dst, Duration::from_secs(5))
            .wait()
            .unwrap();
    let b = listener.accept_timeout(Duration::from_secs(5)).unwrap();
    (a, b)
}

#[test]
fn dial_accept_and_exchange() {
    let p = pair();
    let (a, b) = connect(&p, addr(B4, 80));
    assert_eq!(a.peer_addr(), addr(B4, 80));
    assert_eq!(b.local_addr(), addr(B4, 80));
    assert_eq!(b.peer_addr(), a.local_addr());
    assert_eq!(a.local_addr().ip(), A4.parse::<std::net::IpAddr>().unwrap());
    let (done_a, ends_a) = done_channel();
    let (done_b, ends_b) = done_channel();
    let mut app_a = app(a.splice_pair(done_a).unwrap());
    let mut app_b = app(b.splice_pair(done_b).unwrap());
    app_a.write_all(b"hello").unwrap();
    let mut buf = [0u8; 5];
    app_b.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello");
    app_b.write_all(b"world").unwrap();
    app_a.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"world");
    drop((app_a, app_b));
    for ends in [ends_a, ends_b] {
        let end = ends.recv_timeout(Duration::from_secs(5)).unwrap();
        end.result.unwrap();
        assert_eq!((end.to_stack, end.to_os), (5, 5));
    }
}

fn bulk(size: usize, dst: std::net::SocketAddr) {
    let p = pair();
    let (a, b) = connect(&p, dst);
    let (app_a, os_a) = loopback_pair();
    let (app_b, os_b) = loopback_pair();
    let (done_a, ends_a) = done_channel();
    let (done_b, ends_b) = done_channel();
    a.splice(os_a, done_a);
    b.splice(os_b, done_b);
    let (up, down) = (pattern(1, size), pattern(2, size));
    let (hash_up, hash_down) = (hash(&up), hash(&down));
    let started = Instant::now();
    let (a_got, b_got) = transfer(Box::new(app_a), Box::new(app_b), up, down);
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{} MB each way in {secs:.2} s ({:.0} Mb/s each way)",
        size >> 20,
        size as f64 * 8.0 / secs / 1e6
    );
    assert_eq!(
        (b_got.len(), hash(&b_got)),
        (size, hash_up),
        "A to B stream differs"
    );
    assert_eq!(
        (a_got.len(), hash(&a_got)),
        (size, hash_down),
        "B to A stream differs"
    );
    for ends in [ends_a, ends_b] {
        let end = ends.recv_timeout(Duration::from_secs(10)).unwrap();
        end.result.unwrap();
        assert_eq!((end.to_stack, end.to_os), (size as u64, size as u64));
    }
}

#[test]
fn bulk_both_directions_through_loopback_sockets() {
    let mb: usize = std::env::var("NETSTACK_TEST_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    bulk(mb << 20, addr(B4, 5001));
}

#[test]
fn bulk_over_ipv6() {
    bulk(4 << 20, addr(B6, 5002));
}

#[test]
fn half_close_each_way() {
    let p = pair();
    let (a, b) = connect(&p, addr(B4, 81));
    let (done_a, ends_a) = done_channel();
    let (done_b, ends_b) = done_channel();
    let mut app_a = app(a.splice_pair(done_a).unwrap());
    let mut app_b = app(b.splice_pair(done_b).unwrap());
    // A sends a request and half-closes; B sees EOF after it, yet can still answer.
    app_a.write_all(b"request").unwrap();
    app_a.shut_write();
    let mut req = Vec::new();
    app_b.set_timeout(Duration::from_secs(5));
    app_b.read_to_end(&mut req).unwrap();
    assert_eq!(req, b"request");
    assert!(
        ends_b.try_recv().is_err(),
        "one direction closed must not end the splice"
    );
    app_b.write_all(b"response").unwrap();
    app_b.shut_write();
    let mut resp = Vec::new();
    app_a.set_timeout(Duration::from_secs(5));
    app_a.read_to_end(&mut resp).unwrap();
    assert_eq!(resp, b"response");
    for ends in [ends_a, ends_b] {
        ends.recv_timeout(Duration::from_secs(5))
            .unwrap()
            .result
            .unwrap();
    }
}

#[test]
fn rst_to_syn_is_connection_refused() {
    let p = pair();
    let err =
        p.a.dial_tcp_timeout(addr(B4, 9), Duration::from_secs(5))
            .wait()
            .unwrap_err();
    assert_eq!(errno_name(&err), "ECONNREFUSED", "{err}");
    let err =
        p.a.dial_tcp_timeout(addr(B6, 9), Duration::from_secs(5))
            .wait()
            .unwrap_err();
    assert_eq!(errno_name(&err), "ECONNREFUSED", "{err}");
}

#[test]
fn dial_with_nobody_there_times_out() {
    let p = pair();
    let started = Instant::now();
    // B is injected with the SYNs but 10.0.0.99 is not its address: silence.
    let err =
        p.a.dial_tcp_timeout(addr("10.0.0.99", 80), Duration::from_millis(700))
            .wait()
            .unwrap_err();
    assert_eq!(errno_name(&err), "ETIMEDOUT", "{err}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[test]
fn dial_without_route_is_host_unreachable() {
    let p = pair();
    let err = p.a.dial_tcp(addr("10.9.0.1", 80)).wait().unwrap_err();
    assert_eq!(errno_name(&err), "EHOSTUNREACH", "{err}");
    assert_eq!(
        p.a_to_b.sent.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "nothing was sent"
    );
}

#[test]
fn listen_errors() {
    let p = pair();
    let _l = p.b.listen_tcp(addr(B4, 82)).unwrap();
    assert_eq!(
        errno_name(&p.b.listen_tcp(addr(B4, 82)).unwrap_err()),
        "EADDRINUSE"
    );
    assert_eq!(
        errno_name(&p.b.listen_tcp(addr("0.0.0.0", 82)).unwrap_err()),
        "EADDRINUSE"
    );
    assert_eq!(
        errno_name(&p.b.listen_tcp(addr(A4, 83)).unwrap_err()),
        "EADDRNOTAVAIL"
    );
    let any = p.b.listen_tcp(addr("0.0.0.0", 0)).unwrap();
    assert_ne!(any.local_addr().port(), 0);
    drop(_l);
    p.b.listen_tcp(addr(B4, 82))
        .expect("the port is free again once the listener is dropped");
}

/// The OS peer on B resets its TCP connection: A's application sees a reset too, and both splices end with
/// an error.
#[test]
fn os_reset_propagates_through_the_stack() {
    let p = pair();
    let (a, b) = connect(&p, addr(B4, 84));
    let (app_a, os_a) = loopback_pair();
    let (app_b, os_b) = loopback_pair();
    let (done_a, ends_a) = done_channel();
    let (done_b, ends_b) = done_channel();
    a.splice(os_a, done_a);
    b.splice(os_b, done_b);
    let mut app_a = app_a;
    app_a.write_all(b"x").unwrap();
    let mut one = [0u8; 1];
    let mut app_b = app_b;
    app_b.read_exact(&mut one).unwrap();
    // Linger 0: closing sends an RST instead of a FIN.
    socket2::SockRef::from(&app_b)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(app_b);
    let end_b = ends_b.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(errno_name(&end_b.result.unwrap_err()), "ECONNRESET");
    let end_a = ends_a.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(errno_name(&end_a.result.unwrap_err()), "ECONNRESET");
    app_a
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let err = app_a.read(&mut one).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
}

/// Dropping an unspliced connection resets it; the spliced peer's application sees the reset.
#[test]
fn dropped_conn_resets_the_peer() {
    let p = pair();
    let (a, b) = connect(&p, addr(B4, 85));
    let (app_b, os_b) = loopback_pair();
    let (done_b, ends_b) = done_channel();
    b.splice(os_b, done_b);
    drop(a);
    let end = ends_b.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(errno_name(&end.result.unwrap_err()), "ECONNRESET");
    let mut app_b = app_b;
    app_b
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let err = app_b.read(&mut [0u8; 1]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
}

/// Data sent before the splice is delivered, and a slow reader throttles the sender instead of losing data.
#[test]
fn flow_control_with_a_slow_reader() {
    let p = pair_with(Link::default(), |c| {
        c.tcp_rx_buffer = 64 << 10;
        c.tcp_tx_buffer = 64 << 10;
    });
    let (a, b) = connect(&p, addr(B4, 86));
    let (done_a, _ends_a) = done_channel();
    let (done_b, ends_b) = done_channel();
    let mut app_a = app(a.splice_pair(done_a).unwrap());
    let size = 4 << 20;
    let data = pattern(7, size);
    let expect = hash(&data);
    let writer = std::thread::spawn(move || {
        app_a.write_all(&data).unwrap();
        app_a.shut_write();
        app_a
    });
    // Nothing reads B for a while: A's writes must stall (64 KiB windows, socket buffers), not fail.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !writer.is_finished(),
        "4 MiB cannot fit in the buffers of a stalled path"
    );
    let mut app_b = app(b.splice_pair(done_b).unwrap());
    let mut got = Vec::new();
    let mut chunk = vec![0u8; 16 << 10];
    app_b.set_timeout(Duration::from_secs(10));
    loop {
        let n = app_b.read(&mut chunk).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&chunk[..n]);
        if got.len() < 256 << 10 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    assert_eq!((got.len(), hash(&got)), (size, expect));
    drop(writer.join().unwrap());
    drop(app_b);
    ends_b
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .result
        .unwrap();
}

/// A client that sends and closes right after its handshake: the handshake's last ACK, the data and the FIN
/// can reach the listening side in one batch, so the connection is first seen already in CLOSE-WAIT. It must
/// still be accepted with its data (it once waited out the handshake timeout instead), and likewise a dial
/// whose peer answers and closes at once must still succeed.
#[test]
fn connections_closed_right_after_the_handshake_are_still_made() {
    let p = pair_with(
        Link {
            delay: Duration::from_millis(2),
            ..Link::default()
        },
        |_| {},
    );
    let listener = p.b.listen_tcp(addr(B4, 90)).unwrap();
    for round in 0..20 {
        let a =
            p.a.dial_tcp_timeout(addr(B4, 90), Duration::from_secs(5))
                .wait()
                .unwrap();
        let (done_a, _ends_a) = done_channel();
        let mut app_a = app(a.splice_pair(done_a).unwrap());
        app_a.write_all(b"bye").unwrap();
        app_a.shut_write();
        let b = listener
            .accept_timeout(Duration::from_secs(2))
            .unwrap_or_else(|e| panic!("round {round}: not accepted: {e}"));
        let (done_b, _ends_b) = done_channel();
        let mut app_b = app(b.splice_pair(done_b).unwrap());
        app_b.set_timeout(Duration::from_secs(5));
        let mut got = Vec::new();
        app_b.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"bye", "round {round}");
    }
}
