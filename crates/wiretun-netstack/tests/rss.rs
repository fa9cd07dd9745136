//! TCP rings are reserved, not committed: idle connections cost pages, not their multi-MiB buffers, even
//! after earlier connections used and freed whole rings (which heap allocation would hand back committed).
//! Alone in its test binary so that no other test's memory moves the numbers.
#![cfg(target_os = "linux")]

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::*;

const CONNS: usize = 200;

fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

/// Gives the allocator's free memory back to the OS (glibc), so the connections' heap shows in RSS rather
/// than landing in chunks the churn left resident, which would favour whichever engine freed more there.
fn trim_heap() {
    #[cfg(target_env = "gnu")]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: glibc's malloc_trim takes no pointers and is safe to call at any time.
        unsafe { malloc_trim(0) };
    }
}

#[test]
fn idle_connections_cost_pages_not_buffers() {
    let p = pair();
    let listener = p.b.listen_tcp(addr(B4, 9000)).unwrap();
    let t = Duration::from_secs(10);
    // Churn first: connections that fill several MiB of ring and close, freeing it.
    for _ in 0..4 {
        let a = app(p
            .a
            .dial_tcp_timeout(addr(B4, 9000), t)
            .wait()
            .unwrap()
            .splice_pair(|_| {})
            .unwrap());
        let b = app(listener
            .accept_timeout(t)
            .unwrap()
            .splice_pair(|_| {})
            .unwrap());
        let (got_a, got_b) = transfer(a, b, pattern(1, 6 << 20), pattern(2, 6 << 20));
        assert_eq!((got_a.len(), got_b.len()), (6 << 20, 6 << 20));
    }
    std::thread::sleep(Duration::from_millis(300));
    trim_heap();
    let before = rss();
    let pending: Vec<_> = (0..CONNS)
        .map(|_| p.a.dial_tcp_timeout(addr(B4, 9000), t))
        .collect();
    let mut dialed: Vec<_> = pending
        .into_iter()
        .map(|d| app(d.wait().unwrap().splice_pair(|_| {}).unwrap()))
        .collect();
    let mut accepted: Vec<_> = (0..CONNS)
        .map(|_| {
            app(listener
                .accept_timeout(t)
                .unwrap()
                .splice_pair(|_| {})
                .unwrap())
        })
        .collect();
    dialed.iter_mut().for_each(|e| e.write_all(b"x").unwrap());
    accepted
        .iter_mut()
        .for_each(|e| e.read_exact(&mut [0u8]).unwrap());
    accepted.iter_mut().for_each(|e| e.write_all(b"y").unwrap());
    dialed
        .iter_mut()
        .for_each(|e| e.read_exact(&mut [0u8]).unwrap());
    let per_conn = rss().saturating_sub(before) / CONNS as u64;
    let reserved = 2 * (wiretun_netstack::DEFAULT_TCP_BUFFER as u64 * 2);
    eprintln!("{per_conn} bytes of RSS per idle connection (both ends), {reserved} reserved");
    // Two ends x two touched pages (16 KiB), the connections and splices (4 KiB of heap, `tests/heap.rs`),
    // allocator slack: under 32 KiB, on either engine. Committed rings would be 16 MiB.
    assert!(per_conn < 32 << 10, "{per_conn} bytes per idle connection");
}
