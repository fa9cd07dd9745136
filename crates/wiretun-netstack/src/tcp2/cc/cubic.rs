//! CUBIC (RFC 9438), in bytes. Slow start to the first loss (no HyStart), then the window follows
//! `W(t) = C (t - K)^3 + W_max` from the last reduction, never below the Reno-friendly estimate; each loss
//! episode multiplies it by 0.7 once, with fast convergence. A timeout goes back to one segment (the
//! threshold set as for a loss); a spurious episode or timeout is undone.

use std::time::Instant;

use super::{Ack, CongestionControl, INITIAL_SEGMENTS};

const C: f64 = 0.4;
const BETA: f64 = 0.7;

pub struct Cubic {
    mss: u32,
    cwnd: u32,
    ssthresh: u32,
    /// Window before the last reduction (in segments, as the RFC's formulas are).
    w_max: f64,
    /// Reno-friendly estimate, segments.
    w_est: f64,
    k: f64,
    epoch: Option<Instant>,
    /// For undo: (cwnd, ssthresh, w_max) before the last reduction.
    prior: Option<(u32, u32, f64)>,
    /// Fractional bytes of growth carried between ACKs.
    carry: f64,
}

impl Cubic {
    pub fn new(mss: u32) -> Cubic {
        Cubic {
            mss,
            cwnd: INITIAL_SEGMENTS * mss,
            ssthresh: u32::MAX,
            w_max: 0.0,
            w_est: 0.0,
            k: 0.0,
            epoch: None,
            prior: None,
            carry: 0.0,
        }
    }

    fn segments(&self, bytes: u32) -> f64 {
        f64::from(bytes) / f64::from(self.mss)
    }

    fn reduce(&mut self, now: Instant) {
        self.prior = Some((self.cwnd, self.ssthresh, self.w_max));
        let w = self.segments(self.cwnd);
        // Fast convergence (RFC 9438 4.7): a flow whose window fell since the last loss yields more.
        self.w_max = if w < self.w_max {
            w * (1.0 + BETA) / 2.0
        } else {
            w
        };
        self.ssthresh = ((f64::from(self.cwnd) * BETA) as u32).max(2 * self.mss);
        self.k = (self.w_max * (1.0 - BETA) / C).cbrt();
        self.w_est = self.segments(self.ssthresh);
        self.epoch = Some(now);
    }
}

impl CongestionControl for Cubic {
    fn name(&self) -> &'static str {
        "cubic"
    }

    fn on_ack(&mut self, ack: &Ack) {
        if ack.in_recovery || ack.delivered == 0 {
            return;
        }
        if self.cwnd < self.ssthresh {
            self.cwnd = self
                .cwnd
                .saturating_add(ack.delivered.min(self.ssthresh - self.cwnd));
            return;
        }
        let epoch = *self.epoch.get_or_insert_with(|| {
            self.w_max = f64::from(self.cwnd) / f64::from(self.mss);
            self.w_est = self.w_max;
            self.k = 0.0;
            ack.now
        });
        let rtt = ack.srtt.unwrap_or_default().as_secs_f64();
        let t = ack.now.saturating_duration_since(epoch).as_secs_f64() + rtt;
        let target = C * (t - self.k).powi(3) + self.w_max;
        let w = self.segments(self.cwnd);
        let acked = self.segments(ack.delivered);
        self.w_est += 3.0 * (1.0 - BETA) / (1.0 + BETA) * acked / w;
        let goal = target.max(self.w_est).min(1.5 * w);
        if goal > w {
            self.carry += (goal - w) / w * acked * f64::from(self.mss);
            let grow = self.carry as u32;
            self.carry -= f64::from(grow);
            self.cwnd = self.cwnd.saturating_add(grow);
        }
    }

    fn on_loss_episode(&mut self, now: Instant, _in_flight: u32) {
        self.reduce(now);
        self.cwnd = self.ssthresh;
    }

    fn on_rto(&mut self, now: Instant) {
        self.reduce(now);
        self.cwnd = self.mss;
    }

    fn undo(&mut self) {
        if let Some((cwnd, ssthresh, w_max)) = self.prior.take() {
            self.cwnd = cwnd;
            self.ssthresh = ssthresh;
            self.w_max = w_max;
            self.epoch = None;
        }
    }

    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn pacing_rate(&self, _srtt: Option<std::time::Duration>) -> Option<u64> {
        None
    }
}
