//! Two stacks back to back in this process: single-stream throughput each way through socketpair splices,
//! then memory per idle connection with many open.
//!
//! `cargo run --release -p wiretun-netstack --example netstack_bench -- [SECONDS] [CONNS] [LOSS%] [DELAY_MS]`
//! (defaults 5, 1000, 0, 0). With a loss rate or a one-way delay, the link between the stacks drops packets
//! at random and delays each by that much (a thread per direction), for long-path numbers; the idle-memory
//! part is skipped then.
//! The numbers include everything a spliced connection costs in this process: both stacks' sockets and
//! rings, and the splice state; the kernel's socket buffers are not in RSS.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::{mpsc, Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use wiretun_netstack::{OsStream, PacketSink, Stack, StackConfig, TcpConn};

#[derive(Clone, Copy)]
struct Link {
    loss: f64,
    delay: Duration,
}

type Delayed = (Instant, Vec<u8>);

struct Wire {
    to: OnceLock<Weak<Stack>>,
    link: Link,
    rng: Mutex<u64>,
    delayed: Mutex<Option<mpsc::Sender<Delayed>>>,
}

impl Wire {
    fn new(link: Link, seed: u64) -> Arc<Wire> {
        let (to, rng, delayed) = (OnceLock::new(), Mutex::new(seed), Mutex::new(None));
        Arc::new(Wire {
            to,
            link,
            rng,
            delayed,
        })
    }

    fn connect(&self, to: &Arc<Stack>) {
        let _ = self.to.set(Arc::downgrade(to));
        if !self.link.delay.is_zero() {
            let (tx, rx) = mpsc::channel::<Delayed>();
            let to = Arc::downgrade(to);
            std::thread::spawn(move || delay_line(rx, to));
            *self.delayed.lock().unwrap() = Some(tx);
        }
    }

    fn lose(&self) -> bool {
        let mut x = self.rng.lock().unwrap();
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        ((*x % 1_000_000) as f64) < self.link.loss * 1_000_000.0
    }
}

impl PacketSink for Wire {
    fn send(&self, packets: &mut dyn Iterator<Item = &[u8]>) {
        let Some(to) = self.to.get().and_then(Weak::upgrade) else {
            return;
        };
        if self.link.loss == 0.0 && self.link.delay.is_zero() {
            return to.inject_batch(packets);
        }
        let delayed = self.delayed.lock().unwrap().clone();
        for p in packets.filter(|_| !self.lose()) {
            match &delayed {
                Some(tx) => drop(tx.send((Instant::now() + self.link.delay, p.to_vec()))),
                None => to.inject(p),
            }
        }
    }
}

fn stacks(link: Link) -> (Arc<Stack>, Arc<Stack>) {
    let (wa, wb) = (
        Wire::new(link, 0x9e3779b97f4a7c15),
        Wire::new(link, 0xbf58476d1ce4e5b9),
    );
    let cfg = |ip: &str| StackConfig::new(vec![(ip.parse().unwrap(), 24)]);
    let a = Arc::new(Stack::new(cfg("10.0.0.1"), wa.clone()).unwrap());
    let b = Arc::new(Stack::new(cfg("10.0.0.2"), wb.clone()).unwrap());
    wa.connect(&b);
    wb.connect(&a);
    (a, b)
}

fn stream(os: OsStream) -> Box<dyn ReadWrite> {
    match os {
        OsStream::Tcp(s) => Box::new(s),
        #[cfg(unix)]
        OsStream::Unix(s) => Box::new(s),
    }
}

trait ReadWrite: Read + Write + Send {}
impl<T: Read + Write + Send> ReadWrite for T {}

fn connect(a: &Stack, b: &Stack, port: u16) -> (TcpConn, TcpConn) {
    let dst: SocketAddr = ([10, 0, 0, 2], port).into();
    let listener = b.listen_tcp(dst).unwrap();
    let ca = a.dial_tcp(dst).wait().unwrap();
    let cb = listener.accept().unwrap();
    (ca, cb)
}

/// Bytes per second from `from`'s application to `to`'s, for `secs`.
fn throughput(from: TcpConn, to: TcpConn, secs: f64) -> f64 {
    let mut w = stream(from.splice_pair(|_| {}).unwrap());
    let mut r = stream(to.splice_pair(|_| {}).unwrap());
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 256 << 10];
        let mut total = 0u64;
        let mut started = None;
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            // Measured from the first byte: the handshake and slow start count, the thread start does not.
            started.get_or_insert_with(Instant::now);
            total += n as u64;
        }
        total as f64 / started.map_or(1.0, |s| s.elapsed().as_secs_f64())
    });
    let chunk = vec![0x5au8; 256 << 10];
    let end = Instant::now() + Duration::from_secs_f64(secs);
    while Instant::now() < end {
        w.write_all(&chunk).unwrap();
    }
    drop(w);
    reader.join().unwrap()
}

fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

fn idle_rss(a: &Stack, b: &Stack, conns: usize) {
    let dst: SocketAddr = ([10, 0, 0, 2], 9000).into();
    let listener = b.listen_tcp(dst).unwrap();
    let before = rss_bytes();
    let pending: Vec<_> = (0..conns).map(|_| a.dial_tcp(dst)).collect();
    let mut dialed: Vec<_> = pending
        .into_iter()
        .map(|p| stream(p.wait().unwrap().splice_pair(|_| {}).unwrap()))
        .collect();
    let mut accepted: Vec<_> = (0..conns)
        .map(|_| stream(listener.accept().unwrap().splice_pair(|_| {}).unwrap()))
        .collect();
    // One byte each way, so both rings of both ends have been touched: used, now idle, connections. Accepts
    // come in any order, but every accepted end hears from its own dialer.
    fn ping(from: &mut [Box<dyn ReadWrite>], to: &mut [Box<dyn ReadWrite>]) {
        from.iter_mut().for_each(|e| e.write_all(b"x").unwrap());
        to.iter_mut()
            .for_each(|e| e.read_exact(&mut [0u8]).unwrap());
    }
    ping(&mut dialed, &mut accepted);
    ping(&mut accepted, &mut dialed);
    std::thread::sleep(Duration::from_millis(200));
    match (before, rss_bytes()) {
        (Some(b0), Some(b1)) => {
            let per = b1.saturating_sub(b0) as f64 / conns as f64;
            println!(
                "{conns} idle spliced connections: RSS +{:.1} MiB, {:.1} KiB per connection (both ends, {:.1} KiB per \
                 stack socket); reserved ring address space {} MiB per connection",
                (b1 - b0) as f64 / (1 << 20) as f64,
                per / 1024.0,
                per / 2048.0,
                (2 * 2 * wiretun_netstack::DEFAULT_TCP_BUFFER) >> 20
            );
        }
        _ => println!("RSS: not measurable on this OS (no /proc/self/status)"),
    }
    drop((dialed, accepted));
}

fn main() {
    let mut args = std::env::args().skip(1);
    let secs: f64 = args.next().map_or(5.0, |s| s.parse().expect("SECONDS"));
    let conns: usize = args.next().map_or(1000, |s| s.parse().expect("CONNS"));
    let loss: f64 = args.next().map_or(0.0, |s| s.parse().expect("LOSS%"));
    let delay: u64 = args.next().map_or(0, |s| s.parse().expect("DELAY_MS"));
    let link = Link {
        loss: loss / 100.0,
        delay: Duration::from_millis(delay),
    };
    let (a, b) = stacks(link);
    let (ca, cb) = connect(&a, &b, 5001);
    let up = throughput(ca, cb, secs);
    let (ca, cb) = connect(&a, &b, 5002);
    let down = throughput(cb, ca, secs);
    println!(
        "single stream, {secs} s each, MTU {}, {loss}% loss, {} ms RTT: A->B {:.3} Gb/s, B->A {:.3} Gb/s",
        wiretun_netstack::DEFAULT_MTU,
        2 * delay,
        up * 8e-9,
        down * 8e-9
    );
    if loss == 0.0 && delay == 0 {
        idle_rss(&a, &b, conns);
    }
}

/// Delivers each packet once its time has come, a batch per wake-up: sleeping per packet would cap the
/// link at one packet per timer tick (~60 µs here, ~0.2 Gb/s). Ends when the sender or receiver is gone.
fn delay_line(rx: mpsc::Receiver<(Instant, Vec<u8>)>, to: Weak<Stack>) {
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
