//! Devices without a TUN: two of them on loopback UDP with real handshakes, their inner sides a recorder
//! (what the receive path delivers) and an `Outbound` handle (what the caller sends). No root needed.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use wiretun_core::keys::{generate_private_key, public_key};
use wiretun_core::{Device, DeviceConfig, InnerSink, PeerUpdate};

const WAIT: Duration = Duration::from_secs(10);

/// Every delivered batch, in order.
#[derive(Default)]
struct Recorder {
    batches: Mutex<Vec<Vec<Vec<u8>>>>,
    changed: Condvar,
}

impl InnerSink for Recorder {
    fn deliver(&self, packets: &mut dyn Iterator<Item = &[u8]>) {
        let batch: Vec<Vec<u8>> = packets.map(<[u8]>::to_vec).collect();
        self.batches.lock().unwrap().push(batch);
        self.changed.notify_all();
    }
}

impl Recorder {
    fn packets(&self) -> Vec<Vec<u8>> {
        self.batches
            .lock()
            .unwrap()
            .iter()
            .flatten()
            .cloned()
            .collect()
    }

    /// Waits until `n` packets have been delivered in all; returns them.
    fn wait_for(&self, n: usize) -> Vec<Vec<u8>> {
        let end = Instant::now() + WAIT;
        let mut batches = self.batches.lock().unwrap();
        while batches.iter().map(Vec::len).sum::<usize>() < n {
            let left = end.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "timed out waiting for {n} packets");
            batches = self.changed.wait_timeout(batches, left).unwrap().0;
        }
        batches.iter().flatten().cloned().collect()
    }
}

/// An IPv4 UDP packet from `src` to `dst` carrying `payload` (checksums left zero: nothing here checks).
fn ipv4_udp(src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let total = 28 + payload.len();
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    p[20..22].copy_from_slice(&1000u16.to_be_bytes());
    p[22..24].copy_from_slice(&2000u16.to_be_bytes());
    p[24..26].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p[28..].copy_from_slice(payload);
    p
}

struct Side {
    device: Device,
    sink: Arc<Recorder>,
}

fn side(name: &str) -> Side {
    let sink = Arc::new(Recorder::default());
    let config = DeviceConfig {
        name: name.into(),
        mtu: None,
    };
    let device = Device::create_with_inner(config, sink.clone()).unwrap();
    device.set_private_key(Some(generate_private_key()));
    Side { device, sink }
}

fn peer_with(a: &Side, b: &Side, allowed: &str) {
    let endpoint = SocketAddr::from(([127, 0, 0, 1], b.device.listen_port()));
    let update = PeerUpdate {
        endpoint: Some(endpoint),
        allowed_ips: vec![allowed.parse().unwrap()],
        ..PeerUpdate::default()
    };
    let key = public_key(&b.device.private_key().unwrap());
    a.device.set_peer(key, update).unwrap();
}

/// A (10.0.0.1) and B (10.0.0.2), each the other's peer.
fn pair() -> (Side, Side) {
    let (a, b) = (side("inner-a"), side("inner-b"));
    peer_with(&a, &b, "10.0.0.2/32");
    peer_with(&b, &a, "10.0.0.1/32");
    (a, b)
}

const A: [u8; 4] = [10, 0, 0, 1];
const B: [u8; 4] = [10, 0, 0, 2];

#[test]
fn outbound_packets_reach_the_other_sink_in_order() {
    let (a, b) = pair();
    let out = a.device.outbound();
    // The first packet waits for the handshake it starts, then leaves on the new session.
    let first = ipv4_udp(A, B, b"first");
    out.send(&mut std::iter::once(&mut first.clone()));
    assert_eq!(b.sink.wait_for(1), vec![first.clone()]);
    // A batch of equal-sized packets: one GSO send, delivered in order.
    let burst: Vec<Vec<u8>> = (0..100u32)
        .map(|i| ipv4_udp(A, B, &i.to_be_bytes()))
        .collect();
    let mut sent = burst.clone();
    out.send(&mut sent.iter_mut());
    assert_eq!(sent, burst, "padding is cut off again after the send");
    // Each packet was padded to a multiple of 16 for encryption; the receiver trimmed it back.
    let got = b.sink.wait_for(101);
    assert_eq!(&got[1..], &burst[..]);
    // And back: B's outbound reaches A's sink.
    let reply = ipv4_udp(B, A, b"reply");
    b.device
        .outbound()
        .send(&mut std::iter::once(&mut reply.clone()));
    assert_eq!(a.sink.wait_for(1), vec![reply]);
}

#[test]
fn has_route_follows_allowed_ips() {
    let (a, _b) = pair();
    let inside: IpAddr = "10.0.0.2".parse().unwrap();
    let outside: IpAddr = "10.0.0.3".parse().unwrap();
    assert!(a.device.has_route(inside));
    assert!(a.device.outbound().has_route(inside));
    assert!(!a.device.has_route(outside));
    assert!(!a.device.outbound().has_route("fd00::2".parse().unwrap()));
}

#[test]
fn sources_outside_the_peers_allowed_ips_are_not_delivered() {
    let (a, b) = pair();
    let out = a.device.outbound();
    let good = ipv4_udp(A, B, b"good");
    out.send(&mut std::iter::once(&mut good.clone()));
    b.sink.wait_for(1);
    // A spoofed source (A may only send from 10.0.0.1) and then a good packet: only the good one arrives.
    let spoofed = ipv4_udp([10, 0, 0, 9], B, b"spoofed");
    let good2 = ipv4_udp(A, B, b"good2");
    out.send(&mut [spoofed, good2.clone()].iter_mut());
    assert_eq!(b.sink.wait_for(2), vec![good, good2]);
    // Destinations no peer covers are dropped on the way out.
    let nowhere = ipv4_udp(A, [10, 0, 0, 77], b"nowhere");
    out.send(&mut std::iter::once(&mut nowhere.clone()));
    let last = ipv4_udp(A, B, b"last");
    out.send(&mut std::iter::once(&mut last.clone()));
    assert_eq!(b.sink.wait_for(3).last(), Some(&last));
    assert_eq!(b.sink.packets().len(), 3);
}

#[test]
fn a_closed_device_sends_nothing_and_has_no_threads_blocking_drop() {
    let (a, b) = pair();
    let out = a.device.outbound();
    a.device.close();
    assert!(!out.is_running());
    let p = ipv4_udp(A, B, b"after close");
    out.send(&mut std::iter::once(&mut p.clone()));
    std::thread::sleep(Duration::from_millis(300));
    assert!(b.sink.packets().is_empty());
    // The handle outlives the device without keeping its threads.
    drop(a);
    drop(out);
}

#[test]
fn a_low_order_peer_is_listed_but_never_sent_anything() {
    let a = side("inner-low");
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let control = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    control.set_read_timeout(Some(WAIT)).unwrap();
    let to = |s: &std::net::UdpSocket| PeerUpdate {
        endpoint: Some(s.local_addr().unwrap()),
        persistent_keepalive: Some(1),
        allowed_ips: vec![],
        ..PeerUpdate::default()
    };
    let mut one = [0u8; 32];
    one[0] = 1; // the point of order 1
    assert!(a.device.set_peer(one, to(&silent)).unwrap());
    let genuine = public_key(&generate_private_key());
    assert!(a.device.set_peer(genuine, to(&control)).unwrap());
    assert_eq!(a.device.peers().len(), 2);
    // The genuine peer gets its initiation at once; in the same time plus a keepalive interval and more,
    // the low-order one gets nothing.
    let mut buf = [0u8; 256];
    assert_eq!(control.recv(&mut buf).unwrap(), 148);
    silent
        .set_read_timeout(Some(Duration::from_millis(2000)))
        .unwrap();
    assert!(
        silent.recv(&mut buf).is_err(),
        "a datagram to a low-order peer"
    );
}

/// What a gateway sends over UAPI when the location's address moves to it (ts/gateway/takeover.ts): the
/// client's endpoint, and keepalive turned off, on and off again. Turning keepalive on must send at once, and
/// with no session that send is a handshake initiation, which completes with a peer that never sent this
/// device anything. Keepalive ends at 0, so nothing but that immediate send can have started the handshake.
#[test]
fn turning_keepalive_on_makes_a_device_without_a_session_initiate_at_once() {
    let (a, b) = (side("inner-ka-a"), side("inner-ka-b"));
    let a_key = public_key(&a.device.private_key().unwrap());
    let b_key = public_key(&b.device.private_key().unwrap());
    let only = |net: &str| PeerUpdate {
        allowed_ips: vec![net.parse().unwrap()],
        ..PeerUpdate::default()
    };
    // Neither knows where the other is: B is a client whose server moved, A the gateway it moved to.
    b.device.set_peer(a_key, only("10.0.0.1/32")).unwrap();
    a.device.set_peer(b_key, only("10.0.0.2/32")).unwrap();
    let hex: String = b_key.iter().map(|x| format!("{x:02x}")).collect();
    let block = format!("public_key={hex}\nupdate_only=true\n");
    let port = b.device.listen_port();
    let request = format!(
        "set=1\n{block}endpoint=127.0.0.1:{port}\npersistent_keepalive_interval=0\n\
         {block}persistent_keepalive_interval=1\n{block}persistent_keepalive_interval=0\n\n"
    );
    let change = wiretun_core::uapi::parse_set_request(&request).unwrap();
    wiretun_core::uapi::apply(&a.device, &change).unwrap();
    let end = Instant::now() + WAIT;
    while a.device.peers()[0].last_handshake.is_none()
        || b.device.peers()[0].last_handshake.is_none()
    {
        assert!(
            Instant::now() < end,
            "no handshake after the takeover's set"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(a.device.peers()[0].persistent_keepalive, 0);
    let learned = b.device.peers()[0].endpoint.unwrap();
    assert_eq!(
        learned.port(),
        a.device.listen_port(),
        "B learned A's address from the initiation"
    );
}
