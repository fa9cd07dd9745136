//! Anti-replay window and send order on a real device (real TUN, real UDP), each test in a private network
//! namespace of its own thread, so nothing touches the host's interfaces. Needs root; says so loudly otherwise.
//!
//! The far side of the device is a boringtun `Tunn` the test drives over UDP on loopback: the test is the
//! relay, deciding the exact order in which encrypted datagrams reach the device (holding packets back,
//! duplicating and replaying them), and it reads the counters the device puts on the wire.

use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519::{PublicKey, StaticSecret};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wiretun_core::keys::generate_private_key;
use wiretun_core::{Device, DeviceConfig, PeerUpdate};

/// boringtun 0.7.1's window (noise/session.rs, N_BITS = 16 words of 64 bits). With `next` = highest counter
/// received + 1, a counter c is refused when `c + 1024 < next` or when its bit is already set. So a packet
/// overtaken by 1023 later ones still gets in; overtaken by 1024 it is too old.
const WINDOW: u64 = 1024;
/// Inner packets sent per pacing step: well under the TUN's and the sockets' queues.
const CHUNK: u64 = 128;
const SINK_PORT: u16 = 7777;
const WAIT: Duration = Duration::from_secs(10);

fn root() -> bool {
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    eprintln!("SKIPPED: wiretun-core replay tests need root (network namespace, TUN devices)");
    false
}

/// Moves this test's thread (and every thread and process it starts) into a fresh network namespace.
fn private_netns() {
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(
        rc,
        0,
        "unshare(CLONE_NEWNET): {}",
        std::io::Error::last_os_error()
    );
    ip(&["link", "set", "lo", "up"]);
}

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().expect("running ip");
    assert!(status.success(), "ip {}", args.join(" "));
}

/// A device in this namespace with tunnel address `addr`/24 on its TUN.
fn device(name: &str, addr: &str) -> (Device, StaticSecret) {
    let dev = Device::create(DeviceConfig {
        name: name.into(),
        mtu: None,
    })
    .unwrap();
    let key = generate_private_key();
    dev.set_private_key(Some(key));
    ip(&["address", "add", &format!("{addr}/24"), "dev", name]);
    ip(&["link", "set", name, "up"]);
    (dev, StaticSecret::from(key))
}

/// The far side: a Tunn of our own and the UDP socket it talks through.
struct Far {
    tunn: Tunn,
    sock: UdpSocket,
    public: [u8; 32],
}

impl Far {
    fn new(device_key: &StaticSecret, index: u32) -> Far {
        let secret = StaticSecret::from(generate_private_key());
        let public = PublicKey::from(&secret).to_bytes();
        let tunn = Tunn::new(secret, PublicKey::from(device_key), None, None, index, None);
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        grow_receive_buffer(&sock, 32 << 20);
        sock.set_read_timeout(Some(WAIT)).unwrap();
        Far { tunn, sock, public }
    }

    fn addr(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    fn recv(&self) -> (Vec<u8>, SocketAddr) {
        let mut buf = vec![0u8; 65536];
        let (n, from) = self
            .sock
            .recv_from(&mut buf)
            .expect("a datagram from the device");
        buf.truncate(n);
        (buf, from)
    }

    /// Runs one incoming datagram through our Tunn and sends whatever it answers back.
    fn handle(&mut self, datagram: &[u8], from: SocketAddr) -> Option<Vec<u8>> {
        let mut out = vec![0u8; 65536];
        match self.tunn.decapsulate(Some(from.ip()), datagram, &mut out) {
            TunnResult::WriteToNetwork(reply) => {
                self.sock.send_to(reply, from).unwrap();
                loop {
                    match self.tunn.decapsulate(None, &[], &mut out) {
                        TunnResult::WriteToNetwork(queued) => {
                            self.sock.send_to(queued, from).unwrap()
                        }
                        _ => return None,
                    };
                }
            }
            TunnResult::WriteToTunnelV4(packet, _) => Some(packet.to_vec()),
            // A keepalive, or a datagram our Tunn refuses (the caller counts what it got).
            _ => None,
        }
    }

    fn encrypt(&mut self, packet: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; packet.len() + 148];
        match self.tunn.encapsulate(packet, &mut out) {
            TunnResult::WriteToNetwork(d) => d.to_vec(),
            other => panic!("no session to encrypt with: {other:?}"),
        }
    }
}

fn grow_receive_buffer(sock: &UdpSocket, bytes: libc::c_int) {
    // SO_RCVBUFFORCE (root) goes past rmem_max, so a burst is queued rather than dropped.
    set_int(sock, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, bytes);
}

fn set_int(sock: &UdpSocket, level: libc::c_int, name: libc::c_int, value: libc::c_int) {
    let (ptr, len) = (&value as *const _ as *const libc::c_void, 4);
    let rc = unsafe { libc::setsockopt(sock.as_raw_fd(), level, name, ptr, len) };
    assert_eq!(
        rc,
        0,
        "setsockopt {level}/{name}: {}",
        std::io::Error::last_os_error()
    );
}

/// The WireGuard data message's counter, in clear at bytes 8..16.
fn wire_counter(datagram: &[u8]) -> Option<u64> {
    (datagram.len() >= 32 && datagram[0] == 4)
        .then(|| u64::from_le_bytes(datagram[8..16].try_into().unwrap()))
}

/// An IPv4/UDP packet with correct checksums whose payload starts with `seq`.
fn inner_udp(src: Ipv4Addr, dst: Ipv4Addr, seq: u64, len: usize) -> Vec<u8> {
    let mut payload = vec![0u8; len.max(8)];
    payload[..8].copy_from_slice(&seq.to_be_bytes());
    let udp_len = 8 + payload.len();
    let total = 20 + udp_len;
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[6] = 0x40; // DF
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    let sum = checksum(&[&p[..20]]);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p[20..22].copy_from_slice(&SINK_PORT.to_be_bytes());
    p[22..24].copy_from_slice(&SINK_PORT.to_be_bytes());
    p[24..26].copy_from_slice(&(udp_len as u16).to_be_bytes());
    p[28..].copy_from_slice(&payload);
    let pseudo = [
        &src.octets()[..],
        &dst.octets()[..],
        &[0, 17],
        &(udp_len as u16).to_be_bytes()[..],
    ]
    .concat();
    let sum = match checksum(&[&pseudo, &p[20..]]) {
        0 => 0xffff,
        s => s,
    };
    p[26..28].copy_from_slice(&sum.to_be_bytes());
    p
}

fn checksum(parts: &[&[u8]]) -> u16 {
    let bytes: Vec<u8> = parts.concat();
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0)))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The receiving device behind our relay, with every datagram for counters 1..=pool encrypted in advance
/// (datagram i carries counter i and an inner packet whose payload is i).
struct Relay {
    far: Far,
    device: SocketAddr,
    sink: UdpSocket,
    datagrams: Vec<Vec<u8>>,
    next_fresh: u64,
    delivered: Vec<u64>,
}

impl Relay {
    fn send(&self, counters: &[u64]) {
        for &c in counters {
            self.far
                .sock
                .send_to(&self.datagrams[c as usize], self.device)
                .unwrap();
        }
    }

    /// Reads what reached the TUN (and the socket behind it) up to and including `marker`.
    fn read_until(&mut self, marker: u64) -> Vec<u64> {
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        loop {
            let n = self
                .sink
                .recv(&mut buf)
                .unwrap_or_else(|e| panic!("counter {marker} never arrived ({e}); got {got:?}"));
            assert!(n >= 8, "a packet of ours");
            let seq = u64::from_be_bytes(buf[..8].try_into().unwrap());
            self.delivered.push(seq);
            if seq == marker {
                return got;
            }
            got.push(seq);
        }
    }

    /// Fresh counters `n` in order, paced in chunks; all of them must arrive.
    fn fill(&mut self, n: u64) {
        let last = self.next_fresh + n - 1;
        while self.next_fresh <= last {
            let end = (self.next_fresh + CHUNK - 1).min(last);
            let chunk: Vec<u64> = (self.next_fresh..=end).collect();
            self.send(&chunk);
            let got = self.read_until(end);
            assert_eq!(
                got,
                chunk[..chunk.len() - 1],
                "in-order packets all delivered, in order"
            );
            self.next_fresh = end + 1;
        }
    }

    /// Sends `order`, then a fresh marker; returns what of `order` arrived. The device handles its socket in
    /// order and writes the TUN in order, so once the marker is read, anything else sent before it was too.
    fn step(&mut self, order: &[u64]) -> Vec<u64> {
        let marker = self.next_fresh;
        self.next_fresh += 1;
        self.send(order);
        self.send(&[marker]);
        self.read_until(marker)
    }
}

fn relay_to_new_device(pool: u64) -> (Device, Relay) {
    let (dev, key) = device("wtreplay0", "10.77.0.2");
    let sink = UdpSocket::bind(("10.77.0.2", SINK_PORT)).unwrap();
    grow_receive_buffer(&sink, 8 << 20);
    sink.set_read_timeout(Some(WAIT)).unwrap();
    let mut far = Far::new(&key, 1);
    let update = PeerUpdate {
        allowed_ips: vec!["10.77.0.1/32".parse().unwrap()],
        ..Default::default()
    };
    dev.set_peer(far.public, update).unwrap();
    let device: SocketAddr = ([127, 0, 0, 1], dev.listen_port()).into();

    // We initiate; our Tunn confirms the session with a keepalive (counter 0).
    let mut init = vec![0u8; 148];
    let TunnResult::WriteToNetwork(init) = far.tunn.format_handshake_initiation(&mut init, false)
    else {
        panic!("no initiation");
    };
    far.sock.send_to(init, device).unwrap();
    let (response, from) = far.recv();
    assert_eq!(far.handle(&response, from), None);

    let (src, dst) = (Ipv4Addr::new(10, 77, 0, 1), Ipv4Addr::new(10, 77, 0, 2));
    let mut datagrams = vec![Vec::new()];
    for c in 1..=pool {
        let d = far.encrypt(&inner_udp(src, dst, c, 32));
        assert_eq!(wire_counter(&d), Some(c), "counter {c} is at bytes 8..16");
        datagrams.push(d);
    }
    let relay = Relay {
        far,
        device,
        sink,
        datagrams,
        next_fresh: 1,
        delivered: Vec::new(),
    };
    (dev, relay)
}

#[test]
fn receive_window_edges_reordering_and_replays() {
    if !root() {
        return;
    }
    private_netns();
    let (_dev, mut r) = relay_to_new_device(3 * WINDOW + 600);

    // In-window reordering: a block sent backwards arrives whole.
    let first = r.next_fresh;
    r.next_fresh += 256;
    let backwards: Vec<u64> = (first..first + 256).rev().collect();
    assert_eq!(
        r.step(&backwards),
        backwards,
        "reordered block within the window"
    );

    // A duplicate in flight and an exact replay of something delivered: one copy each time, then none.
    let fresh = r.next_fresh;
    r.next_fresh += 1;
    assert_eq!(
        r.step(&[fresh, fresh]),
        vec![fresh],
        "duplicate delivered once"
    );
    assert_eq!(
        r.step(&[fresh, first]),
        Vec::<u64>::new(),
        "exact replays dropped"
    );

    // A packet held back while `late` later ones pass: the window's edge, from both sides.
    for late in [WINDOW - 1, WINDOW, WINDOW + 1] {
        let held = r.next_fresh;
        r.next_fresh += 1;
        r.fill(late);
        let expect = if late < WINDOW { vec![held] } else { vec![] };
        assert_eq!(
            r.step(&[held]),
            expect,
            "held back behind {late} later packets"
        );
        if late < WINDOW {
            assert_eq!(
                r.step(&[held]),
                Vec::<u64>::new(),
                "replay of the late packet"
            );
        }
    }
    // Far behind the window: a replay of the very first block is too old (and was seen anyway).
    assert_eq!(
        r.step(&[first, first + 1]),
        Vec::<u64>::new(),
        "too-old replays"
    );

    let mut seen = r.delivered.clone();
    seen.sort_unstable();
    let before = seen.len();
    seen.dedup();
    assert_eq!(seen.len(), before, "no counter reached the TUN twice");
}

/// Reads everything the device sends us until `expected` packets came or the line goes quiet; returns the
/// wire counters and, decrypted, the sequence numbers of the inner packets, in arrival order.
fn collect(mut far: Far, expected: u64, received: Arc<AtomicU64>) -> (Vec<u64>, Vec<u64>) {
    far.sock
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let (mut counters, mut seqs) = (Vec::new(), Vec::new());
    let mut buf = vec![0u8; 65536];
    while (seqs.len() as u64) < expected {
        let Ok((n, from)) = far.sock.recv_from(&mut buf) else {
            break;
        };
        let Some(counter) = wire_counter(&buf[..n]) else {
            continue;
        };
        counters.push(counter);
        if let Some(inner) = far.handle(&buf[..n], from) {
            seqs.push(u64::from_be_bytes(inner[28..36].try_into().unwrap()));
            received.fetch_add(1, Ordering::Relaxed);
        }
    }
    (counters, seqs)
}

/// How far back of the highest counter seen so far each datagram arrived, at most.
fn max_displacement(counters: &[u64]) -> u64 {
    let mut highest = 0u64;
    let mut worst = 0;
    for &c in counters {
        worst = worst.max(highest.saturating_sub(c));
        highest = highest.max(c);
    }
    worst
}

#[test]
fn send_path_keeps_a_burst_in_order() {
    if !root() {
        return;
    }
    private_netns();
    const PACKETS: u64 = 5000;
    const SEGMENT: usize = 1000;
    const PER_GSO_SEND: u64 = 40;
    let (dev, key) = device("wtreplay1", "10.78.0.1");
    let mut far = Far::new(&key, 2);
    let update = PeerUpdate {
        endpoint: Some(far.addr()),
        allowed_ips: vec!["10.78.0.2/32".parse().unwrap()],
        ..Default::default()
    };
    dev.set_peer(far.public, update).unwrap();
    assert_eq!(dev.peers()[0].public_key, far.public);
    let app = UdpSocket::bind("10.78.0.1:0").unwrap();
    app.connect(("10.78.0.2", SINK_PORT)).unwrap();

    // The first packet makes the device handshake with us; it follows the initiator's keepalive (counter 0).
    app.send(&[0u8; 8]).unwrap();
    let (init, from) = far.recv();
    assert_eq!(far.handle(&init, from), None, "we answer the initiation");
    let (keepalive, from) = far.recv();
    assert_eq!(wire_counter(&keepalive), Some(0));
    assert_eq!(far.handle(&keepalive, from), None);
    let (first, from) = far.recv();
    assert_eq!(wire_counter(&first), Some(1));
    assert!(
        far.handle(&first, from).is_some(),
        "the queued packet, decrypted"
    );

    let received = Arc::new(AtomicU64::new(0));
    let reader = {
        let received = received.clone();
        std::thread::spawn(move || collect(far, PACKETS, received))
    };
    // Half as single sends, half as UDP_SEGMENT super-packets the TUN hands over whole (split by tun-rs).
    let mut seq = 1;
    while seq <= PACKETS {
        if seq <= PACKETS / 2 {
            app.send(&seq.to_be_bytes().repeat(SEGMENT / 8)).unwrap();
            seq += 1;
        } else {
            let n = PER_GSO_SEND.min(PACKETS + 1 - seq);
            let buf: Vec<u8> = (seq..seq + n)
                .flat_map(|s| s.to_be_bytes().repeat(SEGMENT / 8))
                .collect();
            send_gso(&app, &buf, SEGMENT);
            seq += n;
        }
        // Flow control, so the TUN queue never overflows: at most a few batches in flight.
        let deadline = Instant::now() + Duration::from_secs(2);
        while seq - 1 > received.load(Ordering::Relaxed) + 2 * CHUNK && Instant::now() < deadline {
            std::thread::yield_now();
        }
    }
    let (counters, seqs) = reader.join().unwrap();

    let displacement = max_displacement(&counters);
    let inversions = counters.windows(2).filter(|w| w[1] < w[0]).count();
    eprintln!(
        "send path burst: {} of {PACKETS} packets arrived, {inversions} out of order, max displacement {displacement}",
        seqs.len()
    );
    assert!(
        seqs.len() as u64 >= PACKETS * 99 / 100,
        "lost more than 1%: {} of {PACKETS}",
        seqs.len()
    );
    assert!(
        displacement < WINDOW,
        "reordered by {displacement}, beyond the peer's window"
    );
    assert_eq!(
        inversions, 0,
        "one send thread: datagrams leave in counter order"
    );
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "inner packets leave in the order the TUN gave them"
    );
}

/// One sendmsg with UDP_SEGMENT: the kernel passes `buf` as `segment`-sized datagrams.
fn send_gso(sock: &UdpSocket, buf: &[u8], segment: usize) {
    set_int(
        sock,
        libc::SOL_UDP,
        libc::UDP_SEGMENT,
        segment as libc::c_int,
    );
    sock.send(buf).unwrap();
}
