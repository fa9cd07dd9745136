//! Two `tcp2` connections over a simulated path (one-way delay, a bottleneck with a drop-tail queue,
//! random loss each way), driven by simulated time: a whole transfer in milliseconds of test time, the
//! same every run (seeded). Checks what the scripts cannot: that the mechanisms together move every byte
//! intact through loss, and how fast compared with the path.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use smoltcp::wire::IpAddress;
use wiretun_netstack::tcp2::cc::{self, CongestionControl};
use wiretun_netstack::tcp2::{Config, Connection, Segment, State};

const MSS: u16 = 1380;

struct Path {
    one_way: Duration,
    /// Bottleneck, bytes per second.
    rate: u64,
    /// Bottleneck queue, bytes.
    queue: u64,
    loss: f64,
}

/// A packet in flight: arrival time, sequence (a tie-breaker keeping FIFO order), destination side, bytes.
type Flight = Reverse<(u64, u64, usize, Vec<u8>)>;

struct Link {
    free_at: [u64; 2],
    heap: BinaryHeap<Flight>,
    n: u64,
    rng: u64,
    dropped: u64,
}

impl Link {
    fn random(&mut self) -> f64 {
        // xorshift64*: deterministic, good enough for drop decisions.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Sends `bytes` from side `from` at `now` (µs).
    fn send(&mut self, path: &Path, now: u64, from: usize, bytes: Vec<u8>) {
        if self.random() < path.loss {
            self.dropped += 1;
            return;
        }
        let start = self.free_at[from].max(now);
        if (start - now) * path.rate / 1_000_000 > path.queue {
            self.dropped += 1;
            return;
        }
        let done = start + bytes.len() as u64 * 1_000_000 / path.rate;
        self.free_at[from] = done;
        self.n += 1;
        let at = done + path.one_way.as_micros() as u64;
        self.heap.push(Reverse((at, self.n, 1 - from, bytes)));
    }
}

fn addrs(side: usize) -> (IpAddress, IpAddress) {
    let (a, b) = (IpAddress::v4(10, 0, 0, 1), IpAddress::v4(10, 0, 0, 2));
    if side == 0 {
        (a, b)
    } else {
        (b, a)
    }
}

fn byte(i: u64) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8
}

/// Moves `total` bytes from side 0 to side 1; returns the simulated time it took and the drops.
fn transfer(kind: cc::Kind, path: &Path, total: u64, seed: u64) -> (Duration, u64) {
    let t0 = Instant::now();
    let mut cfg = Config::new(MSS, 1000);
    cfg.cc = kind;
    cfg.pacing = kind == cc::Kind::Bbr;
    let mut conns = [Some(Connection::connect(cfg.clone(), t0)), None];
    let mut link = Link {
        free_at: [0; 2],
        heap: BinaryHeap::new(),
        n: 0,
        rng: seed * 2 + 1,
        dropped: 0,
    };
    let (mut written, mut read) = (0u64, 0u64);
    let mut now = 0u64;
    let mut payload = vec![0u8; 2048];
    let mut wire = vec![0u8; 2048];
    let mut chunk = vec![0u8; 256 << 10];
    let mut closed = false;
    let mut last_trace = u64::MAX;
    for iter in 0..50_000_000u64 {
        let t = t0 + Duration::from_micros(now);
        if std::env::var("TCP2_TRACE").is_ok() && now / 50_000 != last_trace {
            last_trace = now / 50_000;
            if let Some(c) = &conns[0] {
                let s = c.sender();
                eprintln!(
                    "t={}ms cwnd={} rate={:?} inflight={} unsent={} rec={} read={read}",
                    now / 1000,
                    s.cc.cwnd(),
                    s.cc.pacing_rate(None),
                    s.q.in_flight(),
                    s.q.unsent(),
                    s.in_recovery()
                );
            }
        }
        // Applications: side 0 writes the pattern, then closes; side 1 reads and checks it.
        if let Some(c) = conns[0].as_mut() {
            if c.state() == State::Established && written < total {
                let n = (total - written)
                    .min(chunk.len() as u64)
                    .min(c.send_space() as u64) as usize;
                for (k, b) in chunk[..n].iter_mut().enumerate() {
                    *b = byte(written + k as u64);
                }
                written += c.send(&chunk[..n]) as u64;
            }
            if written == total && !closed {
                c.close();
                closed = true;
            }
        }
        if let Some(c) = conns[1].as_mut() {
            loop {
                let n = c.recv(&mut chunk);
                if n == 0 {
                    break;
                }
                for (k, b) in chunk[..n].iter().enumerate() {
                    assert_eq!(
                        *b,
                        byte(read + k as u64),
                        "byte {} corrupted",
                        read + k as u64
                    );
                }
                read += n as u64;
            }
            if c.at_eof() {
                assert_eq!(read, total);
                if std::env::var("TCP2_TRACE").is_ok() {
                    eprintln!("{iter} iterations");
                }
                return (Duration::from_micros(now), link.dropped);
            }
        }
        for (side, slot) in conns.iter_mut().enumerate() {
            let Some(c) = slot.as_mut() else {
                continue;
            };
            while let Some(seg) = c.poll_transmit(t, &mut payload) {
                let (s, d) = addrs(side);
                let n = seg.emit(
                    (1000 + side as u16, 1001 - side as u16),
                    (s, d),
                    &payload[..seg.len as usize],
                    &mut wire,
                );
                link.send(path, now, side, wire[..n].to_vec());
            }
        }
        let next_conn = conns
            .iter()
            .flatten()
            .filter_map(|c| c.poll_at())
            .map(|at| at.saturating_duration_since(t0).as_micros() as u64)
            .min();
        let next_packet = link.heap.peek().map(|Reverse((at, ..))| *at);
        let next = [next_conn, next_packet]
            .into_iter()
            .flatten()
            .min()
            .expect("the transfer stalled");
        // A deadline already due was just served: time moves on by at least a microsecond.
        now = next.max(now + 1);
        let t = t0 + Duration::from_micros(now);
        while link.heap.peek().is_some_and(|Reverse((at, ..))| *at <= now) {
            let Reverse((_, _, to, bytes)) = link.heap.pop().unwrap();
            let (s, d) = addrs(1 - to);
            let (_, _, seg, data) = Segment::parse(&bytes, s, d, true).expect("parses");
            match conns[to].as_mut() {
                Some(c) => c.on_segment(t, &seg, data),
                None => {
                    conns[to] = Connection::accept(
                        Config {
                            iss: 7,
                            ..cfg.clone()
                        },
                        &seg,
                        t,
                    )
                }
            }
        }
    }
    panic!("no end after the step limit: {read} of {total} bytes read");
}

fn path(rtt_ms: u64, loss: f64) -> Path {
    Path {
        one_way: Duration::from_millis(rtt_ms / 2),
        rate: 100_000_000 / 8,
        // A bandwidth-delay product of queue.
        queue: 100_000_000 / 8 * rtt_ms / 1000,
        loss,
    }
}

fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 * 8.0 / d.as_secs_f64() / 1e6
}

#[test]
fn lossless_path_runs_near_the_bottleneck() {
    let total = 8 << 20;
    for kind in [cc::Kind::Bbr, cc::Kind::Cubic] {
        let (d, _) = transfer(kind, &path(50, 0.0), total, 1);
        let rate = mbps(total, d);
        eprintln!("{kind:?} lossless 50 ms: {rate:.1} Mb/s");
        assert!(rate > 40.0, "{kind:?}: {rate:.1} Mb/s of 100");
    }
}

#[test]
fn one_percent_loss_bbr_keeps_its_rate_and_cubic_does_not() {
    let total = 4 << 20;
    let (bbr, dropped) = transfer(cc::Kind::Bbr, &path(50, 0.01), total, 7);
    let (cubic, _) = transfer(cc::Kind::Cubic, &path(50, 0.01), total, 7);
    let (bbr, cubic) = (mbps(total, bbr), mbps(total, cubic));
    eprintln!("1% loss, 50 ms: BBR {bbr:.1} Mb/s, CUBIC {cubic:.1} Mb/s ({dropped} dropped)");
    assert!(dropped > 20, "the path did drop packets");
    assert!(bbr > 30.0, "BBR at 1% loss: {bbr:.1} Mb/s");
    assert!(bbr > 2.0 * cubic, "BBR {bbr:.1} vs CUBIC {cubic:.1}");
}

#[test]
fn heavy_loss_both_ways_still_delivers_everything() {
    let total = 1 << 20;
    let seeds = std::env::var("TCP2_SEED").map_or(1..4, |s| {
        let s: u64 = s.parse().unwrap();
        s..s + 1
    });
    for seed in seeds {
        for kind in [cc::Kind::Bbr, cc::Kind::Cubic] {
            let (d, dropped) = transfer(kind, &path(20, 0.05), total, seed);
            eprintln!(
                "{kind:?} 5% loss seed {seed}: {:.1} Mb/s, {dropped} dropped",
                mbps(total, d)
            );
        }
    }
}

/// The other settings: 150 ms at 1% and 50 ms at 3% (both ways). The rate-based controller keeps
/// most of the path; the loss-based one is held near Mathis' bound.
#[test]
fn longer_rtt_and_heavier_loss() {
    let total = 4 << 20;
    for (rtt, loss) in [(150, 0.01), (50, 0.03)] {
        let (bbr, _) = transfer(cc::Kind::Bbr, &path(rtt, loss), total, 3);
        let (cubic, _) = transfer(cc::Kind::Cubic, &path(rtt, loss), total, 3);
        let (bbr, cubic) = (mbps(total, bbr), mbps(total, cubic));
        eprintln!(
            "{rtt} ms, {}% loss: BBR {bbr:.1} Mb/s, CUBIC {cubic:.1}",
            loss * 100.0
        );
        assert!(bbr > 3.0 * cubic, "BBR {bbr:.1} vs CUBIC {cubic:.1}");
    }
}
