//! UDP sockets, ping, counters and shutdown of back-to-back stacks.

mod common;

use std::time::Duration;

use common::*;
use wiretun_netstack::errno_name;

const T: Duration = Duration::from_secs(5);

fn udp_echo(server: std::net::SocketAddr, client_bind: std::net::SocketAddr, size: usize) {
    let p = pair();
    let srv = p.b.bind_udp(server).unwrap();
    let cli = p.a.bind_udp(client_bind).unwrap();
    assert_ne!(
        cli.local_addr().port(),
        0,
        "port 0 is replaced by the one chosen"
    );
    let msg = pattern(size as u64, size);
    cli.send_to(&msg, server).unwrap();
    let mut buf = vec![0u8; 70_000];
    let (n, from) = srv.recv_from_timeout(&mut buf, T).unwrap();
    assert_eq!(&buf[..n], &msg[..]);
    assert_eq!(from.port(), cli.local_addr().port());
    srv.send_to(&buf[..n], from).unwrap();
    let (n, from) = cli.recv_from_timeout(&mut buf, T).unwrap();
    assert_eq!((&buf[..n], from), (&msg[..], server));
}

#[test]
fn udp_echo_v4() {
    udp_echo(addr(B4, 53), addr("0.0.0.0", 0), 100);
}

#[test]
fn udp_echo_v6() {
    udp_echo(addr(B6, 53), addr("::", 0), 1200);
}

#[test]
fn udp_datagram_larger_than_the_mtu_is_fragmented_and_reassembled() {
    udp_echo(addr(B4, 5353), addr(A4, 40000), 8000);
}

#[test]
fn udp_errors() {
    let p = pair();
    let s = p.b.bind_udp(addr(B4, 53)).unwrap();
    assert_eq!(
        errno_name(&p.b.bind_udp(addr(B4, 53)).unwrap_err()),
        "EADDRINUSE"
    );
    assert_eq!(
        errno_name(&p.b.bind_udp(addr(A4, 54)).unwrap_err()),
        "EADDRNOTAVAIL"
    );
    assert_eq!(
        errno_name(&s.send_to(b"x", addr("10.9.1.1", 53)).unwrap_err()),
        "EHOSTUNREACH"
    );
    assert_eq!(
        errno_name(&s.send_to(&[0u8; 1400], addr(A6, 53)).unwrap_err()),
        "EINVAL",
        "IPv6 is not fragmented"
    );
    assert_eq!(
        errno_name(
            &s.recv_from_timeout(&mut [0u8; 10], Duration::from_millis(50))
                .unwrap_err()
        ),
        "ETIMEDOUT"
    );
    drop(s);
    p.b.bind_udp(addr(B4, 53))
        .expect("the port is free again once the socket is dropped");
}

#[test]
fn ping_v4_and_v6() {
    let p = pair();
    for dst in [B4, B6] {
        let rtt = p.a.ping(dst.parse().unwrap(), T).wait().unwrap();
        assert!(rtt < T, "{dst}: {rtt:?}");
    }
}

#[test]
fn ping_errors() {
    let p = pair();
    let err =
        p.a.ping("10.0.0.99".parse().unwrap(), Duration::from_millis(300))
            .wait()
            .unwrap_err();
    assert_eq!(errno_name(&err), "ETIMEDOUT", "{err}");
    let err = p.a.ping("10.9.0.1".parse().unwrap(), T).wait().unwrap_err();
    assert_eq!(errno_name(&err), "EHOSTUNREACH", "{err}");
}

#[test]
fn counters_count() {
    let p = pair();
    p.a.ping(B4.parse().unwrap(), T).wait().unwrap();
    let (a, b) = (p.a.stats(), p.b.stats());
    assert!(a.tx_packets >= 1 && a.rx_packets >= 1, "{a:?}");
    assert_eq!(
        (a.tx_packets, a.tx_bytes),
        (b.rx_packets, b.rx_bytes),
        "A's output is B's input"
    );
    assert_eq!(a.rx_dropped, 0);
}

#[test]
fn shutdown_aborts_splices_and_refuses_work() {
    let p = pair();
    let listener = p.b.listen_tcp(addr(B4, 80)).unwrap();
    let a = p.a.dial_tcp_timeout(addr(B4, 80), T).wait().unwrap();
    let b = listener.accept_timeout(T).unwrap();
    let (done_a, ends_a) = done_channel();
    let (done_b, ends_b) = done_channel();
    let _app_a = app(a.splice_pair(done_a).unwrap());
    let _app_b = app(b.splice_pair(done_b).unwrap());
    p.a.shutdown();
    let end = ends_a.recv_timeout(T).unwrap();
    assert_eq!(errno_name(&end.result.unwrap_err()), "ECONNABORTED");
    // A's last act was an RST to B.
    let end = ends_b.recv_timeout(T).unwrap();
    assert_eq!(errno_name(&end.result.unwrap_err()), "ECONNRESET");
    let err = p.a.dial_tcp(addr(B4, 80)).wait().unwrap_err();
    assert_eq!(errno_name(&err), "ENOTCONN", "{err}");
    assert_eq!(
        errno_name(&p.a.bind_udp(addr(A4, 0)).unwrap_err()),
        "ENOTCONN"
    );
    p.a.shutdown();
}
