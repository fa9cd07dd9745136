//! The receive path's order of operations against the kernel's (receive.c) and wireguard-go's
//! (device/receive.go): once a data packet authenticates and its counter is fresh, the endpoint moves, the
//! bytes count and staged packets go out, whatever the allowed-IPs and size checks then decide about
//! delivering it. Nothing moves for a datagram that fails authentication or replays a counter.

use super::setup::outer;
use super::{Input, Scratch, World};
use crate::peer::Peer;
use boringtun::noise::TunnResult;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Where our tunnel address sits; every test packet is addressed to it.
const US: Ipv4Addr = Ipv4Addr::new(10, 0, 9, 1);

fn world() -> World {
    // Setup byte 1: not under handshake load, no UDP GRO.
    World::new(
        &mut Input::new(&[1]),
        Scratch::new(),
        vec![0u8; 65536 + 256],
    )
}

/// Remote r initiates, we answer, r confirms with its keepalive: both sides hold a current session.
fn handshake(w: &mut World, r: usize) -> Arc<Peer> {
    let init = match w.remotes[r]
        .tunn
        .format_handshake_initiation(&mut w.buf, false)
    {
        TunnResult::WriteToNetwork(out) => out.to_vec(),
        _ => panic!("remote {r} made no initiation"),
    };
    w.deliver_real(r, init);
    w.remote_reads(r);
    let peer = w.our_peer(r).expect("a configured peer");
    assert_eq!(peer.endpoint().addr, Some(w.remotes[r].addr));
    peer
}

/// An ICMP-sized IPv4 packet from `src` to us, `payload` bytes after the header, header checksum valid.
fn ipv4(src: Ipv4Addr, payload: usize) -> Vec<u8> {
    let total = (20 + payload) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0x40, 0, 64, 1, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&US.octets());
    let mut sum: u32 = p
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    p[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    p.resize(20 + payload, 0xab);
    p
}

/// Remote r encrypts `inner` and sends it from `from`; returns the datagram.
fn send(w: &mut World, r: usize, from: SocketAddr, inner: &[u8]) -> Vec<u8> {
    w.remotes[r].addr = from;
    let datagram = match w.remotes[r].tunn.encapsulate(inner, &mut w.buf) {
        TunnResult::WriteToNetwork(out) => out.to_vec(),
        _ => panic!("remote {r} has no session"),
    };
    w.deliver_real(r, datagram.clone());
    datagram
}

fn rx(peer: &Peer) -> u64 {
    peer.rx_bytes.load(Ordering::Relaxed)
}

/// Packets that reached the TUN so far, after writing out the pending batch.
fn written(w: &mut World) -> usize {
    w.scratch.tun.flush(&w.host);
    w.host.written.get()
}

#[test]
fn a_packet_from_outside_the_allowed_ips_moves_the_endpoint_and_counts() {
    let mut w = world();
    let peer = handshake(&mut w, 0);
    let other = w.our_peer(1).expect("a configured peer");
    let (rx0, rx_other, delivered) = (rx(&peer), rx(&other), written(&mut w));
    // 10.0.1.5 is remote 1's; 192.168.7.7 nobody's.
    for (src, port) in [
        (Ipv4Addr::new(10, 0, 1, 5), 2),
        (Ipv4Addr::new(192, 168, 7, 7), 7),
    ] {
        let before = rx(&peer);
        let datagram = send(&mut w, 0, outer(port), &ipv4(src, 8));
        assert_eq!(
            peer.endpoint().addr,
            Some(outer(port)),
            "inner source {src}"
        );
        assert_eq!(
            rx(&peer) - before,
            datagram.len() as u64,
            "inner source {src}"
        );
    }
    assert!(rx(&peer) > rx0);
    assert_eq!(
        written(&mut w),
        delivered,
        "a disallowed source reached the TUN"
    );
    assert_eq!(
        rx(&other),
        rx_other,
        "the owner of the inner source was credited"
    );
    assert_eq!(other.endpoint().addr, None);
}

#[test]
fn a_packet_whose_source_a_more_specific_peer_owns_still_moves_its_sender() {
    let mut w = world();
    let peer = handshake(&mut w, 0);
    // 10.0.0.0/25 goes to remote 1; remote 0 keeps the rest of 10.0.0.0/24.
    w.move_route(1, 8);
    let delivered = written(&mut w);
    let datagram = send(&mut w, 0, outer(4), &ipv4(Ipv4Addr::new(10, 0, 0, 5), 8));
    assert_eq!(peer.endpoint().addr, Some(outer(4)));
    assert!(rx(&peer) >= datagram.len() as u64);
    assert_eq!(written(&mut w), delivered);
    // From the part it still owns, it is delivered.
    let allowed = ipv4(Ipv4Addr::new(10, 0, 0, 200), 8);
    w.host.authentic.borrow_mut().insert(allowed.clone(), 1);
    send(&mut w, 0, outer(2), &allowed);
    assert_eq!(written(&mut w), delivered + 1);
}

#[test]
fn a_packet_too_short_to_be_ip_moves_the_endpoint_and_counts() {
    let mut w = world();
    let peer = handshake(&mut w, 0);
    let delivered = written(&mut w);
    let mut zero_length = ipv4(Ipv4Addr::new(10, 0, 0, 2), 8);
    zero_length[2..4].copy_from_slice(&0u16.to_be_bytes());
    let cases: [(&str, Vec<u8>); 4] = [
        (
            "10 bytes of IPv4 header",
            ipv4(Ipv4Addr::new(10, 0, 0, 2), 0)[..10].to_vec(),
        ),
        ("an IPv4 length field of 0", zero_length),
        ("one byte", vec![0x45]),
        ("IP version 0", vec![0; 40]),
    ];
    for (i, (what, inner)) in cases.iter().enumerate() {
        let from = outer(i as u8 + 1);
        let before = rx(&peer);
        let datagram = send(&mut w, 0, from, inner);
        assert_eq!(peer.endpoint().addr, Some(from), "{what}");
        assert_eq!(rx(&peer) - before, datagram.len() as u64, "{what}");
    }
    assert_eq!(written(&mut w), delivered);
}

#[test]
fn a_keepalive_from_a_new_address_moves_the_endpoint_and_counts_32_bytes() {
    let mut w = world();
    let peer = handshake(&mut w, 0);
    let before = rx(&peer);
    send(&mut w, 0, outer(3), &[]);
    assert_eq!(peer.endpoint().addr, Some(outer(3)));
    assert_eq!(rx(&peer) - before, 32);
}

#[test]
fn forged_or_replayed_data_moves_nothing() {
    let mut w = world();
    let peer = handshake(&mut w, 0);
    let home = w.remotes[0].addr;
    let datagram = send(&mut w, 0, home, &ipv4(Ipv4Addr::new(192, 168, 7, 7), 8));
    let counted = rx(&peer);
    // The same counter again, from elsewhere: the replay check comes before the endpoint.
    w.deliver(Some(0), outer(7), None, &datagram);
    let mut forged = datagram.clone();
    *forged.last_mut().expect("a datagram") ^= 1;
    w.deliver(Some(0), outer(7), None, &forged);
    w.deliver(None, outer(7), None, &forged);
    assert_eq!(peer.endpoint().addr, Some(home));
    assert_eq!(rx(&peer), counted);
}

/// The kernel sends what it staged for a peer as soon as data arrives on a new session. boringtun flushes
/// its queue only when decapsulate answers with a handshake message, and a packet queued before a
/// handshake the peer started then waited for a second handshake (ours, crossing the peer's).
#[test]
fn packets_queued_before_a_handshake_leave_once_the_peer_confirms_it() {
    let mut w = world();
    let peer = w.our_peer(0).expect("a configured peer");
    let inner = ipv4(US, 16);
    {
        let identity = w.host.identity.load();
        let mut tunn = peer.tunn(identity.as_deref());
        let tunn = tunn.as_mut().expect("a key");
        // No session yet: boringtun queues the packet and starts a handshake (lost on the way).
        assert!(matches!(
            tunn.encapsulate(&inner, &mut w.buf),
            TunnResult::WriteToNetwork(_)
        ));
    }
    let init = match w.remotes[0]
        .tunn
        .format_handshake_initiation(&mut w.buf, false)
    {
        TunnResult::WriteToNetwork(out) => out.to_vec(),
        _ => panic!("remote 0 made no initiation"),
    };
    w.deliver_real(0, init);
    // The remote reads only our response (2) and confirms it with a keepalive.
    let queue = std::mem::take(&mut w.remotes[0].queue);
    let response = queue
        .iter()
        .find(|d| d.first() == Some(&2))
        .expect("a response");
    let keepalive = match w.remotes[0].tunn.decapsulate(None, response, &mut w.buf) {
        TunnResult::WriteToNetwork(out) => out.to_vec(),
        _ => panic!("remote 0 did not take our response"),
    };
    w.deliver_real(0, keepalive);
    let mut got = Vec::new();
    for datagram in std::mem::take(&mut w.remotes[0].queue) {
        if let TunnResult::WriteToTunnelV4(p, _) =
            w.remotes[0].tunn.decapsulate(None, &datagram, &mut w.buf)
        {
            got.push(p.to_vec());
        }
    }
    assert_eq!(got, vec![inner]);
}
