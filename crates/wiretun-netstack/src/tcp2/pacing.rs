//! Pacing: segments spaced at the controller's rate instead of sent in bursts as ACKs arrive, so a
//! rate-based controller's estimate is not spoiled by its own bursts and a shallow queue on the path is not
//! overrun. The core holds a segment back until its time and reports that time through `poll_at`.

use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Pacer {
    next: Option<Instant>,
}

impl Pacer {
    /// May a segment go now?
    pub fn ready(&self, now: Instant) -> bool {
        self.next.is_none_or(|t| now >= t)
    }

    /// When the next segment may go (`None`: any time).
    pub fn next(&self) -> Option<Instant> {
        self.next
    }

    /// A segment of `bytes` went out now; `rate` is the pacing rate in bytes per second (`None` or 0: no
    /// pacing). Time not used is not banked beyond the present: an idle sender starts paced, not in a burst.
    pub fn on_send(&mut self, now: Instant, bytes: u32, rate: Option<u64>) {
        self.next = rate.filter(|&r| r > 0).map(|r| {
            let base = self.next.map_or(now, |t| t.max(now));
            base + Duration::from_nanos(u64::from(bytes) * 1_000_000_000 / r)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_segments_at_the_rate() {
        let t0 = Instant::now();
        let mut p = Pacer::default();
        assert!(p.ready(t0));
        p.on_send(t0, 1000, Some(1_000_000));
        assert!(!p.ready(t0 + Duration::from_micros(999)));
        assert!(p.ready(t0 + Duration::from_millis(1)));
        p.on_send(t0, 1000, None);
        assert!(p.ready(t0));
    }
}
