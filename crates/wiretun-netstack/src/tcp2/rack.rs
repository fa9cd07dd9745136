//! RACK-TLP (RFC 8985): time-based loss detection. A segment is lost once a segment sent after it has been
//! delivered and a reordering window has passed since its own transmission (it "should" have arrived by
//! then). This finds every hole of a window from one ACK, and finds a lost retransmission the same way
//! (its new send time is what counts), where duplicate-ACK counting finds neither.
//!
//! The tail loss probe covers the case RACK cannot see: the last segments of a flight lost, so no later
//! delivery reveals them. After about two round trips of silence one segment is sent (new data if any, else
//! the last one again) to draw an ACK whose SACK blocks let RACK do the rest, instead of waiting for the RTO.

use std::time::{Duration, Instant};

use super::send_queue::{SegRecord, SendQueue};
use super::seq::Seq;

/// Worst-case delayed ACK the probe allows for when one segment is in flight (RFC 8985 7.2).
pub const WC_DEL_ACK: Duration = Duration::from_millis(200);

pub struct Rack {
    /// Send time and end of the most recently sent segment delivered so far.
    xmit_ts: Option<Instant>,
    end_seq: Seq,
    /// RTT of that segment.
    pub rtt: Duration,
    /// Highest end of a segment delivered by earlier ACKs (forward-most ACK), and with this one.
    fack: Seq,
    fack_next: Seq,
    pub reordering_seen: bool,
    /// Reordering window multiplier, raised by D-SACKs (RFC 8985 6.2 step 4).
    reo_wnd_mult: u32,
    reo_wnd_persist: u32,
    /// No D-SACK raises the multiplier again before this is acknowledged.
    dsack_round: Option<Seq>,
}

impl Rack {
    pub fn new(iss: Seq) -> Rack {
        Rack {
            xmit_ts: None,
            end_seq: iss,
            rtt: Duration::ZERO,
            fack: iss,
            fack_next: iss,
            reordering_seen: false,
            reo_wnd_mult: 1,
            reo_wnd_persist: 0,
            dsack_round: None,
        }
    }

    /// A segment was delivered now (cumulatively or SACKed). Called before it leaves the queue.
    pub fn on_delivered(&mut self, r: &SegRecord, now: Instant, min_rtt: Option<Duration>) {
        let rtt = now.saturating_duration_since(r.sent_at);
        // A retransmitted segment acknowledged sooner than any RTT could be: the original was delivered.
        if r.xmits > 1 && min_rtt.is_some_and(|m| rtt < m) {
            return;
        }
        let newer = self
            .xmit_ts
            .is_none_or(|t| r.sent_at > t || (r.sent_at == t && r.end().after(self.end_seq)));
        if newer {
            self.xmit_ts = Some(r.sent_at);
            self.end_seq = r.end();
            self.rtt = rtt;
        }
        // Delivered below something an earlier ACK delivered, and never resent: the network reordered.
        // (Within one ACK the order of the blocks says nothing.)
        if r.end().before(self.fack) && r.xmits == 1 {
            self.reordering_seen = true;
        }
        self.fack_next = self.fack_next.max(r.end());
    }

    /// The ACK's deliveries are all in.
    pub fn end_ack(&mut self) {
        self.fack = self.fack_next;
    }

    /// A D-SACK arrived: the reordering window widens (at most once per round trip), for 16 recoveries.
    pub fn on_dsack(&mut self, una: Seq, nxt: Seq) {
        if self.dsack_round.is_some_and(|r| una.before(r)) {
            return;
        }
        self.dsack_round = Some(nxt);
        self.reo_wnd_mult += 1;
        self.reo_wnd_persist = 16;
    }

    /// A recovery ended: a widened window decays after 16 of them.
    pub fn on_recovery_end(&mut self) {
        if self.reo_wnd_persist > 0 {
            self.reo_wnd_persist -= 1;
            if self.reo_wnd_persist == 0 {
                self.reo_wnd_mult = 1;
            }
        }
    }

    /// The reordering window (RFC 8985 6.2 step 4).
    pub fn reo_wnd(
        &self,
        in_recovery: bool,
        sacked_segments: u32,
        min_rtt: Option<Duration>,
        srtt: Option<Duration>,
    ) -> Duration {
        if !self.reordering_seen && (in_recovery || sacked_segments >= 3) {
            return Duration::ZERO;
        }
        let base = min_rtt.unwrap_or_default() / 4 * self.reo_wnd_mult;
        base.min(srtt.unwrap_or(base))
    }

    /// Marks lost every unSACKed segment sent before the latest delivered one and older than RTT plus
    /// `reo_wnd`; returns how long until the next one would be (the reordering timer), if any is pending.
    /// Walks the transmissions in send order, so it stops at the first one sent after the latest delivery
    /// and never visits what is SACKed or already deemed lost (stale entries are dropped at the front).
    pub fn detect_loss(
        &self,
        q: &mut SendQueue,
        now: Instant,
        reo_wnd: Duration,
    ) -> Option<Duration> {
        let xmit_ts = self.xmit_ts?;
        let mut timeout: Option<Duration> = None;
        let mut k = 0;
        while let Some(&(end, sent_at)) = q.tsorted().get(k) {
            // Live: still queued, not SACKed, not lost and waiting, and this is its latest transmission.
            let live = q.find_end(end).filter(|&i| {
                let r = q.record(i);
                !r.sacked && (!r.lost || r.retrans) && r.sent_at == sent_at
            });
            let Some(i) = live else {
                if k == 0 {
                    q.tsorted_pop();
                } else {
                    k += 1;
                }
                continue;
            };
            let before = sent_at < xmit_ts || (sent_at == xmit_ts && end.before(self.end_seq));
            if !before {
                // Sent in time order: everything after this was sent later still.
                break;
            }
            let deadline = sent_at + self.rtt + reo_wnd;
            if deadline <= now {
                q.mark_lost(i);
            } else {
                let left = deadline - now;
                timeout = Some(timeout.map_or(left, |t| t.max(left)));
            }
            k += 1;
        }
        timeout
    }

    /// On a retransmission timeout (RFC 8985 6.3): the first outstanding segment is lost, and beyond it only
    /// what was sent longer than RTT plus the reordering window ago. So a timeout resends what is missing,
    /// not everything from the first hole (no go-back-N).
    pub fn on_rto(&self, q: &mut SendQueue, now: Instant, reo_wnd: Duration) {
        for i in 0..q.records().len() {
            let r = *q.record(i);
            if r.sacked {
                continue;
            }
            if i == 0 || r.sent_at + self.rtt + reo_wnd <= now {
                q.mark_lost(i);
            }
        }
    }
}

/// The tail loss probe's state.
#[derive(Default)]
pub struct Tlp {
    /// A probe is out: the end of what it sent, and whether it was a retransmission.
    pub probe: Option<(Seq, bool)>,
    /// A D-SACK showed the probe's retransmission was a duplicate: nothing had been lost.
    pub dsacked: bool,
}

/// When the probe should fire, measured from now (RFC 8985 7.2): two SRTTs, plus a worst-case delayed
/// ACK when only one segment is in flight; one second with no RTT sample yet.
pub fn pto(srtt: Option<Duration>, in_flight: u32, mss: u32) -> Duration {
    let Some(srtt) = srtt else {
        return Duration::from_secs(1);
    };
    let mut pto = srtt * 2;
    if in_flight <= mss {
        pto += WC_DEL_ACK;
    }
    pto.max(Duration::from_millis(10))
}
