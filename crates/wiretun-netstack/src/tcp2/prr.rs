//! Proportional rate reduction (RFC 6937): during recovery, what may be sent on each ACK, so the amount in
//! flight glides to the controller's target (`ssthresh`) as data is delivered instead of dropping at once
//! (a silence, then a burst) or staying high. Below the target it grows back with slow-start reduction
//! bound (PRR-SSRB): at most one segment more than delivered per ACK.

pub struct Prr {
    /// Bytes in flight when recovery began.
    recover_fs: u32,
    delivered: u64,
    out: u64,
    /// What may still be sent for the latest ACK.
    budget: u32,
}

impl Prr {
    pub fn start(in_flight: u32) -> Prr {
        Prr {
            recover_fs: in_flight.max(1),
            delivered: 0,
            out: 0,
            budget: 0,
        }
    }

    /// An ACK delivered `delivered` bytes (cumulatively or by SACK); `pipe` is what is in flight now.
    pub fn on_ack(&mut self, delivered: u32, pipe: u32, ssthresh: u32, mss: u32) {
        self.delivered += u64::from(delivered);
        let sndcnt: i64 = if pipe > ssthresh {
            // Proportional part: out tracks delivered * ssthresh / recover_fs (rounded up).
            let target =
                (self.delivered * u64::from(ssthresh)).div_ceil(u64::from(self.recover_fs));
            target as i64 - self.out as i64
        } else {
            let limit = (self.delivered as i64 - self.out as i64).max(i64::from(delivered))
                + i64::from(mss);
            i64::from(ssthresh - pipe).min(limit)
        };
        // The first ACK of a recovery always repairs one segment (as Linux does): otherwise a loss found by
        // a timer, with nothing delivered, would wait for the next ACK.
        let floor = if self.out == 0 { i64::from(mss) } else { 0 };
        self.budget = sndcnt.max(floor) as u32;
    }

    /// Bytes the sender may send now.
    pub fn budget(&self) -> u32 {
        self.budget
    }

    pub fn on_send(&mut self, bytes: u32) {
        self.out += u64::from(bytes);
        self.budget = self.budget.saturating_sub(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_in_proportion_then_grows_one_segment_beyond() {
        // 10 segments in flight, target 7: each delivered segment allows 0.7 of one.
        let mss = 1000;
        let mut p = Prr::start(10 * mss);
        let mut sent = 0;
        for k in 1..=5u32 {
            p.on_ack(mss, 10 * mss - k * mss + sent, 7 * mss, mss);
            sent += p.budget();
            p.on_send(p.budget());
        }
        // After 5 deliveries with the pipe still above 7 segments, ceil(5 * 0.7) segments went out.
        assert_eq!(sent, 3500);
        // Pipe below the target: up to it, but no more than delivered-not-sent plus one segment.
        p.on_ack(mss, 4 * mss, 7 * mss, mss);
        assert_eq!(p.budget(), 3000);
        p.on_ack(mss, mss, 7 * mss, mss);
        assert_eq!(
            p.budget(),
            7000 - 3500 + mss,
            "SSRB: delivered minus sent, plus one"
        );
    }
}
