//! Pacing: segments spaced at the controller's rate instead of sent in bursts as ACKs arrive, so a
//! rate-based controller's estimate is not spoiled by its own bursts and a shallow queue on the path is not
//! overrun. The core holds a segment back until its time and reports that time through `poll_at`.
//!
//! A caller that sleeps in whole milliseconds (epoll) wakes late for sub-millisecond gaps; the schedule is
//! kept through such lateness (every segment whose time has passed goes out on waking), or pacing would cap
//! a connection at one segment per wake-up, about 11 Mb/s. Only a sender idle for longer than `SLACK`
//! starts a fresh schedule, so no burst is banked.

use std::time::{Duration, Instant};

/// How far behind its schedule a sender may be and still catch up.
const SLACK: Duration = Duration::from_millis(2);

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
    /// pacing).
    pub fn on_send(&mut self, now: Instant, bytes: u32, rate: Option<u64>) {
        self.next = rate.filter(|&r| r > 0).map(|r| {
            let base = match self.next {
                Some(t) if t + SLACK >= now => t,
                _ => now,
            };
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

    #[test]
    fn a_late_wake_up_catches_up_but_idleness_banks_nothing() {
        let t0 = Instant::now();
        let mut p = Pacer::default();
        // 10 us a segment; woken 1 ms late: the segments due meanwhile may all go now.
        p.on_send(t0, 100, Some(10_000_000));
        let late = t0 + Duration::from_millis(1);
        let mut sent = 0;
        while p.ready(late) && sent < 1000 {
            p.on_send(late, 100, Some(10_000_000));
            sent += 1;
        }
        assert!((99..=101).contains(&sent), "{sent}");
        // Idle for a second: one segment, then the schedule starts again from now.
        let idle = late + Duration::from_secs(1);
        p.on_send(idle, 100, Some(10_000_000));
        assert!(!p.ready(idle));
    }
}
