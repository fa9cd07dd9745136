//! Delivery-rate sampling (draft-cheng-iccrg-delivery-rate-estimation): each segment remembers how much had
//! been delivered when it was sent; when it is delivered (cumulatively or by SACK), the data delivered in
//! between over the longer of the send and ACK intervals is one rate sample. BBR's model is built from these.

use std::time::{Duration, Instant};

/// The sampler's state stamped on a segment when it is sent.
#[derive(Clone, Copy, Debug)]
pub struct TxState {
    pub delivered: u64,
    pub delivered_at: Instant,
    pub first_sent_at: Instant,
    pub app_limited: bool,
}

/// One rate sample.
#[derive(Clone, Copy, Debug)]
pub struct RateSample {
    /// Bytes per second.
    pub rate: u64,
    pub delivered: u64,
    pub interval: Duration,
    /// Sent while the application had nothing more to send: a lower bound, not the path's rate.
    pub app_limited: bool,
}

pub struct RateEstimator {
    /// Bytes delivered over the connection's life.
    pub delivered: u64,
    delivered_at: Instant,
    first_sent_at: Instant,
    /// While `delivered` is below this, samples are application-limited (0: not limited).
    app_limited_until: u64,
    /// The freshest delivered segment of the ACK being processed.
    best: Option<(TxState, Instant)>,
}

impl RateEstimator {
    pub fn new(now: Instant) -> RateEstimator {
        RateEstimator {
            delivered: 0,
            delivered_at: now,
            first_sent_at: now,
            app_limited_until: 0,
            best: None,
        }
    }

    /// Stamps a segment sent now, with `in_flight` bytes already in the network.
    pub fn on_send(&mut self, now: Instant, in_flight: u32) -> TxState {
        if in_flight == 0 {
            self.first_sent_at = now;
            self.delivered_at = now;
        }
        TxState {
            delivered: self.delivered,
            delivered_at: self.delivered_at,
            first_sent_at: self.first_sent_at,
            app_limited: self.app_limited_until != 0,
        }
    }

    /// The sender ran out of data with room in its window: samples until these bytes are delivered
    /// understate the path.
    pub fn app_limited(&mut self, in_flight: u32) {
        self.app_limited_until = (self.delivered + u64::from(in_flight)).max(1);
    }

    /// `bytes` of a segment stamped `tx`, sent at `sent_at`, were delivered now.
    pub fn on_delivered(&mut self, tx: TxState, sent_at: Instant, bytes: u32, now: Instant) {
        self.delivered += u64::from(bytes);
        self.delivered_at = now;
        if self.best.is_none_or(|(b, _)| tx.delivered >= b.delivered) {
            self.best = Some((tx, sent_at));
        }
    }

    /// The sample of the ACK just processed, if it delivered anything.
    pub fn take_sample(&mut self, now: Instant) -> Option<RateSample> {
        let (tx, sent_at) = self.best.take()?;
        if self.app_limited_until != 0 && self.delivered > self.app_limited_until {
            self.app_limited_until = 0;
        }
        self.first_sent_at = sent_at;
        let send = sent_at.saturating_duration_since(tx.first_sent_at);
        let ack = now.saturating_duration_since(tx.delivered_at);
        let interval = send.max(ack);
        let delivered = self.delivered - tx.delivered;
        if interval.is_zero() {
            return None;
        }
        Some(RateSample {
            rate: (delivered as u128 * 1_000_000 / interval.as_micros().max(1)) as u64,
            delivered,
            interval,
            app_limited: tx.app_limited,
        })
    }
}
