//! The sending half: what each ACK means (cumulative and SACK delivery, RTT, loss by RACK, recovery and its
//! one congestion response), which segment goes next (lost ones first, then new data, within the window
//! PRR or the controller allows and when the pacer says), and the loss timers (RACK's reordering timer,
//! the tail loss probe, the RTO).

use std::time::Instant;

use super::cc::{self, CongestionControl};
use super::pacing::Pacer;
use super::prr::Prr;
use super::rack::{self, Rack, Tlp};
use super::rate::RateEstimator;
use super::rto::Rto;
use super::sack_scoreboard;
use super::segment::Segment;
use super::send_queue::SendQueue;
use super::seq::Seq;

/// Counters a test or a stats page reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SenderStats {
    pub retransmits: u32,
    pub rtos: u32,
    pub tlps: u32,
    /// Loss episodes the controller was told of (one window reduction each, for a loss-based controller).
    pub episodes: u32,
    pub spurious_rtos: u32,
    /// Fast recoveries undone because every retransmission in them came back D-SACKed.
    pub spurious_recoveries: u32,
    pub dsacks: u32,
}

/// One segment the sender chose to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tx {
    pub seq: Seq,
    /// Payload bytes (FIN not counted).
    pub len: u32,
    pub fin: bool,
    pub retransmit: bool,
    /// The tail loss probe.
    pub probe: bool,
}

impl Tx {
    fn new_data(seq: Seq, len: u32, fin: bool, probe: bool) -> Tx {
        Tx {
            seq,
            len,
            fin,
            retransmit: false,
            probe,
        }
    }

    fn resend(r: &super::send_queue::SegRecord, probe: bool) -> Tx {
        Tx {
            seq: r.start,
            len: r.len - u32::from(r.fin),
            fin: r.fin,
            retransmit: true,
            probe,
        }
    }
}

pub struct Sender {
    pub q: SendQueue,
    pub mss: u32,
    /// The peer's window, scaled.
    pub wnd: u32,
    pub rto: Rto,
    rack: Rack,
    tlp: Tlp,
    pub cc: cc::Controller,
    rate: RateEstimator,
    pacer: Pacer,
    pacing: bool,
    /// Recovery point: in recovery until it is acknowledged.
    recover: Option<Seq>,
    /// Recovery entered by timeout: the controller's (slow-start) window governs, not PRR.
    rto_recovery: bool,
    prr: Option<Prr>,
    /// TSval of the first retransmission after a timeout, for Eifel's spurious-timeout test (RFC 3522).
    rto_tsval: Option<u32>,
    rto_at: Option<Instant>,
    tlp_at: Option<Instant>,
    reo_at: Option<Instant>,
    /// Retransmissions of the current loss episode not yet shown (by D-SACK) to have been needless, and
    /// the sequence range they fall in; `None` when the episode cannot be undone (an RTO, or over).
    undo: Option<(u32, Seq, Seq)>,
    /// A probe is due: the next segment goes regardless of the window.
    probe_due: bool,
    /// The last `next` held a segment back for the pacer.
    pace_wait: bool,
    pub stats: SenderStats,
    kind: cc::Kind,
    created: Instant,
}

impl Sender {
    pub fn new(cfg: &super::Config, iss: Seq, mss: u32, now: Instant) -> Sender {
        Sender {
            q: SendQueue::new(cfg.tx_buffer, iss),
            mss,
            wnd: 0,
            rto: Rto::new(),
            rack: Rack::new(iss),
            tlp: Tlp::default(),
            cc: cc::new(cfg.cc, mss, now),
            rate: RateEstimator::new(now),
            pacer: Pacer::default(),
            pacing: cfg.pacing,
            recover: None,
            rto_recovery: false,
            prr: None,
            rto_tsval: None,
            rto_at: None,
            tlp_at: None,
            reo_at: None,
            probe_due: false,
            undo: None,
            pace_wait: false,
            stats: SenderStats::default(),
            kind: cfg.cc,
            created: now,
        }
    }

    /// The segment size agreed in the handshake (before any data: the controller starts over with it).
    pub fn set_mss(&mut self, mss: u32) {
        if mss != self.mss {
            self.mss = mss;
            self.cc = cc::new(self.kind, mss, self.created);
        }
    }

    pub fn in_recovery(&self) -> bool {
        self.recover.is_some()
    }

    /// Takes an acceptable ACK (`ack` not beyond what was sent). `ts` is the segment's timestamp option.
    pub fn on_ack(&mut self, now: Instant, seg: &Segment, ack: Seq) {
        let prior_in_flight = self.q.in_flight();
        let prior_lost = self.q.lost_total;
        let advanced = ack.after(self.q.una);
        let min_rtt = self.rto.min_rtt;
        let (rack, rate) = (&mut self.rack, &mut self.rate);
        let mut rtt_from: Option<Instant> = None;
        let mut deliver = |r: &super::send_queue::SegRecord, bytes: u32| {
            rack.on_delivered(r, now, min_rtt);
            rate.on_delivered(r.rate, r.sent_at, bytes, now);
            if r.xmits == 1 && rtt_from.is_none_or(|t| r.sent_at > t) {
                rtt_from = Some(r.sent_at);
            }
        };
        let acked = self.q.ack(ack, &mut deliver);
        let sack =
            sack_scoreboard::apply(&mut self.q, ack, seg.sack_blocks(), |r| deliver(r, r.len));
        self.rack.end_ack();
        let delivered = acked.newly + sack.newly_sacked;
        let rtt = rtt_from.map(|sent| now - sent);
        if let Some(rtt) = rtt {
            self.rto.sample(rtt);
        }
        if let Some(d) = sack.dsack {
            self.on_dsack(d);
        }
        if advanced {
            self.rto.progress();
            self.spurious_rto_check(seg);
        }
        self.detect_loss(now);
        self.recovery_transitions(now, ack, prior_in_flight);
        if let Some(prr) = &mut self.prr {
            prr.on_ack(delivered, self.q.in_flight(), self.cc.ssthresh(), self.mss);
        }
        self.tlp_check(now, ack, prior_in_flight);
        let sample = self.rate.take_sample(now);
        self.cc.on_ack(&cc::Ack {
            now,
            delivered,
            in_flight: self.q.in_flight(),
            lost: (self.q.lost_total - prior_lost) as u32,
            rate: sample,
            rtt,
            min_rtt: self.rto.min_rtt,
            srtt: self.rto.srtt(),
            // After a timeout the window grows again in slow start; in fast recovery PRR governs.
            in_recovery: self.in_recovery() && !self.rto_recovery,
        });
        if advanced || delivered > 0 {
            self.rearm(now);
        }
    }

    fn on_dsack(&mut self, (s, e): (Seq, Seq)) {
        self.stats.dsacks += 1;
        // RFC 3708's idea, as Linux does it: when every retransmission of an episode turns out to have been
        // a duplicate, nothing was lost (the network reordered) and the window cut is taken back.
        if let Some((left, lo, hi)) = self.undo.as_mut() {
            if s.at_or_after(*lo) && e.at_or_before(*hi) && *left > 0 {
                *left -= 1;
                if *left == 0 {
                    self.undo = None;
                    self.stats.spurious_recoveries += 1;
                    self.cc.undo();
                }
            }
        }
        self.rack.on_dsack(self.q.una, self.q.nxt);
        if let Some((end, true)) = self.tlp.probe {
            if s.before(end) && e.at_or_after(end) {
                self.tlp.dsacked = true;
            }
        }
    }

    /// Eifel (RFC 3522): the first ACK after a timeout echoes a timestamp older than the retransmission, so
    /// it acknowledges the original: the timeout was spurious. The controller goes back to before it and
    /// nothing more is resent.
    fn spurious_rto_check(&mut self, seg: &Segment) {
        let Some(tsval) = self.rto_tsval.take() else {
            return;
        };
        if seg
            .ts
            .is_some_and(|(_, ecr)| ecr != 0 && Seq(ecr).before(Seq(tsval)))
        {
            self.stats.spurious_rtos += 1;
            self.cc.undo();
            self.q.unmark_lost();
            self.recover = None;
            self.rto_recovery = false;
            self.prr = None;
        }
    }

    fn detect_loss(&mut self, now: Instant) {
        let reo = self.rack.reo_wnd(
            self.in_recovery(),
            self.q.sacked / self.mss,
            self.rto.min_rtt,
            self.rto.srtt(),
        );
        self.reo_at = self
            .rack
            .detect_loss(&mut self.q, now, reo)
            .map(|t| now + t);
    }

    fn recovery_transitions(&mut self, now: Instant, ack: Seq, prior_in_flight: u32) {
        if self.recover.is_some_and(|r| ack.at_or_after(r)) {
            self.recover = None;
            self.rto_recovery = false;
            self.prr = None;
            self.cc.on_recovery_end();
            self.rack.on_recovery_end();
        }
        if self.q.lost > 0 && self.recover.is_none() {
            self.enter_recovery(now, prior_in_flight);
        }
    }

    /// One loss episode: one response from the controller, whatever number of holes it has.
    fn enter_recovery(&mut self, now: Instant, in_flight: u32) {
        self.recover = Some(self.q.nxt);
        self.undo = Some((0, self.q.una, self.q.nxt));
        self.stats.episodes += 1;
        self.cc.on_loss_episode(now, in_flight);
        self.prr = self.cc.uses_prr().then(|| Prr::start(in_flight));
        self.tlp_at = None;
        // An outstanding probe's repair is part of this episode, not one more.
        self.tlp = Tlp::default();
    }

    /// RFC 8985 7.4: once the probe is acknowledged, a retransmitted probe that no D-SACK called a
    /// duplicate repaired a loss nobody else saw: that is a loss episode too.
    fn tlp_check(&mut self, now: Instant, ack: Seq, prior_in_flight: u32) {
        let Some((end, retrans)) = self.tlp.probe else {
            return;
        };
        if ack.at_or_after(end) {
            if retrans && !self.tlp.dsacked && !self.in_recovery() {
                self.stats.episodes += 1;
                self.cc.on_loss_episode(now, prior_in_flight);
            }
            self.tlp = Tlp::default();
        }
    }

    /// Restarts the RTO and the probe timer after progress or a send.
    fn rearm(&mut self, now: Instant) {
        if self.q.outstanding() == 0 {
            (self.rto_at, self.tlp_at, self.reo_at) = (None, None, None);
            return;
        }
        let rto = now + self.rto.timeout();
        self.rto_at = Some(rto);
        self.tlp_at = (!self.in_recovery() && self.tlp.probe.is_none())
            .then(|| (now + rack::pto(self.rto.srtt(), self.q.in_flight(), self.mss)).min(rto));
    }

    /// Bytes the window allows now.
    fn allowance(&self) -> u32 {
        match &self.prr {
            Some(prr) if !self.rto_recovery => prr.budget(),
            _ => self.cc.cwnd().saturating_sub(self.q.in_flight()),
        }
    }

    /// The next segment to send now, if any. `fin` asks for a FIN after the queued data.
    pub fn next(&mut self, now: Instant, fin: bool) -> Option<Tx> {
        // Out of data: a wait from here is idleness, which the pacer does not make up for.
        if self.q.unsent() == 0 {
            self.pacer.idle();
        }
        self.pace_wait = self.pacing && !self.pacer.ready(now) && !self.probe_due;
        if self.pace_wait {
            return None;
        }
        if self.probe_due {
            return self.probe(fin);
        }
        let allowance = self.allowance();
        if allowance > 0 {
            if let Some(i) = self.q.first_lost() {
                let r = *self.q.record(i);
                return Some(Tx::resend(&r, false));
            }
        }
        let unsent = self.q.unsent();
        let usable = self.q.una.plus(self.wnd).bytes_since(self.q.nxt);
        if unsent > 0 && allowance > 0 && usable > 0 {
            let len = unsent.min(self.mss).min(usable);
            // Sender-side silly window avoidance: no small segment just because the window is small.
            if len == unsent.min(self.mss) || self.q.outstanding() == 0 {
                return Some(Tx::new_data(self.q.nxt, len, fin && len == unsent, false));
            }
        }
        if unsent == 0 && fin && !self.q.fin_sent {
            return Some(Tx::new_data(self.q.nxt, 0, true, false));
        }
        if unsent == 0 && allowance > 0 {
            self.rate.app_limited(self.q.in_flight());
        }
        None
    }

    /// The tail loss probe: new data if the peer's window has room, else the last segment again.
    fn probe(&mut self, fin: bool) -> Option<Tx> {
        self.probe_due = false;
        let unsent = self.q.unsent();
        let usable = self.q.una.plus(self.wnd).bytes_since(self.q.nxt);
        if unsent > 0 && usable > 0 {
            let len = unsent.min(self.mss).min(usable);
            return Some(Tx::new_data(self.q.nxt, len, fin && len == unsent, true));
        }
        let r = *self.q.records().iter().rev().find(|r| !r.sacked)?;
        Some(Tx::resend(&r, true))
    }

    /// `tx` went out now; `tsval` is the timestamp it carried (0 without timestamps).
    pub fn sent(&mut self, now: Instant, tx: Tx, tsval: u32) {
        let stamp = self.rate.on_send(now, self.q.in_flight());
        let bytes = tx.len + u32::from(tx.fin);
        if tx.retransmit {
            let i = self.q.records().partition_point(|r| r.start.before(tx.seq));
            self.q.resent(i, now, stamp);
            self.stats.retransmits += 1;
            if let Some((left, ..)) = self.undo.as_mut().filter(|_| !self.rto_recovery) {
                *left += 1;
            }
            if self.rto_tsval.is_none() && self.rto_recovery && tsval != 0 {
                self.rto_tsval = Some(tsval);
            }
        } else {
            self.q.sent_new(tx.len, tx.fin, now, stamp);
        }
        if let Some(prr) = &mut self.prr {
            prr.on_send(bytes.max(1));
        }
        if self.pacing {
            self.pacer
                .on_send(now, bytes + 52, self.cc.pacing_rate(self.rto.srtt()));
        }
        if tx.probe {
            self.tlp.probe = Some((tx.seq.plus(bytes), tx.retransmit));
            self.tlp.dsacked = false;
            self.rto_at = Some(now + self.rto.timeout());
        } else if self.rto_at.is_none() {
            self.rearm(now);
        } else if !tx.retransmit && !self.in_recovery() && self.tlp.probe.is_none() {
            // The probe timer runs from the latest new data (RFC 8985 7.2); the RTO from the oldest.
            let pto = now + rack::pto(self.rto.srtt(), self.q.in_flight(), self.mss);
            self.tlp_at = Some(self.rto_at.map_or(pto, |r| pto.min(r)));
        }
    }

    /// When a timer of the sender (or the pacer, if something waits for it) next needs attention.
    pub fn poll_at(&self) -> Option<Instant> {
        let mut at = [self.rto_at, self.tlp_at, self.reo_at]
            .into_iter()
            .flatten()
            .min();
        if self.pace_wait {
            if let Some(p) = self.pacer.next() {
                at = Some(at.map_or(p, |a| a.min(p)));
            }
        }
        at
    }

    /// Runs whichever timers are due.
    pub fn on_timers(&mut self, now: Instant) {
        if self.reo_at.is_some_and(|t| t <= now) {
            self.reo_at = None;
            let prior = self.q.in_flight();
            self.detect_loss(now);
            if self.q.lost > 0 && !self.in_recovery() {
                self.enter_recovery(now, prior);
            }
            if let Some(prr) = &mut self.prr {
                // Nothing was delivered, but what was just marked lost must be repairable now.
                prr.on_ack(0, self.q.in_flight(), self.cc.ssthresh(), self.mss);
            }
        }
        if self.tlp_at.is_some_and(|t| t <= now) {
            self.tlp_at = None;
            self.probe_due = true;
            self.stats.tlps += 1;
        }
        if self.rto_at.is_some_and(|t| t <= now) {
            self.on_rto(now);
        }
    }

    fn on_rto(&mut self, now: Instant) {
        self.stats.rtos += 1;
        let reo = self
            .rack
            .reo_wnd(true, 0, self.rto.min_rtt, self.rto.srtt());
        self.rack.on_rto(&mut self.q, now, reo);
        self.cc.on_rto(now);
        self.rto.back_off();
        self.recover = Some(self.q.nxt);
        self.rto_recovery = true;
        self.prr = None;
        self.undo = None;
        self.rto_tsval = None;
        self.tlp = Tlp::default();
        self.probe_due = false;
        self.rto_at = Some(now + self.rto.timeout());
        self.tlp_at = None;
    }

    /// The retransmission timer's deadline (a test's view).
    pub fn rto_at(&self) -> Option<Instant> {
        self.rto_at
    }
}
