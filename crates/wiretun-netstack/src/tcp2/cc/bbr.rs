//! A simple rate-based controller in the manner of BBR (v1, draft-cardwell-iccrg-bbr-congestion-control),
//! sized for this stack's job: long transfers over tunnels whose loss is mostly random.
//!
//! The model: the bottleneck bandwidth is the largest delivery rate sampled over the last 10 round trips
//! (a windowed max filter), the propagation delay the smallest RTT of the last 10 s; their product is the
//! BDP. The window is 2 x BDP plus three send quanta (below), the pacing rate a gain times
//! the bandwidth. Phases: STARTUP (gain 2.89, until the bandwidth stops growing by 25 % for three rounds),
//! DRAIN (the inverse gain, until in flight is down to one BDP), then PROBE_BW cycling the pacing gain
//! through 1.25, 0.75 and six rounds of 1. Startup's end is v2's, loss-tolerant: a round spent repairing
//! losses (held by packet conservation) is no evidence of a full pipe, so only rounds outside recovery
//! count toward the plateau; two rounds in a row that each lose more than 5 % of what they delivered (and
//! over 8 segments) end it at once (a queue overflowing). One such round was enough before, and random
//! loss of 3 % makes one often enough (rounds of 100-300 segments): in a simulation at 150 ms and 3 % loss,
//! a quarter of the transfers left startup early and ran at 10-25 Mb/s instead of about 40. With v1's
//! rule, random loss in the first rounds ended startup at a fraction of the path and PROBE_BW's 1.25 gain
//! took many seconds to climb back (traced through the proxy).
//!
//! Loss does not reduce the model: a random loss says nothing about the bottleneck, and a real queue
//! overflow is bounded by the 2 x BDP window. That is BBR v1's answer; v2's loss-rate ceiling is left out.
//! As in v1, recovery (which this controller runs without PRR) starts with one round of packet
//! conservation (the window is what is in flight plus what each ACK delivers: a segment out for each one
//! that left), then grows back to the model's window by what is delivered, and is the model's again when
//! recovery ends.
//! Also simplified: no PROBE_RTT phase (min RTT just expires after 10 s and takes the next sample), no
//! long-term policer detection, no ACK-aggregation estimate beyond the quanta. On a timeout the window
//! goes to one segment beyond what is in flight and comes back as the model is fed again.

use std::time::{Duration, Instant};

use super::ack_aggregation::AckAggregation;
use super::{Ack, CongestionControl, INITIAL_SEGMENTS};

const STARTUP_GAIN: f64 = 2.885;
const CWND_GAIN: f64 = 2.0;
const CYCLE: [f64; 8] = [1.25, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
const BW_ROUNDS: usize = 10;
const MIN_RTT_WINDOW: Duration = Duration::from_secs(10);
/// Startup ends on rounds losing more than this share of what they delivered: a queue overflowing, not
/// random loss (v2 uses 2 %; a tunnel over a lossy radio path sees more than that at random).
const STARTUP_LOSS_RATE: f64 = 0.05;
/// ... and more than this many segments (v2's count of loss events for the same exit).
const STARTUP_LOSS_SEGMENTS: u64 = 8;
/// `recovery`'s round before the episode's first ACK has counted rounds.
const CONSERVATION_PENDING: u64 = u64::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Startup,
    Drain,
    ProbeBw,
}

pub struct Bbr {
    mss: u32,
    pub phase: Phase,
    /// Max delivery rate of each of the last rounds (bytes/s), indexed by round modulo the size.
    bw_slots: [(u64, u64); BW_ROUNDS],
    /// `max_bw()` as of the last ACK: the window and the pacing rate read it for every segment sent.
    bw: u64,
    min_rtt: Option<(Duration, Instant)>,
    /// Round counting: a round ends when data sent after its start is delivered.
    round: u64,
    round_end_delivered: u64,
    delivered: u64,
    full_bw: u64,
    full_bw_rounds: u32,
    cycle: usize,
    cycle_at: Instant,
    /// After a timeout, the window until the next ACK rebuilds it.
    rto_cwnd: Option<u32>,
    /// Delivered and lost bytes in the current round (startup's loss exit).
    round_delivered: u64,
    round_lost: u64,
    /// Rounds in a row that lost more than `STARTUP_LOSS_RATE`.
    loss_rounds: u8,
    /// In recovery: its window, and the round until which packet conservation holds.
    recovery: Option<(u32, u64)>,
    in_flight: u32,
    aggregation: AckAggregation,
}

impl Bbr {
    pub fn new(mss: u32, now: Instant) -> Bbr {
        Bbr {
            mss,
            phase: Phase::Startup,
            bw_slots: [(0, 0); BW_ROUNDS],
            bw: 0,
            min_rtt: None,
            round: 0,
            round_end_delivered: 0,
            delivered: 0,
            full_bw: 0,
            full_bw_rounds: 0,
            cycle: 0,
            cycle_at: now,
            rto_cwnd: None,
            round_delivered: 0,
            round_lost: 0,
            loss_rounds: 0,
            recovery: None,
            in_flight: 0,
            aggregation: AckAggregation::default(),
        }
    }

    /// Bottleneck bandwidth estimate, bytes/s.
    pub fn bw(&self) -> u64 {
        self.bw
    }

    /// The windowed maximum over the slots of the last `BW_ROUNDS` rounds.
    fn max_bw(&self) -> u64 {
        self.bw_slots
            .iter()
            .filter(|(r, _)| r + BW_ROUNDS as u64 > self.round)
            .map(|&(_, bw)| bw)
            .max()
            .unwrap_or(0)
    }

    fn bdp(&self) -> Option<u64> {
        let (rtt, _) = self.min_rtt?;
        let bw = self.bw();
        (bw > 0).then(|| (bw as u128 * rtt.as_micros() / 1_000_000) as u64)
    }

    /// What leaves in one go at the pacing rate: a millisecond's worth, 2 segments to 64 KiB (Linux's TSO
    /// goal for BBR). ACKs come back in batches of about that much (the stack, the tunnel and the peer all
    /// work in batches), so a window of 2 x BDP alone starves a path whose RTT is well under a millisecond:
    /// with a 0.1 ms minimum RTT it was some 20 segments, and a lossless upload ran at a third of smoltcp's.
    fn send_quantum(&self) -> u64 {
        let per_ms = (self.bw() as f64 * self.pacing_gain() / 1000.0) as u64;
        per_ms.clamp(2 * u64::from(self.mss), 64 << 10)
    }

    /// The model's window: the gain times the BDP, plus three send quanta for batched, delayed and stretched
    /// ACKs (Linux's quantization budget).
    fn target_cwnd(&self) -> u32 {
        let min = 4 * self.mss;
        match self.bdp() {
            None => INITIAL_SEGMENTS * self.mss,

            Some(bdp) => {
                let gain = if self.phase == Phase::Startup {
                    STARTUP_GAIN
                } else {
                    CWND_GAIN
                };
                let mut w = (bdp as f64 * gain) as u64 + 3 * self.send_quantum();
                if self.phase != Phase::Startup {
                    w += self.aggregation.extra(self.bw());
                }
                (w.min(u64::from(u32::MAX)) as u32).max(min)
            }
        }
    }

    fn pacing_gain(&self) -> f64 {
        match self.phase {
            Phase::Startup => STARTUP_GAIN,
            Phase::Drain => 1.0 / STARTUP_GAIN,
            Phase::ProbeBw => CYCLE[self.cycle],
        }
    }

    fn update_round(&mut self, ack: &Ack) -> bool {
        self.delivered += u64::from(ack.delivered);
        let Some(rs) = ack.rate else { return false };
        // The sample's segment was sent when `delivered - rs.delivered` had been delivered: a round is over
        // once a segment sent after the round began comes back.
        if self.delivered - rs.delivered >= self.round_end_delivered {
            self.round += 1;
            self.round_end_delivered = self.delivered;
            return true;
        }
        false
    }

    fn update_model(&mut self, ack: &Ack) {
        if let Some(rs) = ack.rate {
            // Fresh: the round may have just moved on, taking the oldest slot out of the window.
            let bw = self.max_bw();
            let slot = &mut self.bw_slots[(self.round % BW_ROUNDS as u64) as usize];
            if slot.0 != self.round {
                *slot = (self.round, 0);
            }
            // An application-limited sample only counts if it raises the estimate.
            if !rs.app_limited || rs.rate > bw {
                slot.1 = slot.1.max(rs.rate);
            }
        }
        self.bw = self.max_bw();
        // Never the rate sample's RTT: its segment may be a retransmission whose ACK was the original's,
        // which made a reordered segment's 2 ms "RTT" the minimum (and the window 4 segments) for 10 s.
        if let Some(rtt) = ack.rtt.or(ack.min_rtt) {
            let expired = self
                .min_rtt
                .is_none_or(|(_, at)| ack.now.saturating_duration_since(at) > MIN_RTT_WINDOW);
            if expired || self.min_rtt.is_some_and(|(m, _)| rtt <= m) {
                self.min_rtt = Some((rtt, ack.now));
            }
        }
    }

    fn update_phase(&mut self, ack: &Ack, new_round: bool) {
        match self.phase {
            Phase::Startup if new_round => {
                let (delivered, lost) = (self.round_delivered, self.round_lost);
                (self.round_delivered, self.round_lost) = (0, 0);
                let bw = self.bw();
                let high = lost > STARTUP_LOSS_SEGMENTS * u64::from(self.mss)
                    && lost as f64 > STARTUP_LOSS_RATE * delivered as f64;
                self.loss_rounds = if high { self.loss_rounds + 1 } else { 0 };
                if self.loss_rounds >= 2 {
                    self.phase = Phase::Drain;
                } else if bw >= self.full_bw + self.full_bw / 4 {
                    self.full_bw = bw;
                    self.full_bw_rounds = 0;
                } else if !ack.rate.is_some_and(|r| r.app_limited) && !ack.in_recovery {
                    self.full_bw_rounds += 1;
                    if self.full_bw_rounds >= 3 {
                        self.phase = Phase::Drain;
                    }
                }
            }
            Phase::Drain if self.bdp().is_some_and(|b| u64::from(ack.in_flight) <= b) => {
                self.phase = Phase::ProbeBw;
                self.cycle = 2;
                self.cycle_at = ack.now;
            }
            Phase::ProbeBw => {
                let rtt = self.min_rtt.map_or(Duration::from_millis(10), |(r, _)| r);
                if ack.now.saturating_duration_since(self.cycle_at) > rtt {
                    self.cycle = (self.cycle + 1) % CYCLE.len();
                    self.cycle_at = ack.now;
                }
            }
            _ => {}
        }
    }
}

impl CongestionControl for Bbr {
    fn name(&self) -> &'static str {
        "bbr"
    }

    fn on_ack(&mut self, ack: &Ack) {
        self.in_flight = ack.in_flight;
        self.round_delivered += u64::from(ack.delivered);
        self.round_lost += u64::from(ack.lost);
        let new_round = self.update_round(ack);
        self.update_model(ack);
        let cwnd = u64::from(self.cwnd());
        self.aggregation.on_ack(
            ack.now,
            u64::from(ack.delivered),
            self.bw(),
            self.round,
            cwnd,
        );
        self.update_phase(ack, new_round);
        if ack.delivered > 0 {
            self.rto_cwnd = None;
        }
        if let Some((w, mut until)) = self.recovery {
            // The episode began on this ACK (the sender reports it first): conservation lasts until the
            // round after the one this ACK leaves running, even when this ACK itself ended a round.
            if until == CONSERVATION_PENDING {
                until = self.round + 1;
            }
            let w = if self.round < until {
                w.max(ack.in_flight + ack.delivered)
            } else {
                w.saturating_add(ack.delivered).min(self.target_cwnd())
            };
            self.recovery = Some((w, until));
        }
    }

    fn on_loss_episode(&mut self, _now: Instant, in_flight: u32) {
        self.in_flight = in_flight;
        // The episode's first ACK sets the window to what it leaves in flight plus what it delivered, as
        // Linux's BBR does on entering recovery. Ending conservation on that same ACK, when it also closed
        // a round, left the window growing from 4 segments over several round trips.
        self.recovery = Some((0, CONSERVATION_PENDING));
    }

    fn on_recovery_end(&mut self) {
        self.recovery = None;
    }

    fn uses_prr(&self) -> bool {
        false
    }

    fn on_rto(&mut self, _now: Instant) {
        self.rto_cwnd = Some(self.mss);
    }

    fn undo(&mut self) {
        self.rto_cwnd = None;
    }

    fn cwnd(&self) -> u32 {
        if let Some(c) = self.rto_cwnd {
            return c;
        }
        match self.recovery {
            Some((w, _)) => w.max(4 * self.mss),
            None => self.target_cwnd(),
        }
    }

    fn ssthresh(&self) -> u32 {
        // Recovery aims at the model's window (PRR is not used; this is for a caller's information).
        self.target_cwnd()
    }

    fn pacing_rate(&self, srtt: Option<Duration>) -> Option<u64> {
        let bw = self.bw();
        let rate = if bw == 0 {
            // No sample yet: the initial window over the RTT (the handshake's; 1 ms before any), with the
            // startup gain.
            let rtt = self
                .min_rtt
                .map(|(r, _)| r)
                .or(srtt)
                .unwrap_or(Duration::from_millis(1));
            u64::from(INITIAL_SEGMENTS * self.mss) * 1_000_000 / rtt.as_micros().max(1) as u64
        } else {
            bw
        };
        Some((rate as f64 * self.pacing_gain()) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp2::rate::RateSample;

    const MSS: u32 = 1000;
    const RTT: Duration = Duration::from_millis(50);

    /// An ACK whose rate sample ends a round (its segment was sent when nothing had been delivered yet).
    fn round_ending_ack(now: Instant, delivered: u32, in_flight: u32) -> Ack {
        let rate = RateSample {
            rate: 10_000_000,
            delivered: 0,
            interval: RTT,
            app_limited: false,
        };
        Ack {
            now,
            delivered,
            in_flight,
            lost: 0,
            rate: Some(rate),
            rtt: Some(RTT),
            min_rtt: Some(RTT),
            srtt: Some(RTT),
            in_recovery: false,
        }
    }

    /// A round of 100 segments at `rate` bytes/s losing `lost` of them.
    fn round(now: Instant, rate: u64, lost: u32) -> Ack {
        let mut ack = round_ending_ack(now, 100 * MSS, 100 * MSS);
        ack.rate.as_mut().unwrap().rate = rate;
        ack.lost = lost * MSS;
        ack
    }

    #[test]
    fn startup_outlasts_a_round_of_random_loss_but_not_two() {
        let t0 = Instant::now();
        let mut bbr = Bbr::new(MSS, t0);
        // The bandwidth doubles each round: no plateau ends startup; only loss can.
        let losses = [0, 0, 10, 0, 10, 0, 10, 10];
        for (k, lost) in losses.into_iter().enumerate() {
            assert_eq!(bbr.phase, Phase::Startup, "before round {k}");
            bbr.on_ack(&round(t0 + RTT * (k as u32 + 1), 1_000_000 << k, lost));
        }
        assert_eq!(bbr.phase, Phase::Drain, "two lossy rounds in a row");
    }

    #[test]
    fn an_episode_whose_first_ack_ends_a_round_keeps_what_is_in_flight() {
        let t0 = Instant::now();
        let mut bbr = Bbr::new(MSS, t0);
        for k in 1..=20 {
            bbr.on_ack(&round_ending_ack(t0 + RTT * k, 10 * MSS, 400_000));
        }
        assert_ne!(bbr.phase, Phase::Startup, "the model settled");
        bbr.on_loss_episode(t0 + RTT * 21, 400_000);
        bbr.on_ack(&round_ending_ack(t0 + RTT * 21, MSS, 399_000));
        // Packet conservation: a segment out for each one that left, from what is in flight, not from 4.
        assert!(
            bbr.cwnd() >= 400_000,
            "cwnd {} fell in recovery",
            bbr.cwnd()
        );
        // The next round ends conservation: the window grows back toward the model's by what is delivered.
        bbr.on_ack(&round_ending_ack(t0 + RTT * 22, 10 * MSS, 390_000));
        assert!(bbr.cwnd() >= 400_000 + 10 * MSS);
    }
}
