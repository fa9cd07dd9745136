//! The receiving half: data placed in the receive ring (out-of-order data too, up to 32 ranges ahead of
//! the next expected byte), the window it advertises, and the SACK blocks that tell the sender exactly what
//! arrived (RFC 2018): the block holding the latest segment first, then the other recent ones, so a sender
//! learns every hole even when some ACKs are lost. A segment that arrives twice is reported once in a D-SACK
//! block (RFC 2883), first in the next ACK, so the sender can tell reordering and spurious repairs from loss.

use super::ring::Ring;
use super::segment::{Segment, MAX_SACK};
use super::seq::Seq;

/// Out-of-order ranges kept; a segment that would need one more is dropped (the sender resends it).
pub const MAX_OOO: usize = 32;

pub struct Receiver {
    /// Next sequence number expected.
    pub nxt: Seq,
    /// Bytes from the next one the application reads; `len()` of them are in order (up to `nxt`).
    buf: Ring,
    /// Out-of-order ranges above `nxt`, sorted, disjoint and not touching. Allocated at the first one and
    /// grown (to `MAX_OOO` at most) as holes come: most connections never see one.
    ooo: Vec<(Seq, Seq)>,
    /// Starts of the most recently changed ranges, most recent first.
    recent: [Seq; MAX_SACK],
    nrecent: usize,
    /// A duplicate to report in the next ACK.
    dsack: Option<(Seq, Seq)>,
    /// Window scale shift this end advertises with.
    pub wscale: u8,
}

/// What one segment's data did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DataOutcome {
    /// Bytes that became readable.
    pub in_order: u32,
    /// It was out of order, a duplicate, or it filled a hole: acknowledge at once.
    pub ack_now: bool,
}

impl Receiver {
    pub fn new(capacity: usize, irs: Seq, wscale: u8) -> Receiver {
        Receiver {
            nxt: irs,
            buf: Ring::new(capacity),
            ooo: Vec::new(),
            recent: [Seq(0); MAX_SACK],
            nrecent: 0,
            dsack: None,
            wscale,
        }
    }

    /// Free receive space from `nxt`: the window.
    pub fn window(&self) -> u32 {
        self.buf.free() as u32
    }

    /// The window field to send.
    pub fn window_field(&self) -> u16 {
        (self.window() >> self.wscale).min(u32::from(u16::MAX)) as u16
    }

    pub fn readable(&self) -> usize {
        self.buf.len()
    }

    /// Copies readable bytes into `out` and frees their space.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = self.buf.read_at(0, out);
        self.buf.consume(n);
        n
    }

    /// Offers readable bytes (as far as the ring runs contiguously) to `f`, which returns how many it took.
    pub fn read_with<R>(&mut self, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> (usize, R) {
        let (n, r) = f(self.buf.front_mut());
        self.buf.consume(n);
        (n, r)
    }

    /// Takes a segment's payload at `seq`.
    pub fn on_data(&mut self, seq: Seq, payload: &[u8]) -> DataOutcome {
        let mut out = DataOutcome::default();
        let end = seq.plus(payload.len() as u32);
        if payload.is_empty() {
            return out;
        }
        if end.at_or_before(self.nxt) {
            self.dsack = Some((seq, end));
            out.ack_now = true;
            return out;
        }
        let (mut seq, mut payload) = (seq, payload);
        if seq.before(self.nxt) {
            self.dsack = Some((seq, self.nxt));
            payload = &payload[self.nxt.bytes_since(seq) as usize..];
            seq = self.nxt;
        }
        let room = self.window().saturating_sub(seq.bytes_since(self.nxt));
        let payload = &payload[..payload.len().min(room as usize)];
        if payload.is_empty() {
            out.ack_now = true;
            return out;
        }
        let end = seq.plus(payload.len() as u32);
        let offset = self.buf.len() + seq.bytes_since(self.nxt) as usize;
        if seq == self.nxt {
            self.buf.write_at(offset, payload);
            let before = self.nxt;
            self.nxt = end;
            out.ack_now = !self.ooo.is_empty();
            self.pull_in_order();
            out.in_order = self.nxt.bytes_since(before);
            self.buf.extend(out.in_order as usize);
            return out;
        }
        out.ack_now = true;
        if let Some(&(s, e)) = self
            .ooo
            .iter()
            .find(|(s, e)| seq.at_or_after(*s) && end.at_or_before(*e))
        {
            debug_assert!(s.before(e));
            self.dsack = Some((seq, end));
            return out;
        }
        if self.insert(seq, end) {
            self.buf.write_at(offset, payload);
        }
        out
    }

    /// Moves ranges that now touch `nxt` into the in-order part.
    fn pull_in_order(&mut self) {
        let mut taken = 0;
        while taken < self.ooo.len() && self.ooo[taken].0.at_or_before(self.nxt) {
            self.nxt = self.nxt.max(self.ooo[taken].1);
            taken += 1;
        }
        self.ooo.drain(..taken);
    }

    /// Adds `[s, e)` to the out-of-order ranges, merging; false when there is no slot for it.
    fn insert(&mut self, s: Seq, e: Seq) -> bool {
        let first = self.ooo.partition_point(|r| r.1.before(s));
        let mut last = first;
        let (mut ns, mut ne) = (s, e);
        while last < self.ooo.len() && self.ooo[last].0.at_or_before(e) {
            ns = ns.min(self.ooo[last].0);
            ne = ne.max(self.ooo[last].1);
            last += 1;
        }
        if first == last {
            if self.ooo.len() == MAX_OOO {
                return false;
            }
            self.ooo.insert(first, (ns, ne));
        } else {
            self.ooo[first] = (ns, ne);
            self.ooo.drain(first + 1..last);
        }
        self.touch(ns);
        true
    }

    /// Puts the range starting at `start` first among the recent ones.
    fn touch(&mut self, start: Seq) {
        let (s, e) = self.range_of(start).expect("just inserted");
        let mut keep = [start; MAX_SACK];
        let mut n = 1;
        for &old in &self.recent[..self.nrecent] {
            let merged = old.at_or_after(s) && old.before(e);
            if !merged && n < MAX_SACK {
                keep[n] = old;
                n += 1;
            }
        }
        self.recent = keep;
        self.nrecent = n;
    }

    fn range_of(&self, seq: Seq) -> Option<(Seq, Seq)> {
        self.ooo
            .iter()
            .copied()
            .find(|&(s, e)| seq.at_or_after(s) && seq.before(e))
    }

    /// Fills the SACK blocks of an outgoing segment: the pending D-SACK first (once), then recent ranges,
    /// as many as `room` bytes of TCP options hold (8 each, 4 for the option's kind, length and padding);
    /// false when some were left out (a D-SACK left out stays pending).
    pub fn fill_sack_within(&mut self, seg: &mut Segment, room: u32) -> bool {
        let fit = (room.saturating_sub(4) / 8).min(MAX_SACK as u32) as usize;
        let mut wanted = usize::from(self.dsack.is_some());
        if fit > 0 {
            if let Some(d) = self.dsack.take() {
                seg.push_sack(d);
            }
        }
        // A D-SACK inside a range is followed by that range (RFC 2883 4.2): no deduplication against it.
        for i in 0..self.nrecent {
            if let Some(r) = self.range_of(self.recent[i]) {
                wanted += 1;
                if usize::from(seg.nsack) < fit {
                    seg.push_sack(r);
                }
            }
        }
        usize::from(seg.nsack) >= wanted.min(MAX_SACK)
    }

    /// Out-of-order ranges held (for tests and stats).
    pub fn ooo_ranges(&self) -> &[(Seq, Seq)] {
        &self.ooo
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(r: &mut Receiver) -> Vec<(u32, u32)> {
        let mut seg = Segment::default();
        r.fill_sack_within(&mut seg, u32::MAX);
        seg.sack_blocks().iter().map(|(s, e)| (s.0, e.0)).collect()
    }

    #[test]
    fn sack_blocks_most_recent_first_and_holes_fill() {
        let mut r = Receiver::new(1 << 16, Seq(1000), 0);
        let d = [7u8; 100];
        assert_eq!(r.on_data(Seq(1000), &d).in_order, 100);
        assert!(r.on_data(Seq(1200), &d).ack_now);
        assert_eq!(blocks(&mut r), [(1200, 1300)]);
        r.on_data(Seq(1400), &d);
        r.on_data(Seq(1600), &d);
        assert_eq!(blocks(&mut r), [(1600, 1700), (1400, 1500), (1200, 1300)]);
        // 1300 joins the first block: it becomes the most recent.
        r.on_data(Seq(1300), &d);
        assert_eq!(blocks(&mut r), [(1200, 1500), (1600, 1700)]);
        let out = r.on_data(Seq(1100), &d);
        assert_eq!(
            out,
            DataOutcome {
                in_order: 400,
                ack_now: true
            }
        );
        assert_eq!(r.nxt, Seq(1500));
        assert_eq!(blocks(&mut r), [(1600, 1700)]);
        let mut buf = [0u8; 1000];
        assert_eq!(r.read(&mut buf), 500);
    }

    #[test]
    fn duplicates_are_reported_once_as_dsack() {
        let mut r = Receiver::new(1 << 16, Seq(0), 0);
        let d = [1u8; 100];
        r.on_data(Seq(0), &d);
        r.on_data(Seq(300), &d);
        r.on_data(Seq(0), &d);
        assert_eq!(blocks(&mut r), [(0, 100), (300, 400)], "below the ACK");
        assert_eq!(blocks(&mut r), [(300, 400)], "only once");
        r.on_data(Seq(300), &d);
        assert_eq!(
            blocks(&mut r),
            [(300, 400), (300, 400)],
            "inside a block: dsack, then the block"
        );
    }

    #[test]
    fn window_stays_put_for_out_of_order_data() {
        let mut r = Receiver::new(1000, Seq(0), 0);
        r.on_data(Seq(500), &[0; 600]);
        assert_eq!(r.ooo_ranges(), [(Seq(500), Seq(1000))], "cut at the window");
        assert_eq!(r.window(), 1000);
        r.on_data(Seq(0), &[0; 500]);
        assert_eq!((r.nxt, r.window()), (Seq(1000), 0));
    }
}
