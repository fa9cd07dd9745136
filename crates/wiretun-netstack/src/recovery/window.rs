//! The congestion window, kept outside smoltcp and applied by lowering the window field of the peer's
//! segments before smoltcp reads them (smoltcp runs with no congestion control of its own, so the
//! advertised window is the only thing that limits what it sends).
//!
//! Why not smoltcp's CUBIC: it cuts the window by 0.7 on every fast retransmit, and on a lossy path every
//! lost segment is its own fast retransmit (smoltcp repairs one hole per round trip, and a partial ACK ends
//! its "recovery"), so k losses in a window cut it by 0.7^k. With 1% random loss at 50 ms that held a stream
//! to 2 Mb/s. Here, in the spirit of TCP Westwood+ (and BBR's window gain): a loss episode (one per window
//! of data, however many holes) sets the window to twice the delivery rate seen over the last rounds times
//! the smallest round trip seen, never more than it was and never below half of it. A random loss on an
//! uncongested path barely changes it (the delivery rate has not dropped); a real queue (round trips well
//! above the minimum) halves it as Reno would. Growth is slow start to the first episode, then Reno's one
//! segment per round trip, counting SACKed bytes as delivered so it goes on while holes wait for repair.
//! Bytes the peer has SACKed are not in flight, so they are added to the window (the "pipe" of RFC 6675)
//! and new data keeps flowing while a hole waits its turn.

use std::time::{Duration, Instant};

use crate::peek::TcpPeek;

const INITIAL_SEGMENTS: u64 = 10;
const MIN_SEGMENTS: u64 = 4;
/// Delivery-rate samples kept (one per round): the largest is the estimate, so one slow round (an app
/// pause, a repair) does not drag it down.
const ROUNDS: usize = 10;
const MAX_WINDOW: u64 = 1 << 30;
/// An RTT sample whose edge was never acknowledged (nothing was sent up to it) is given up after this.
const SAMPLE_EXPIRY: Duration = Duration::from_secs(2);

pub(crate) struct Window {
    mss: u64,
    cwnd: u64,
    ssthresh: u64,
    /// The peer's window-scale shift (0 until its SYN says otherwise, and always for a SYN's own field).
    scale: u8,
    rtt_min: Option<Duration>,
    /// A round-trip sample under way: when the window's right edge was at `.1`.
    sample: Option<(Instant, u32)>,
    /// Bytes cumulatively acknowledged, plus what the SACK blocks report above: a delivery counter.
    acked: u64,
    delivered: u64,
    last_ack: Option<u32>,
    round_start: Option<(Instant, u64)>,
    rates: [u64; ROUNDS],
    next_rate: usize,
    /// The right edge when the current loss episode began; further losses below it are the same episode.
    recover: Option<u32>,
    /// Bytes the window field last allowed above the acknowledgment.
    allowed: u64,
    board: Scoreboard,
}

fn at_or_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) >= 0
}

impl Window {
    pub fn new(mss: u32) -> Window {
        let mss = u64::from(mss.max(536));
        Window {
            mss,
            cwnd: INITIAL_SEGMENTS * mss,
            ssthresh: u64::MAX,
            scale: 0,
            rtt_min: None,
            sample: None,
            acked: 0,
            delivered: 0,
            last_ack: None,
            round_start: None,
            rates: [0; ROUNDS],
            next_rate: 0,
            recover: None,
            allowed: INITIAL_SEGMENTS * mss,
            board: Scoreboard::default(),
        }
    }

    pub fn rtt_sample(&mut self, rtt: Duration) {
        self.rtt_min = Some(self.rtt_min.map_or(rtt, |r| r.min(rtt)));
    }

    /// Accounts for a segment from the peer and returns the window field to hand smoltcp instead of its own.
    pub fn on_segment(&mut self, p: &TcpPeek, now: Instant) -> u16 {
        if p.has_syn() {
            self.scale = p.wscale.unwrap_or(0).min(14);
            return self.field(p.window, 0, 0);
        }
        let Some(ack) = p.ack else { return p.window };
        let advanced = match self.last_ack {
            Some(last) if at_or_after(ack, last) => u64::from(ack.wrapping_sub(last)),
            Some(_) => return self.field(p.window, self.scale, 0), // reordered, an older ACK
            None => 0,
        };
        self.last_ack = Some(ack);
        self.acked += advanced;
        let sacked = self.board.update(ack, &p.sack);
        let before = self.delivered;
        self.delivered = self.delivered.max(self.acked + sacked);
        self.grow(self.delivered - before, ack);
        self.measure(ack, now);
        self.field(p.window, self.scale, sacked)
    }

    /// Bytes the peer holds above its acknowledgment, as far as its SACK blocks have told.
    pub fn sacked(&self) -> u64 {
        self.board.total
    }

    fn grow(&mut self, newly: u64, ack: u32) {
        if let Some(edge) = self.recover {
            if !at_or_after(ack, edge) {
                return; // holding the window through the episode's repairs
            }
            self.recover = None;
        }
        self.cwnd = if self.cwnd < self.ssthresh {
            self.cwnd + newly
        } else {
            self.cwnd + (self.mss * newly).div_ceil(self.cwnd)
        }
        .min(MAX_WINDOW);
    }

    /// Round-trip samples (the time from a right edge being offered to its acknowledgment: an upper bound,
    /// so only their minimum is used) and one delivery-rate sample per round.
    fn measure(&mut self, ack: u32, now: Instant) {
        match self.sample {
            Some((t, edge)) if at_or_after(ack, edge) => {
                self.rtt_sample(now - t);
                self.sample = None;
            }
            Some((t, _)) if now - t > SAMPLE_EXPIRY => self.sample = None,
            Some(_) => {}
            None => self.sample = Some((now, ack.wrapping_add(self.allowed as u32))),
        }
        let round = self
            .rtt_min
            .unwrap_or(Duration::from_millis(100))
            .max(Duration::from_millis(1));
        match self.round_start {
            Some((t, d)) if now - t >= round => {
                let secs = (now - t).as_secs_f64();
                self.rates[self.next_rate] = ((self.delivered - d) as f64 / secs) as u64;
                self.next_rate = (self.next_rate + 1) % ROUNDS;
                self.round_start = Some((now, self.delivered));
            }
            Some(_) => {}
            None => self.round_start = Some((now, self.delivered)),
        }
    }

    /// A loss was detected (a hole at `ack`): the first of an episode sets the window from what the path
    /// delivers; the rest of the episode's holes leave it alone.
    pub fn on_loss(&mut self, ack: u32) {
        if self.recover.is_some_and(|edge| !at_or_after(ack, edge)) {
            return;
        }
        let rate = *self.rates.iter().max().expect("non-empty") as f64;
        let target = match self.rtt_min {
            Some(rtt) if rate > 0.0 => (2.0 * rate * rtt.as_secs_f64()) as u64,
            _ => self.cwnd * 7 / 10,
        };
        self.cwnd = target
            .clamp(self.cwnd / 2, self.cwnd)
            .max(MIN_SEGMENTS * self.mss);
        self.ssthresh = self.cwnd;
        self.recover = Some(
            self.last_ack
                .unwrap_or(ack)
                .wrapping_add(self.allowed as u32),
        );
    }

    /// The peer's window field lowered to the congestion window (plus what it has SACKed); a zero window
    /// stays zero, so smoltcp's zero-window probing still sees it.
    fn field(&mut self, peer: u16, scale: u8, sacked: u64) -> u16 {
        if peer == 0 {
            return 0;
        }
        let peer_bytes = u64::from(peer) << scale;
        let bytes = peer_bytes.min(self.cwnd + sacked);
        self.allowed = bytes;
        (bytes >> scale).clamp(1, u64::from(u16::MAX)) as u16
    }

    #[cfg(test)]
    pub fn cwnd(&self) -> u64 {
        self.cwnd
    }
}

/// Most SACKed ranges remembered; past it the highest are forgotten, which only undercounts (a smaller
/// window, never a larger one).
const RANGES: usize = 32;

/// The SACKed ranges above the acknowledgment, merged across ACKs. A receiver reports three or four blocks
/// per ACK (smoltcp one: the latest), so with several holes open one ACK tells only part of what the peer
/// holds, and a window counting only that would hold new data back until the holes are repaired.
#[derive(Default)]
struct Scoreboard {
    /// Disjoint, in sequence order.
    ranges: Vec<(u32, u32)>,
    total: u64,
    /// The merge's working list, kept so an ACK during recovery allocates nothing.
    scratch: Vec<(i64, i64)>,
}

impl Scoreboard {
    fn update(&mut self, ack: u32, blocks: &[(u32, u32)]) -> u64 {
        let fresh = blocks.iter().filter(|&&(l, r)| l != r);
        if self.ranges.is_empty() && fresh.clone().next().is_none() {
            return 0;
        }
        // Offsets from the acknowledgment, so wrapping sequence numbers sort and compare plainly.
        let off = |x: u32| x.wrapping_sub(ack) as i32 as i64;
        let mut all = std::mem::take(&mut self.scratch);
        all.clear();
        all.extend(
            self.ranges
                .iter()
                .chain(fresh)
                .map(|&(l, r)| (off(l).max(0), off(r)))
                .filter(|&(l, r)| r > l),
        );
        all.sort_unstable();
        self.ranges.clear();
        self.total = 0;
        let mut cur: Option<(i64, i64)> = None;
        for &(l, r) in &all {
            match cur {
                Some((cl, cr)) if l <= cr => cur = Some((cl, cr.max(r))),
                _ => {
                    if let Some(c) = cur.replace((l, r)) {
                        self.push(ack, c);
                    }
                }
            }
        }
        if let Some(c) = cur {
            self.push(ack, c);
        }
        self.scratch = all;
        self.total
    }

    fn push(&mut self, ack: u32, (l, r): (i64, i64)) {
        if self.ranges.len() < RANGES {
            self.ranges
                .push((ack.wrapping_add(l as u32), ack.wrapping_add(r as u32)));
            self.total += (r - l) as u64;
        }
    }
}

/// Rewrites the TCP window field of an IPv4 or IPv6 packet (as `peek::tcp` read it), updating the checksum
/// incrementally (RFC 1624) so smoltcp's verification still passes.
pub(crate) fn set_window(packet: &mut [u8], field: u16) {
    let l4 = match packet.first().map(|b| b >> 4) {
        Some(4) => usize::from(packet[0] & 0x0f) * 4,
        Some(6) => 40,
        _ => return,
    };
    let Some(tcp) = packet.get_mut(l4..l4 + 18) else {
        return;
    };
    let old = u16::from_be_bytes([tcp[14], tcp[15]]);
    if old == field {
        return;
    }
    let sum = u16::from_be_bytes([tcp[16], tcp[17]]);
    let mut acc = u32::from(!sum) + u32::from(!old) + u32::from(field);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    tcp[14..16].copy_from_slice(&field.to_be_bytes());
    tcp[16..18].copy_from_slice(&(!(acc as u16)).to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recovery::pure_ack;

    fn ack(ack: u32, window: u16) -> TcpPeek {
        let (src, dst) = (
            "10.0.0.2:80".parse().unwrap(),
            "10.0.0.1:5000".parse().unwrap(),
        );
        crate::peek::tcp(&pure_ack(src, dst, 1, ack, window)).unwrap()
    }

    #[test]
    fn rewritten_window_keeps_the_checksum_valid() {
        for (src, dst) in [
            ("10.0.0.2:80", "10.0.0.1:5000"),
            ("[fd00::2]:80", "[fd00::1]:5000"),
        ] {
            let mut p = pure_ack(src.parse().unwrap(), dst.parse().unwrap(), 7, 1234, 60_000);
            set_window(&mut p, 123);
            assert_eq!(crate::peek::tcp(&p).unwrap().window, 123);
            let (s, d): (smoltcp::wire::IpAddress, smoltcp::wire::IpAddress) = (
                src.parse::<std::net::SocketAddr>().unwrap().ip().into(),
                dst.parse::<std::net::SocketAddr>().unwrap().ip().into(),
            );
            let l4 = if p[0] >> 4 == 4 { 20 } else { 40 };
            let tcp = smoltcp::wire::TcpPacket::new_checked(&p[l4..]).unwrap();
            assert!(tcp.verify_checksum(&s, &d), "{src}");
        }
    }

    #[test]
    fn one_cut_per_episode_and_none_below_half() {
        let now = Instant::now();
        let mut w = Window::new(1000);
        w.rtt_sample(Duration::from_millis(50));
        // Slow start: 200 segments acknowledged one at a time over 1 s.
        for i in 1..=200u32 {
            w.on_segment(
                &ack(i * 1000, 65_535),
                now + Duration::from_millis(u64::from(i) * 5),
            );
        }
        let grown = w.cwnd();
        assert!(grown >= 200_000, "slow start grew it to {grown}");
        w.on_loss(200_000);
        let cut = w.cwnd();
        assert!(cut >= grown / 2 && cut <= grown, "{grown} -> {cut}");
        // A second hole in the same window is the same episode.
        w.on_loss(201_000);
        assert_eq!(w.cwnd(), cut);
    }

    #[test]
    fn scoreboard_merges_blocks_across_acks() {
        let mut b = Scoreboard::default();
        assert_eq!(b.update(1000, &[(3000, 4000), (0, 0)]), 1000);
        assert_eq!(
            b.update(1000, &[(6000, 7000)]),
            2000,
            "an earlier block is remembered"
        );
        assert_eq!(b.update(1000, &[(3500, 6500)]), 4000, "overlaps merge");
        assert_eq!(b.ranges, [(3000, 7000)]);
        assert_eq!(b.update(5000, &[]), 2000, "the ACK moved into it: trimmed");
        assert_eq!(b.update(9000, &[]), 0);
        let wrap = u32::MAX - 100;
        assert_eq!(
            b.update(wrap, &[(wrap.wrapping_add(1000), 2000)]),
            1101,
            "across the wrap"
        );
    }

    #[test]
    fn window_field_is_the_smaller_of_peer_and_congestion_window() {
        let mut w = Window::new(1000);
        let now = Instant::now();
        assert_eq!(
            w.on_segment(&ack(1, 60_000), now),
            10_000,
            "initial window: 10 segments"
        );
        assert_eq!(
            w.on_segment(&ack(1, 5_000), now),
            5_000,
            "the peer's smaller window stands"
        );
        assert_eq!(w.on_segment(&ack(1, 0), now), 0, "a zero window stays zero");
    }
}
