//! Two stacks wired back to back in this process: what one emits, the other is injected with, optionally
//! through a lossy, delaying link.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use wiretun_netstack::{PacketSink, SpliceEnd, Stack, StackConfig};

pub const A4: &str = "10.0.0.1";
pub const B4: &str = "10.0.0.2";
pub const A6: &str = "fd00::1";
pub const B6: &str = "fd00::2";

/// How the link between the two stacks misbehaves.
#[derive(Clone, Copy, Default)]
pub struct Link {
    /// Drop each packet with this probability (deterministic pseudo-random sequence).
    pub loss: f64,
    /// One-way delay.
    pub delay: Duration,
    /// Cut every packet longer than this into IP fragments, sent last first.
    pub fragment: Option<usize>,
}

/// A packet and when the delay line delivers it.
type Delayed = (Instant, Vec<u8>);

/// One direction of the link: the sink of one stack, injecting into the other.
pub struct Wire {
    to: OnceLock<Weak<Stack>>,
    link: Link,
    rng: Mutex<u64>,
    delay_line: Mutex<Option<mpsc::Sender<Delayed>>>,
    pub sent: AtomicU64,
    pub dropped: AtomicU64,
}

impl Wire {
    fn new(link: Link, seed: u64) -> Arc<Wire> {
        Arc::new(Wire {
            to: OnceLock::new(),
            link,
            rng: Mutex::new(seed | 1),
            delay_line: Mutex::new(None),
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        })
    }

    fn connect(&self, to: &Arc<Stack>) {
        let _ = self.to.set(Arc::downgrade(to));
        if !self.link.delay.is_zero() {
            let (tx, rx) = mpsc::channel::<Delayed>();
            let to = Arc::downgrade(to);
            // Ends when the sending stack (and with it this wire and the channel) is gone.
            std::thread::spawn(move || delay_line(rx, to));
            *self.delay_line.lock().unwrap() = Some(tx);
        }
    }

    fn lose(&self) -> bool {
        if self.link.loss <= 0.0 {
            return false;
        }
        let mut x = self.rng.lock().unwrap();
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        (*x % 1_000_000) as f64 / 1_000_000.0 < self.link.loss
    }
}

impl PacketSink for Wire {
    fn send(&self, packets: &mut dyn Iterator<Item = &mut Vec<u8>>) {
        let Some(to) = self.to.get().and_then(Weak::upgrade) else {
            return;
        };
        if self.link.loss <= 0.0 && self.link.delay.is_zero() && self.link.fragment.is_none() {
            // A plain link: the batch goes through as it is, with no copy (the benchmark example runs on it).
            let mut counted = packets.map(|p| {
                self.sent.fetch_add(1, Ordering::Relaxed);
                &p[..]
            });
            return to.inject_batch(&mut counted);
        }
        let delay = self.delay_line.lock().unwrap().clone();
        let mut kept = Vec::new();
        let cut: Vec<Vec<u8>> = match self.link.fragment {
            Some(max) => packets.flat_map(|p| fragments(p, max)).collect(),
            None => packets.map(|p| p.clone()).collect(),
        };
        for p in cut.iter().map(|p| &p[..]) {
            self.sent.fetch_add(1, Ordering::Relaxed);
            if self.lose() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            match &delay {
                Some(tx) => drop(tx.send((Instant::now() + self.link.delay, p.to_vec()))),
                None => kept.push(p),
            }
        }
        to.inject_batch(&mut kept.into_iter());
    }

    fn has_route(&self, dst: IpAddr) -> bool {
        // 10.9.0.0/16 stands for "no peer's allowed IPs cover it".
        !matches!(dst, IpAddr::V4(v4) if v4.octets()[..2] == [10, 9])
    }
}

pub struct Pair {
    pub a: Arc<Stack>,
    pub b: Arc<Stack>,
    pub a_to_b: Arc<Wire>,
    pub b_to_a: Arc<Wire>,
}

/// A stack's configuration for these tests. `WIRETUN_TCP_ENGINE=smoltcp` runs them on smoltcp's TCP instead of
/// the default, our own (`npm run test:rust` runs both), so one suite covers both engines.
pub fn config(v4: &str, v6: &str) -> StackConfig {
    let mut c = StackConfig::new(vec![(v4.parse().unwrap(), 24), (v6.parse().unwrap(), 64)]);
    if let Ok(name) = std::env::var("WIRETUN_TCP_ENGINE") {
        c.tcp_engine = wiretun_netstack::TcpEngine::parse(&name).expect("WIRETUN_TCP_ENGINE");
    }
    c
}

pub fn pair() -> Pair {
    pair_with(Link::default(), |_| {})
}

pub fn pair_with(link: Link, tune: impl Fn(&mut StackConfig)) -> Pair {
    let (a_to_b, b_to_a) = (
        Wire::new(link, 0x9e3779b97f4a7c15),
        Wire::new(link, 0xbf58476d1ce4e5b9),
    );
    let (mut ca, mut cb) = (config(A4, A6), config(B4, B6));
    tune(&mut ca);
    tune(&mut cb);
    let a = Arc::new(Stack::new(ca, a_to_b.clone()).unwrap());
    let b = Arc::new(Stack::new(cb, b_to_a.clone()).unwrap());
    a_to_b.connect(&b);
    b_to_a.connect(&a);
    Pair {
        a,
        b,
        a_to_b,
        b_to_a,
    }
}

pub fn addr(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), port)
}

/// A completion that can be waited for.
pub fn done_channel() -> (
    impl FnOnce(SpliceEnd) + Send + 'static,
    mpsc::Receiver<SpliceEnd>,
) {
    let (tx, rx) = mpsc::channel();
    (move |end| drop(tx.send(end)), rx)
}

/// Deterministic test data: `len` bytes of stream `seed` (xorshift64, a word at a time: cheap in debug builds).
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x2545f4914f6cdd1d) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// FNV-1a over 8-byte words: enough to tell a reordered, truncated or corrupted stream from the original.
pub fn hash(data: &[u8]) -> u64 {
    let mut h = 0xcbf29ce484222325u64;
    for chunk in data.chunks(8) {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        h ^= u64::from_le_bytes(w);
        h = h.wrapping_mul(0x100000001b3);
    }
    h ^ data.len() as u64
}

pub fn deadline_loop(timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    ready()
}

/// An application's end of a spliced connection: a loopback TCP stream or a socketpair end.
pub trait Duplex: Read + Write + Send + 'static {
    fn clone_box(&self) -> Box<dyn Duplex>;
    fn shut_write(&self);
    fn set_timeout(&self, d: Duration);
}

impl Duplex for std::net::TcpStream {
    fn clone_box(&self) -> Box<dyn Duplex> {
        Box::new(self.try_clone().unwrap())
    }
    fn shut_write(&self) {
        self.shutdown(std::net::Shutdown::Write).unwrap();
    }
    fn set_timeout(&self, d: Duration) {
        self.set_read_timeout(Some(d)).unwrap();
    }
}

#[cfg(unix)]
impl Duplex for std::os::unix::net::UnixStream {
    fn clone_box(&self) -> Box<dyn Duplex> {
        Box::new(self.try_clone().unwrap())
    }
    fn shut_write(&self) {
        self.shutdown(std::net::Shutdown::Write).unwrap();
    }
    fn set_timeout(&self, d: Duration) {
        self.set_read_timeout(Some(d)).unwrap();
    }
}

pub fn app(os: wiretun_netstack::OsStream) -> Box<dyn Duplex> {
    match os {
        wiretun_netstack::OsStream::Tcp(s) => Box::new(s),
        #[cfg(unix)]
        wiretun_netstack::OsStream::Unix(s) => Box::new(s),
    }
}

/// Two ends of a loopback TCP connection: (the application's, the one to splice).
pub fn loopback_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let app = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (spliced, _) = l.accept().unwrap();
    (app, spliced)
}

/// Both applications write their data and half-close, and read the other's until EOF, concurrently.
/// Returns what A and B received.
pub fn transfer(
    a: Box<dyn Duplex>,
    b: Box<dyn Duplex>,
    a_sends: Vec<u8>,
    b_sends: Vec<u8>,
) -> (Vec<u8>, Vec<u8>) {
    fn writer(mut s: Box<dyn Duplex>, data: Vec<u8>) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            for chunk in data.chunks(256 << 10) {
                s.write_all(chunk).unwrap();
            }
            s.shut_write();
        })
    }
    fn reader(mut s: Box<dyn Duplex>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            s.set_timeout(Duration::from_secs(60));
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap();
            got
        })
    }
    let (wa, wb) = (
        writer(a.clone_box(), a_sends),
        writer(b.clone_box(), b_sends),
    );
    let (ra, rb) = (reader(a), reader(b));
    wa.join().unwrap();
    wb.join().unwrap();
    (ra.join().unwrap(), rb.join().unwrap())
}

/// Delivers each packet once its time has come, a batch per wake-up: sleeping per packet would cap the
/// link at one packet per timer tick (~60 µs here, ~0.2 Gb/s). Ends when the sender or receiver is gone.
pub fn delay_line(rx: mpsc::Receiver<(Instant, Vec<u8>)>, to: Weak<Stack>) {
    let mut due = std::collections::VecDeque::new();
    loop {
        if due.is_empty() {
            match rx.recv() {
                Ok(p) => due.push_back(p),
                Err(_) => return,
            }
        }
        due.extend(rx.try_iter());
        let first = due.front().expect("not empty").0;
        std::thread::sleep(first.saturating_duration_since(Instant::now()));
        due.extend(rx.try_iter());
        let now = Instant::now();
        let Some(to) = to.upgrade() else { return };
        let ready = due.iter().take_while(|(t, _)| *t <= now).count();
        to.inject_batch(
            &mut due
                .drain(..ready)
                .map(|(_, p)| p)
                .collect::<Vec<_>>()
                .iter()
                .map(Vec::as_slice),
        );
    }
}

/// `packet` as IP fragments of at most `max` bytes, last first (a reassembler must take any order), or
/// whole if it fits. IPv6 fragments carry a fragment header after the fixed one.
pub fn fragments(packet: &[u8], max: usize) -> Vec<Vec<u8>> {
    if packet.len() <= max {
        return vec![packet.to_vec()];
    }
    let v6 = packet[0] >> 4 == 6;
    let (hl, next) = if v6 {
        (40, packet[6])
    } else {
        (usize::from(packet[0] & 0xf) * 4, 0)
    };
    let extra = if v6 { 8 } else { 0 };
    let step = (max - hl - extra) / 8 * 8;
    let payload = &packet[hl..];
    static ID: AtomicU64 = AtomicU64::new(1);
    let id = ID.fetch_add(1, Ordering::Relaxed) as u32;
    let mut out = Vec::new();
    for (i, chunk) in payload.chunks(step).enumerate() {
        let offset = i * step;
        let more = offset + chunk.len() < payload.len();
        let mut f = packet[..hl].to_vec();
        if v6 {
            f[6] = 44;
            let field = (offset as u16) | u16::from(more);
            f.extend_from_slice(&[next, 0]);
            f.extend_from_slice(&field.to_be_bytes());
            f.extend_from_slice(&id.to_be_bytes());
            f[4..6].copy_from_slice(&((8 + chunk.len()) as u16).to_be_bytes());
        } else {
            let field = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
            f[4..6].copy_from_slice(&(id as u16).to_be_bytes());
            f[6..8].copy_from_slice(&field.to_be_bytes());
            f[2..4].copy_from_slice(&((hl + chunk.len()) as u16).to_be_bytes());
            f[10..12].copy_from_slice(&[0, 0]);
            let sum = !checksum(&f);
            f[10..12].copy_from_slice(&sum.to_be_bytes());
        }
        f.extend_from_slice(chunk);
        out.push(f);
    }
    out.reverse();
    out
}

/// The Internet checksum's one's-complement sum of `data` (the checksum field takes its complement).
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum::<u32>();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}
