//! The send buffer and the retransmission queue: bytes from the oldest unacknowledged one on, and one record
//! per segment sent (when, how often, SACKed, deemed lost), as Linux keeps per skb and gVisor per segment.
//! Every loss mechanism (scoreboard, RACK, RTO) reads and marks these records; the counters that make up
//! the pipe (RFC 6675) are kept here, in one place, as the marks change.
//!
//! The records live in a ring (`VecDeque`) that starts empty and doubles from one record up to its
//! high-water mark, as the rings' pages are committed only where data has been: an idle connection pays for
//! the few records its requests needed, and a busy one stops allocating once it has reached its largest
//! flight. A large ring is freed when everything in it is acknowledged: the connection is idle, or
//! between bursts (one allocation per burst of over `KEEP_RECORDS` segments, none per packet).

use std::collections::VecDeque;
use std::time::Instant;

use super::ring::Ring;
use super::seq::Seq;

/// Records an emptied ring may keep (5 KiB); a larger one is freed.
const KEEP_RECORDS: usize = 64;

/// One transmitted segment.
#[derive(Clone, Copy, Debug)]
pub struct SegRecord {
    pub start: Seq,
    /// Sequence space, FIN included.
    pub len: u32,
    pub fin: bool,
    /// Its latest transmission.
    pub sent_at: Instant,
    pub xmits: u8,
    pub sacked: bool,
    /// Deemed lost (RACK, RTO). It stays so when retransmitted: then only the retransmission is in flight.
    pub lost: bool,
    /// A retransmission of it is in flight (and not deemed lost itself).
    pub retrans: bool,
    /// Delivery-rate sampling state at its latest transmission (see `rate.rs`).
    pub rate: super::rate::TxState,
}

impl SegRecord {
    pub fn end(&self) -> Seq {
        self.start.plus(self.len)
    }
}

pub struct SendQueue {
    pub data: Ring,
    /// Oldest unacknowledged sequence number: `data` starts here.
    pub una: Seq,
    /// Next new sequence number to send.
    pub nxt: Seq,
    records: VecDeque<SegRecord>,
    /// Bytes of records marked SACKed, lost, and retransmitted (in flight). The pipe is the outstanding
    /// bytes less the SACKed and lost ones, plus the retransmissions (Linux's `tcp_packets_in_flight`).
    pub sacked: u32,
    pub lost: u32,
    pub retrans: u32,
    /// Bytes ever marked lost (a controller's loss rate is its growth per round).
    pub lost_total: u64,
    /// The FIN has been sent (it takes the last sequence number).
    pub fin_sent: bool,
    /// Records from here on may still be lost and not retransmitted (a search hint, never past one).
    lost_hint: usize,
    /// Every transmission in the order sent, as (end of its record, send time): RACK walks this instead of
    /// the records, as Linux walks its tsorted list, so an ACK costs the few segments it can decide about,
    /// not the whole window behind a hole. Entries go stale (the record since SACKed, deemed lost,
    /// acknowledged or sent again) and are dropped when they reach the front.
    tsorted: VecDeque<(Seq, Instant)>,
    /// The SACK blocks of the previous ACK (`sack_scoreboard.rs` skips what they covered).
    pub sack_cache: [(Seq, Seq); 4],
    pub sack_cache_len: usize,
}

/// What a cumulative acknowledgment removed.
#[derive(Default, Debug)]
pub struct Acked {
    /// Bytes newly acknowledged that had not been SACKed before (so newly delivered).
    pub newly: u32,
    /// The most recently sent record it covered.
    pub latest: Option<SegRecord>,
    pub fin: bool,
}

impl SendQueue {
    pub fn new(capacity: usize, iss: Seq) -> SendQueue {
        SendQueue {
            data: Ring::new(capacity),
            una: iss,
            nxt: iss,
            records: VecDeque::new(),
            sacked: 0,
            lost: 0,
            retrans: 0,
            lost_total: 0,
            fin_sent: false,
            lost_hint: 0,
            tsorted: VecDeque::new(),
            sack_cache: [(iss, iss); 4],
            sack_cache_len: 0,
        }
    }

    /// Bytes sent and not yet acknowledged (sequence space).
    pub fn outstanding(&self) -> u32 {
        self.nxt.bytes_since(self.una)
    }

    /// The pipe of RFC 6675: bytes believed in the network.
    pub fn in_flight(&self) -> u32 {
        (self.outstanding() + self.retrans).saturating_sub(self.sacked + self.lost)
    }

    /// Queued bytes never sent.
    pub fn unsent(&self) -> u32 {
        // Once the FIN is acknowledged nothing is outstanding, and nothing is left to send.
        let sent_data = self.outstanding().saturating_sub(u32::from(self.fin_sent));
        (self.data.len() as u32).saturating_sub(sent_data)
    }

    pub fn records(&self) -> &VecDeque<SegRecord> {
        &self.records
    }

    pub fn record(&self, i: usize) -> &SegRecord {
        &self.records[i]
    }

    /// Records a new transmission of `len` bytes at `nxt` (plus the FIN when `fin`).
    pub fn sent_new(&mut self, len: u32, fin: bool, now: Instant, rate: super::rate::TxState) {
        let rec = SegRecord {
            start: self.nxt,
            len: len + u32::from(fin),
            fin,
            sent_at: now,
            xmits: 1,
            sacked: false,
            lost: false,
            retrans: false,
            rate,
        };
        self.nxt = rec.end();
        self.fin_sent |= fin;
        self.tsorted.push_back((rec.end(), now));
        if self.records.len() == self.records.capacity() {
            // Doubling, from one: VecDeque's own growth would start at four.
            self.records.reserve_exact(self.records.len().max(1));
        }
        self.records.push_back(rec);
    }

    /// Records a retransmission of record `i`.
    pub fn resent(&mut self, i: usize, now: Instant, rate: super::rate::TxState) {
        let r = &mut self.records[i];
        if !r.retrans {
            r.retrans = true;
            self.retrans += r.len;
        }
        r.sent_at = now;
        r.xmits = r.xmits.saturating_add(1);
        r.rate = rate;
        let end = r.end();
        self.tsorted.push_back((end, now));
    }

    /// The index of the record ending at `end`, if it is still queued.
    pub fn find_end(&self, end: Seq) -> Option<usize> {
        let i = self.records.partition_point(|r| r.end().before(end));
        (i < self.records.len() && self.records[i].end() == end).then_some(i)
    }

    /// The transmissions in send order (see `tsorted`).
    pub fn tsorted(&self) -> &VecDeque<(Seq, Instant)> {
        &self.tsorted
    }

    /// Drops the oldest transmission entry (RACK found it stale).
    pub fn tsorted_pop(&mut self) {
        self.tsorted.pop_front();
    }

    /// Marks record `i` SACKed; returns the bytes newly SACKed.
    pub fn mark_sacked(&mut self, i: usize) -> u32 {
        let r = &mut self.records[i];
        if r.sacked {
            return 0;
        }
        r.sacked = true;
        self.sacked += r.len;
        if r.lost {
            r.lost = false;
            self.lost -= r.len;
        }
        if r.retrans {
            r.retrans = false;
            self.retrans -= r.len;
        }
        r.len
    }

    /// Marks record `i` lost (its retransmission, if one was in flight, is lost too).
    pub fn mark_lost(&mut self, i: usize) {
        let r = &mut self.records[i];
        if r.sacked {
            return;
        }
        if !r.lost {
            r.lost = true;
            self.lost += r.len;
            self.lost_total += u64::from(r.len);
        }
        if r.retrans {
            r.retrans = false;
            self.retrans -= r.len;
        }
        self.lost_hint = self.lost_hint.min(i);
    }

    /// Clears the lost marks (a spurious timeout was undone).
    pub fn unmark_lost(&mut self) {
        for r in self.records.iter_mut().filter(|r| r.lost) {
            r.lost = false;
            self.lost -= r.len;
        }
    }

    /// The first record marked lost and not retransmitted since, if any.
    pub fn first_lost(&mut self) -> Option<usize> {
        if self.lost == 0 {
            return None;
        }
        let at = (self.lost_hint..self.records.len())
            .find(|&i| self.records[i].lost && !self.records[i].retrans);
        self.lost_hint = at.unwrap_or(self.records.len());
        at
    }

    /// Removes what `ack` acknowledges cumulatively. A record acknowledged in part is trimmed. `delivered` is
    /// called with each record (and its bytes) delivered by this, that is not SACKed before.
    pub fn ack(&mut self, ack: Seq, mut delivered: impl FnMut(&SegRecord, u32)) -> Acked {
        let mut out = Acked::default();
        if !ack.after(self.una) || ack.after(self.nxt) {
            return out;
        }
        let mut popped = 0;
        while let Some(r) = self.records.front_mut() {
            if r.end().at_or_before(ack) {
                let r = self.records.pop_front().expect("front exists");
                popped += 1;
                if !r.sacked {
                    delivered(&r, r.len);
                }
                self.forget(&r, r.len, &mut out);
                out.fin |= r.fin;
                if out.latest.is_none_or(|l| r.sent_at >= l.sent_at) {
                    out.latest = Some(r);
                }
            } else {
                if ack.after(r.start) {
                    let cut = ack.bytes_since(r.start);
                    let copy = *r;
                    r.start = ack;
                    r.len -= cut;
                    if !copy.sacked {
                        delivered(&copy, cut);
                    }
                    self.forget(&copy, cut, &mut out);
                }
                break;
            }
        }
        let data_bytes = ack.bytes_since(self.una) - u32::from(out.fin);
        self.data.consume(data_bytes as usize);
        self.una = ack;
        // The hint counts records: it moves with the front (what was before it still is).
        self.lost_hint = self.lost_hint.saturating_sub(popped);
        while self
            .tsorted
            .front()
            .is_some_and(|(end, _)| end.at_or_before(ack))
        {
            self.tsorted.pop_front();
        }
        if self.records.is_empty() {
            // Every transmission is acknowledged, so every entry left is stale.
            self.tsorted.clear();
            if self.records.capacity() > KEEP_RECORDS {
                self.records = VecDeque::new();
                self.tsorted = VecDeque::new();
            }
        }
        out
    }

    fn forget(&mut self, r: &SegRecord, bytes: u32, out: &mut Acked) {
        if r.sacked {
            self.sacked -= bytes;
        } else {
            out.newly += bytes;
        }
        if r.lost {
            self.lost -= bytes;
        }
        if r.retrans {
            self.retrans -= bytes;
        }
    }

    /// The payload of `len` bytes at `seq` into `out`; returns the bytes copied.
    pub fn copy(&self, seq: Seq, len: u32, out: &mut [u8]) -> usize {
        let off = seq.bytes_since(self.una) as usize;
        let n = (len as usize).min(out.len());
        self.data.read_at(off, &mut out[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::super::rate::RateEstimator;
    use super::*;

    #[test]
    fn records_grow_from_one_and_a_large_ring_is_freed_once_acknowledged() {
        let now = Instant::now();
        let tx = RateEstimator::new(now).on_send(now, 0);
        let mut q = SendQueue::new(1 << 20, Seq(0));
        assert_eq!(
            q.records.capacity(),
            0,
            "an idle connection holds no records"
        );
        q.sent_new(100, false, now, tx);
        assert_eq!(q.records.capacity(), 1);
        q.ack(Seq(100), |_, _| {});
        assert_eq!(
            q.records.capacity(),
            1,
            "a small ring stays: no allocation per request"
        );
        for _ in 0..100 {
            q.sent_new(100, false, now, tx);
        }
        assert_eq!(q.records.capacity(), 128, "doubled up to the flight");
        q.ack(Seq(5100), |_, _| {});
        assert_eq!(q.records.capacity(), 128, "kept while records remain");
        q.ack(Seq(10100), |_, _| {});
        assert_eq!(q.records.capacity(), 0, "freed once idle");
    }
}
