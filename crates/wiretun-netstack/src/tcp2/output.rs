//! What a connection sends, and when: `poll_transmit` hands out one segment per call (a SYN, a data segment
//! the sender chose, a probe or an ACK) until there is nothing to send now, and `poll_at` says when to call
//! again. Timers run at the start of each call, from the time the caller passes in.

use std::time::{Duration, Instant};

use super::conn::{Connection, State};
use super::handshake;
use super::segment::{Segment, FIN, PSH, RST};
use super::seq::Seq;

/// SYN retransmissions before a handshake gives up (Linux's tcp_syn_retries is 6).
const SYN_RETRIES: u32 = 6;
/// Unanswered keep-alive probes before the connection is dropped.
const KEEPALIVE_PROBES: u32 = 3;

impl Connection {
    /// The next segment to send now, its payload copied into `payload` (which must hold an MSS); `None`
    /// when there is nothing to send until `poll_at`.
    pub fn poll_transmit(&mut self, now: Instant, payload: &mut [u8]) -> Option<Segment> {
        self.run_timers(now);
        if self.rst_pending {
            self.rst_pending = false;
            let mut rst = Segment {
                seq: self.snd.q.nxt,
                flags: RST,
                ..Segment::default()
            };
            rst.ack = Some(self.rcv.nxt);
            return Some(rst);
        }
        match self.state {
            State::Closed | State::SynSent | State::SynReceived if self.syn_at.is_some() => {
                self.syn(now)
            }
            State::Closed | State::SynSent | State::SynReceived => None,
            _ => self.data(now, payload).or_else(|| self.probe_or_ack(now)),
        }
    }

    /// The SYN or SYN-ACK, if due.
    fn syn(&mut self, now: Instant) -> Option<Segment> {
        if self.state == State::Closed || self.syn_at.is_none_or(|t| t > now) {
            return None;
        }
        if self.syn_sends > SYN_RETRIES {
            self.state = State::Closed;
            return None;
        }
        let (ack, offer) = match self.state {
            State::SynReceived => (Some(self.rcv.nxt), Some(&self.opts)),
            _ => (None, None),
        };
        let mut seg = handshake::syn(self.iss, ack, self.cfg.mss, self.cfg.rx_buffer, offer);
        if offer.is_none_or(|o| o.ts) {
            seg.ts = Some((self.tsval(now), self.ts_recent));
        }
        self.syn_first.get_or_insert(now);
        self.syn_sends += 1;
        self.syn_at = Some(now + Duration::from_secs(1 << (self.syn_sends - 1).min(6)));
        Some(seg)
    }

    /// A segment with ACK, window, timestamps and SACK blocks filled in; the owed ACK is then paid.
    fn header(&mut self, now: Instant, seq: Seq) -> Segment {
        self.header_within(now, seq, u32::MAX)
    }

    /// As `header`, with SACK blocks only as far as `room` bytes of options beyond the timestamps hold. If
    /// some did not fit, the ACK stays owed: a pure ACK carries them after this segment.
    fn header_within(&mut self, now: Instant, seq: Seq, room: u32) -> Segment {
        let mut seg = Segment {
            seq,
            ack: Some(self.rcv.nxt),
            window: self.rcv.window_field(),
            ..Segment::default()
        };
        if self.opts.ts {
            seg.ts = Some((self.tsval(now), self.ts_recent));
        }
        let all_sacked = !self.opts.sack || self.rcv.fill_sack_within(&mut seg, room);
        self.last_ack_sent = self.rcv.nxt;
        self.last_wnd = u32::from(seg.window) << self.opts.rcv_shift;
        self.ack_now = !all_sacked;
        self.ack_deadline = None;
        self.unacked_segments = 0;
        seg
    }

    fn data(&mut self, now: Instant, payload: &mut [u8]) -> Option<Segment> {
        if !matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        ) {
            return None;
        }
        let tx = self.snd.next(now, self.fin_queued)?;
        // Options and payload together stay within the MSS the peer offered (RFC 6691): the sender's
        // segments leave room for timestamps, and SACK blocks ride only where the payload leaves room.
        let room = self.opts.mss.saturating_sub(self.ts_option_len() + tx.len);
        let mut seg = self.header_within(now, tx.seq, room);
        seg.len = self.snd.q.copy(tx.seq, tx.len, payload) as u32;
        let queued_end = self.snd.q.una.plus(self.snd.q.data.len() as u32);
        // A FIN ends the data too; on the wire it takes PSH's place (one control per segment here).
        if seg.len > 0 && !tx.fin && tx.seq.plus(seg.len) == queued_end {
            seg.flags |= PSH;
        }
        if tx.fin {
            seg.flags |= FIN;
            self.state = match self.state {
                State::Established => State::FinWait1,
                State::CloseWait => State::LastAck,
                other => other,
            };
        }
        let tsval = seg.ts.map_or(0, |(v, _)| v);
        self.snd.sent(now, tx, tsval);
        Some(seg)
    }

    /// The ACK owed for the segment just taken, when it must not wait for `poll_transmit`: data out of
    /// order, duplicated or filling a hole (RFC 5681 4.2). A caller taking a batch of segments calls
    /// this after each; with one ACK per batch, the sender saw only the three latest of the many ranges
    /// a batch changed at 3 % loss, took the rest for lost, and resent them (Linux counted 150 D-SACKs
    /// and raised its reordering estimate to the maximum in one 8 s download).
    pub fn immediate_ack(&mut self, now: Instant) -> Option<Segment> {
        if !std::mem::take(&mut self.ack_immediately) || !self.ack_now {
            return None;
        }
        match self.state {
            State::Closed | State::SynSent | State::SynReceived => None,
            _ => Some(self.header(now, self.snd.q.nxt)),
        }
    }

    /// A keep-alive or zero-window probe if one is due (an already acknowledged sequence number, so the
    /// peer answers with an ACK and its window), else an owed ACK.
    fn probe_or_ack(&mut self, now: Instant) -> Option<Segment> {
        if self.probe_at.is_some_and(|t| t <= now) {
            self.probes += 1;
            self.probe_at = None;
            let seq = self.snd.q.una.plus(u32::MAX);
            return Some(self.header(now, seq));
        }
        if self.ack_now || self.ack_deadline.is_some_and(|t| t <= now) {
            return Some(self.header(now, self.snd.q.nxt));
        }
        None
    }

    fn run_timers(&mut self, now: Instant) {
        if self.time_wait_until.is_some_and(|t| t <= now) {
            self.state = State::Closed;
            self.time_wait_until = None;
        }
        if matches!(
            self.state,
            State::Closed | State::SynSent | State::SynReceived | State::TimeWait
        ) {
            return;
        }
        self.snd.on_timers(now);
        self.schedule_probe(now);
    }

    /// Keep-alive when idle, zero-window probing when the peer's window holds data back (backing off as
    /// the RTO does).
    fn schedule_probe(&mut self, now: Instant) {
        let q = &self.snd.q;
        let window_shut = self.snd.wnd == 0 && q.unsent() > 0 && q.outstanding() == 0;
        let idle = q.outstanding() == 0 && q.unsent() == 0;
        if window_shut {
            if self.probe_at.is_none() {
                let backoff = self.snd.rto.timeout() * (1 << self.probes.min(6));
                self.probe_at = Some(now + backoff);
            }
        } else if let (Some(every), true) = (self.cfg.keepalive, idle) {
            if self.probes >= KEEPALIVE_PROBES && now >= self.last_heard + every * (self.probes + 1)
            {
                self.abort();
                return;
            }
            let due = self.last_heard + every * (self.probes + 1);
            self.probe_at = Some(due.max(now));
        } else {
            self.probe_at = None;
        }
    }

    /// When to call `poll_transmit` next (`None`: only when a segment arrives or the application acts).
    pub fn poll_at(&self) -> Option<Instant> {
        let mut at = [
            self.syn_at
                .filter(|_| matches!(self.state, State::SynSent | State::SynReceived)),
            self.ack_deadline,
            self.time_wait_until,
            self.probe_at,
        ]
        .into_iter()
        .flatten()
        .min();
        if !matches!(
            self.state,
            State::Closed | State::SynSent | State::SynReceived | State::TimeWait
        ) {
            if let Some(s) = self.snd.poll_at() {
                at = Some(at.map_or(s, |a| a.min(s)));
            }
        }
        if self.ack_now || self.rst_pending {
            at = Some(at.map_or(self.epoch, |a| a.min(self.epoch)));
        }
        at
    }
}
