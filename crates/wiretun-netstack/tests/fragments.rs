//! TCP carried in IP fragments, both ways, last fragment first: with our own TCP the engine reassembles
//! them for it (smoltcp would take them, find no socket of its own, and answer with an RST).

mod common;

use std::time::Duration;

use common::*;
use wiretun_netstack::TcpEngine;

fn fragmented_transfer(engine: TcpEngine, server: &str) {
    let link = Link {
        fragment: Some(576),
        ..Link::default()
    };
    let p = pair_with(link, |c| c.tcp_engine = engine);
    let listener = p.b.listen_tcp(addr(server, 7100)).unwrap();
    let t = Duration::from_secs(10);
    let a = p.a.dial_tcp_timeout(addr(server, 7100), t).wait().unwrap();
    let b = listener.accept_timeout(t).unwrap();
    let (done_a, ends_a) = done_channel();
    let (done_b, ends_b) = done_channel();
    let (app_a, app_b) = (
        app(a.splice_pair(done_a).unwrap()),
        app(b.splice_pair(done_b).unwrap()),
    );
    let (up, down) = (pattern(21, 512 << 10), pattern(22, 128 << 10));
    let (hash_up, hash_down) = (hash(&up), hash(&down));
    let (a_got, b_got) = transfer(app_a, app_b, up, down);
    assert_eq!((b_got.len(), hash(&b_got)), (512 << 10, hash_up));
    assert_eq!((a_got.len(), hash(&a_got)), (128 << 10, hash_down));
    for ends in [ends_a, ends_b] {
        ends.recv_timeout(t).unwrap().result.unwrap();
    }
}

#[test]
fn tcp2_takes_fragmented_ipv4_segments() {
    fragmented_transfer(TcpEngine::Tcp2, B4);
}

#[test]
fn tcp2_takes_fragmented_ipv6_segments() {
    fragmented_transfer(TcpEngine::Tcp2, B6);
}

/// The same through smoltcp's TCP, which its interface reassembles IPv4 for (not IPv6).
#[test]
fn smoltcp_takes_fragmented_ipv4_segments() {
    fragmented_transfer(TcpEngine::Smoltcp, B4);
}
