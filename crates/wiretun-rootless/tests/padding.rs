//! WireGuard's padding as it leaves the rootless send path: two rootless devices talk through a UDP relay on
//! 127.0.0.1 that records the length of every data message it forwards. Inner packets of every size from 28
//! to 148 bytes and near the MTU, over IPv4 and IPv6, each way: every data message must carry a plaintext of
//! a multiple of 16 bytes, or exactly the MTU, and every echo must come back unchanged (the receiver trims
//! the padding by the IP header's length). No root, no TUN.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use wiretun_core::keys::{generate_private_key, public_key};
use wiretun_core::PeerUpdate;
use wiretun_netstack::StackConfig;
use wiretun_rootless::Rootless;

const WAIT: Duration = Duration::from_secs(10);
const MTU: usize = 1420;
/// WireGuard's data message: 16 bytes of header before the ciphertext, a 16-byte tag after it.
const DATA_OVERHEAD: usize = 32;

/// Forwards datagrams between two local ports, noting the length of each data message (type 4).
struct Relay {
    addr: SocketAddr,
    data_lengths: Arc<Mutex<Vec<usize>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    fn new(a_port: u16, b_port: u16) -> Relay {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let (data_lengths, stop) = (
            Arc::new(Mutex::new(Vec::new())),
            Arc::new(AtomicBool::new(false)),
        );
        let (lengths, stopped) = (data_lengths.clone(), stop.clone());
        let addr = sock.local_addr().unwrap();
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while !stopped.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let to = if from.port() == a_port {
                    b_port
                } else {
                    a_port
                };
                if buf[0] == 4 {
                    lengths.lock().unwrap().push(n);
                }
                sock.send_to(&buf[..n], ("127.0.0.1", to)).unwrap();
            }
        });
        Relay {
            addr,
            data_lengths,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn rootless(name: &str, v4: &str, v6: &str) -> Rootless {
    let mut config = StackConfig::new(vec![(v4.parse().unwrap(), 24), (v6.parse().unwrap(), 64)]);
    config.mtu = MTU;
    let r = Rootless::create(name, config).unwrap();
    r.device().set_private_key(Some(generate_private_key()));
    r
}

fn peer_via(a: &Rootless, b: &Rootless, relay: SocketAddr, allowed: &[&str]) {
    let update = PeerUpdate {
        endpoint: Some(relay),
        allowed_ips: allowed.iter().map(|n| n.parse().unwrap()).collect(),
        ..PeerUpdate::default()
    };
    let key = public_key(&b.device().private_key().unwrap());
    a.device().set_peer(key, update).unwrap();
}

/// Payload sizes whose UDP packets are 28-148 bytes (IPv4) and up to the MTU for `header` bytes of headers.
fn sizes(header: usize) -> Vec<usize> {
    (0..=120).chain(MTU - header - 20..=MTU - header).collect()
}

fn echo_every_size(a: &Rootless, b: &Rootless, server: &str, header: usize) {
    let server: SocketAddr = server.parse().unwrap();
    let any: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    }
    .parse()
    .unwrap();
    let echo = b.stack().bind_udp(server).unwrap();
    let count = sizes(header).len();
    let echoing = std::thread::spawn(move || {
        let mut buf = vec![0u8; 2048];
        for _ in 0..count {
            let (n, from) = echo.recv_from_timeout(&mut buf, WAIT).unwrap();
            echo.send_to(&buf[..n], from).unwrap();
        }
    });
    let client = a.stack().bind_udp(any).unwrap();
    let mut buf = vec![0u8; 2048];
    for size in sizes(header) {
        let payload: Vec<u8> = (0..size).map(|i| (i * 7 + size) as u8).collect();
        client.send_to(&payload, server).unwrap();
        let (n, _) = client.recv_from_timeout(&mut buf, WAIT).unwrap();
        assert_eq!(&buf[..n], &payload[..], "echo of {size} bytes to {server}");
    }
    echoing.join().unwrap();
}

#[test]
fn every_data_message_is_padded_to_sixteen_or_the_mtu() {
    let a = rootless("pad-a", "10.0.0.1", "fd00::1");
    let b = rootless("pad-b", "10.0.0.2", "fd00::2");
    let relay = Relay::new(a.device().listen_port(), b.device().listen_port());
    peer_via(&a, &b, relay.addr, &["10.0.0.2/32", "fd00::2/128"]);
    peer_via(&b, &a, relay.addr, &["10.0.0.1/32", "fd00::1/128"]);
    echo_every_size(&a, &b, "10.0.0.2:7", 28);
    echo_every_size(&a, &b, "[fd00::2]:7", 48);
    let lengths = relay.data_lengths.lock().unwrap().clone();
    assert!(
        lengths.len() >= 2 * (sizes(28).len() + sizes(48).len()),
        "{} data messages",
        lengths.len()
    );
    let unpadded: Vec<usize> = lengths
        .iter()
        .map(|n| n - DATA_OVERHEAD)
        .filter(|plain| plain % 16 != 0 && *plain != MTU)
        .collect();
    assert!(
        unpadded.is_empty(),
        "plaintexts neither a multiple of 16 nor the MTU: {unpadded:?}"
    );
    assert!(
        lengths.contains(&(MTU + DATA_OVERHEAD)),
        "a packet of exactly the MTU stays at the MTU"
    );
}
