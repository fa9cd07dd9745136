//! How far ACKs run ahead of the bandwidth model, for BBR's window (the idea of Linux's
//! `bbr_update_ack_aggregation`). Deliveries arrive in batches, not evenly: the peer acknowledges every
//! other segment or a whole GRO batch, the tunnel and this stack move packets in batches, a thread wakes
//! late. While a batch is held up the sender must keep sending, or the pipe drains: a window of 2 x BDP
//! measured at a quiet moment is too small whenever the batches are long against the RTT (on a path of
//! 0.1 ms, always).
//!
//! An epoch starts when deliveries have fallen behind what the bandwidth estimate expects since it began;
//! the excess delivered beyond that expectation is the aggregation. The largest excess over the last 5 to
//! 10 rounds (two slots of 5) is added to the window, capped at 100 ms of the bandwidth and at the window.

use std::time::Instant;

const ROUNDS_PER_SLOT: u64 = 5;

#[derive(Default)]
pub struct AckAggregation {
    epoch_start: Option<Instant>,
    epoch_delivered: u64,
    slots: [u64; 2],
    slot: usize,
    slot_round: u64,
}

impl AckAggregation {
    /// One ACK delivered `delivered` bytes at `now`; `bw` is the model's bandwidth (bytes/s).
    pub fn on_ack(&mut self, now: Instant, delivered: u64, bw: u64, round: u64, cwnd: u64) {
        if round >= self.slot_round + ROUNDS_PER_SLOT {
            self.slot ^= 1;
            self.slots[self.slot] = 0;
            self.slot_round = round;
        }
        if delivered == 0 || bw == 0 {
            return;
        }
        let start = *self.epoch_start.get_or_insert(now);
        let mut expected =
            (u128::from(bw) * now.saturating_duration_since(start).as_micros() / 1_000_000) as u64;
        if self.epoch_delivered <= expected {
            // Caught up with the model: a new epoch begins here.
            self.epoch_start = Some(now);
            self.epoch_delivered = 0;
            expected = 0;
        }
        self.epoch_delivered += delivered;
        let extra = (self.epoch_delivered - expected).min(cwnd);
        self.slots[self.slot] = self.slots[self.slot].max(extra);
    }

    /// Bytes the window allows beyond the model for batched ACKs.
    pub fn extra(&self, bw: u64) -> u64 {
        self.slots[0].max(self.slots[1]).min(bw / 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn batches_ahead_of_the_rate_are_measured_and_even_deliveries_are_not() {
        let t0 = Instant::now();
        let bw = 100_000_000; // 100 MB/s: 100 KB per ms
        let mut even = AckAggregation::default();
        for k in 0..100u32 {
            even.on_ack(
                t0 + Duration::from_micros(u64::from(k) * 10),
                1_000,
                bw,
                0,
                1 << 30,
            );
        }
        assert!(even.extra(bw) <= 1_000, "even: {}", even.extra(bw));
        // Every millisecond, 200 KB at once: twice what the rate explains.
        let mut batched = AckAggregation::default();
        for k in 0..20u64 {
            batched.on_ack(t0 + Duration::from_millis(k), 200_000, bw, 0, 1 << 30);
        }
        assert!(
            batched.extra(bw) >= 100_000,
            "batched: {}",
            batched.extra(bw)
        );
        // Capped at 100 ms of the rate and at the window.
        assert!(batched.extra(1_000_000) <= 100_000);
    }
}
