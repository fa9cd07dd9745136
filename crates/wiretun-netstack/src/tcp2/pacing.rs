//! Pacing: segments spaced at the controller's rate instead of sent in bursts as ACKs arrive, so a
//! rate-based controller's estimate is not spoiled by its own bursts and a shallow queue on the path is not
//! overrun. The core holds a segment back until its time and reports that time through `poll_at`.
//!
//! A caller that sleeps in whole milliseconds (epoll) wakes late for sub-millisecond gaps; the schedule is
//! kept through such lateness (every segment whose time has passed goes out on waking), or pacing would cap
//! a connection at one segment per wake-up, about 11 Mb/s. It is kept however late the sender is, unless
//! the sender was idle (its data all sent): on two busy cores the stack's thread waits milliseconds for the
//! CPU, in a pacing gap or midway through a burst, and when any lateness beyond `SLACK` restarted the
//! schedule, that time was lost for good. The controller then measured the lower rate it achieved, and a
//! lossless upload held at 3.3-3.5 Gb/s ran at 3.9-4.3 once the schedule was kept (0.9 of the machine's
//! CPU busy instead of 0.8). What a late sender catches up on is bounded by its window. A sender idle for
//! longer than `SLACK` starts a fresh schedule, so idleness banks no burst.
//!
//! Segments go in quanta, as Linux's TSO autosizing sends them: a sender may run ahead of its schedule by
//! the time one quantum takes at the rate (64 KiB, at most a millisecond's worth). Spacing single segments
//! at gigabits per second woke the stack every few microseconds to send one, and a lossless upload paced
//! that way ran at a fraction of an unpaced one.

use std::time::{Duration, Instant};

/// How far behind its schedule a sender may be and still catch up.
const SLACK: Duration = Duration::from_millis(2);
/// The most a sender runs ahead of its schedule: a quantum's bytes, or this long at low rates.
const QUANTUM_BYTES: u64 = 64 << 10;
const QUANTUM_MAX: Duration = Duration::from_millis(1);

#[derive(Default)]
pub struct Pacer {
    next: Option<Instant>,
    ahead: Duration,
    /// The sender ran out of data since its last segment: lateness from then on is idleness.
    idle: bool,
}

impl Pacer {
    /// May a segment go now?
    pub fn ready(&self, now: Instant) -> bool {
        self.next.is_none_or(|t| now + self.ahead >= t)
    }

    /// The sender has nothing more to send now.
    pub fn idle(&mut self) {
        self.idle = true;
    }

    /// When the next segment may go (`None`: any time).
    pub fn next(&self) -> Option<Instant> {
        self.next.map(|t| t.checked_sub(self.ahead).unwrap_or(t))
    }

    /// A segment of `bytes` went out now; `rate` is the pacing rate in bytes per second (`None` or 0: no
    /// pacing).
    pub fn on_send(&mut self, now: Instant, bytes: u32, rate: Option<u64>) {
        let rate = rate.filter(|&r| r > 0);
        self.ahead = rate.map_or(Duration::ZERO, |r| {
            Duration::from_nanos(QUANTUM_BYTES * 1_000_000_000 / r).min(QUANTUM_MAX)
        });
        self.next = rate.map(|r| {
            let base = match self.next {
                Some(t) if !self.idle || t + SLACK >= now => t,
                _ => now,
            };
            base + Duration::from_nanos(u64::from(bytes) * 1_000_000_000 / r)
        });
        self.idle = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Segments sent at `now` before the pacer holds one back (bounded).
    fn burst(p: &mut Pacer, now: Instant, bytes: u32, rate: u64) -> u32 {
        let mut sent = 0;
        while p.ready(now) && sent < 100_000 {
            p.on_send(now, bytes, Some(rate));
            sent += 1;
        }
        sent
    }

    #[test]
    fn spaces_quanta_at_the_rate() {
        let t0 = Instant::now();
        let mut p = Pacer::default();
        assert!(p.ready(t0));
        // 100 MB/s, 1000-byte segments: 10 us each; a quantum (64 KiB, 655 us) goes at once.
        let sent = burst(&mut p, t0, 1000, 100_000_000);
        assert!((65..=67).contains(&sent), "{sent}");
        assert!(!p.ready(t0));
        assert!(p.ready(t0 + Duration::from_micros(10)));
        // Slow: at 1 MB/s a millisecond's worth at most.
        let mut slow = Pacer::default();
        assert_eq!(burst(&mut slow, t0, 1000, 1_000_000), 2);
        p.on_send(t0, 1000, None);
        assert!(p.ready(t0));
    }

    #[test]
    fn lateness_is_caught_up_however_long_but_idleness_banks_nothing() {
        let t0 = Instant::now();
        let mut p = Pacer::default();
        // 10 us a segment, a quantum 1 ms; woken 1 ms late: the segments due meanwhile go now, and a quantum.
        p.on_send(t0, 100, Some(10_000_000));
        let late = t0 + Duration::from_millis(1);
        let sent = burst(&mut p, late, 100, 10_000_000);
        assert!((199..=201).contains(&sent), "{sent}");
        // Kept from the CPU for 10 ms with data waiting (far beyond SLACK): the 9 ms still due go (the
        // schedule ran a quantum ahead), and a quantum.
        let busy = late + Duration::from_millis(10);
        let sent = burst(&mut p, busy, 100, 10_000_000);
        assert!((999..=1001).contains(&sent), "{sent}");
        // Idle (all sent) for a second: a quantum, not a second's worth.
        p.idle();
        let idle = busy + Duration::from_secs(1);
        let sent = burst(&mut p, idle, 100, 10_000_000);
        assert!((100..=102).contains(&sent), "{sent}");
        // Idle for less than SLACK banks what is due, as lateness does.
        p.idle();
        let sent = burst(&mut p, idle + Duration::from_millis(1), 100, 10_000_000);
        assert!((99..=101).contains(&sent), "{sent}");
    }
}
