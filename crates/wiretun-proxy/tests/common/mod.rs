//! Rootless devices for the proxy tests: WireGuard over 127.0.0.1 UDP with real handshakes, a userspace
//! stack on each side.
#![allow(dead_code)]

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use wiretun_core::keys::{generate_private_key, public_key};
use wiretun_core::PeerUpdate;
use wiretun_netstack::{OsStream, StackConfig};
use wiretun_rootless::Rootless;

pub fn rootless(name: &str, v4: &str, v6: &str) -> Rootless {
    let config = StackConfig::new(vec![(v4.parse().unwrap(), 24), (v6.parse().unwrap(), 64)]);
    let r = Rootless::create(name, config).unwrap();
    r.device().set_private_key(Some(generate_private_key()));
    r
}

/// Makes `b` a peer of `a`, reached at `b`'s loopback port.
pub fn peer(a: &Rootless, b: &Rootless, allowed: &[&str]) {
    let update = PeerUpdate {
        endpoint: Some(SocketAddr::from(([127, 0, 0, 1], b.device().listen_port()))),
        allowed_ips: allowed.iter().map(|n| n.parse().unwrap()).collect(),
        ..PeerUpdate::default()
    };
    let key = public_key(&b.device().private_key().unwrap());
    a.device().set_peer(key, update).unwrap();
}

/// A (10.0.0.1, fd00::1) and B (10.0.0.2, fd00::2), peers of each other.
pub fn linked(tag: &str) -> (Rootless, Rootless) {
    let a = rootless(&format!("px-a-{tag}"), "10.0.0.1", "fd00::1");
    let b = rootless(&format!("px-b-{tag}"), "10.0.0.2", "fd00::2");
    peer(&a, &b, &["10.0.0.2/32", "fd00::2/128"]);
    peer(&b, &a, &["10.0.0.1/32", "fd00::1/128"]);
    (a, b)
}

/// [`linked`], with an echo server on B's port 80 (kept while the listener lives).
pub fn linked_with_echo(tag: &str) -> (Rootless, Rootless, wiretun_netstack::Listener) {
    let (a, b) = linked(tag);
    let echo = echo_on(&b, "[::]:80");
    (a, b, echo)
}

/// A TCP echo server on `b`'s stack at `addr`, kept while the listener lives.
pub fn echo_on(b: &Rootless, addr: &str) -> wiretun_netstack::Listener {
    b.stack()
        .listen_tcp_with(addr.parse().unwrap(), |conn| {
            let os = conn.splice_pair(|_| {}).unwrap();
            std::thread::spawn(move || tcp_echo(os));
        })
        .unwrap()
}

/// A UDP echo on B's stack at `addr` that answers `echo:<sender port>:<payload>`, so a test sees which
/// tunnel socket a datagram came from.
pub fn udp_echo(b: &Rootless, addr: &str) {
    let echo = b.stack().bind_udp(addr.parse().unwrap()).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = echo.recv_from_timeout(&mut buf, Duration::from_secs(30)) {
            let mut reply = format!("echo:{}:", from.port()).into_bytes();
            reply.extend_from_slice(&buf[..n]);
            let _ = echo.send_to(&reply, from);
        }
    });
}

/// Echoes what arrives on a spliced connection's OS end, and passes its end of stream back.
pub fn tcp_echo(os: OsStream) {
    match os {
        #[cfg(unix)]
        OsStream::Unix(mut s) => {
            let mut w = s.try_clone().unwrap();
            let _ = io::copy(&mut s, &mut w);
            let _ = w.shutdown(Shutdown::Write);
        }
        OsStream::Tcp(mut s) => {
            let mut w = s.try_clone().unwrap();
            let _ = io::copy(&mut s, &mut w);
            let _ = w.shutdown(Shutdown::Write);
        }
    }
}

pub type Pair = (Rootless, Rootless);
