//! Two stacks back to back in this process: single-stream throughput each way through socketpair splices,
//! then memory per idle connection with many open.
//!
//! `cargo run --release -p wiretun-netstack --example netstack_bench -- [SECONDS] [CONNS] [LOSS%] [DELAY_MS]`
//! (defaults 5, 1000, 0, 0). With a loss rate or a one-way delay, the link between the stacks drops packets
//! at random and delays each by that much (a thread per direction), for long-path numbers; the idle-memory
//! part is skipped then.
//! The numbers include everything a spliced connection costs in this process: both stacks' sockets and
//! rings, and the splice state; the kernel's socket buffers are not in RSS.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use wiretun_netstack::{Stack, TcpConn};

// The tests' back-to-back harness: two stacks joined by a link that may drop and delay.
#[path = "../tests/common/mod.rs"]
mod common;
use common::{app as stream, Duplex, Link};

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
    fn ping(from: &mut [Box<dyn Duplex>], to: &mut [Box<dyn Duplex>]) {
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
                b1.saturating_sub(b0) as f64 / (1 << 20) as f64,
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
        ..Link::default()
    };
    let common::Pair { a, b, .. } = common::pair_with(link, |_| {});
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
