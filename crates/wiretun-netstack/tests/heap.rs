//! Heap bytes per idle connection, counted by the allocator rather than read off RSS (which moves with
//! whatever the allocator kept free from earlier work): tcp2 must not cost more than smoltcp's path.
//! Alone in its test binary, as its allocator counts every allocation of the process.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use wiretun_netstack::TcpEngine;

/// The system allocator, keeping a count of the bytes live.
struct Counting;

static LIVE: AtomicI64 = AtomicI64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as i64, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as i64, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, size: usize) -> *mut u8 {
        LIVE.fetch_add(size as i64 - l.size() as i64, Ordering::Relaxed);
        unsafe { System.realloc(p, l, size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const CONNS: usize = 200;

/// Live heap bytes each idle connection adds (both ends, splices included), after connections that carried
/// MiBs and closed: what a long-lived proxy holds per connection once its transfers are over.
fn heap_per_idle_connection(engine: TcpEngine) -> i64 {
    let p = pair_with(Link::default(), |c| c.tcp_engine = engine);
    let listener = p.b.listen_tcp(addr(B4, 9000)).unwrap();
    let t = Duration::from_secs(10);
    let open = || {
        let dialed = p.a.dial_tcp_timeout(addr(B4, 9000), t);
        let a = app(dialed.wait().unwrap().splice_pair(|_| {}).unwrap());
        let b = app(listener
            .accept_timeout(t)
            .unwrap()
            .splice_pair(|_| {})
            .unwrap());
        (a, b)
    };
    for _ in 0..2 {
        let (a, b) = open();
        let (got_a, got_b) = transfer(a, b, pattern(1, 2 << 20), pattern(2, 2 << 20));
        assert_eq!((got_a.len(), got_b.len()), (2 << 20, 2 << 20));
    }
    let mut ends = Vec::with_capacity(CONNS);
    let before = settled_live();
    for _ in 0..CONNS {
        ends.push(open());
    }
    for (a, b) in &mut ends {
        a.write_all(b"x").unwrap();
        b.read_exact(&mut [0u8]).unwrap();
        b.write_all(b"y").unwrap();
        a.read_exact(&mut [0u8]).unwrap();
    }
    (settled_live() - before) / CONNS as i64
}

/// Live heap bytes once no thread has allocated or freed for a while. Read straight after a transfer or
/// the last ping, the count caught packets still in flight or the warm-up connections still being torn
/// down, ±800 bytes per connection from run to run, enough to flip the comparison (CI did, once).
fn settled_live() -> i64 {
    let quiet = 10;
    let mut last = LIVE.load(Ordering::Relaxed);
    let mut unchanged = 0;
    let give_up = Instant::now() + Duration::from_secs(5);
    while unchanged < quiet && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(20));
        let now = LIVE.load(Ordering::Relaxed);
        unchanged = if now == last { unchanged + 1 } else { 0 };
        last = now;
    }
    assert!(
        unchanged >= quiet,
        "the heap never settled: {last} bytes live"
    );
    last
}

#[test]
fn tcp2_idle_connections_cost_no_more_heap_than_smoltcp() {
    let smoltcp = heap_per_idle_connection(TcpEngine::Smoltcp);
    let tcp2 = heap_per_idle_connection(TcpEngine::Tcp2);
    eprintln!("heap per idle connection (both ends): smoltcp {smoltcp} bytes, tcp2 {tcp2} bytes");
    assert!(
        tcp2 <= smoltcp,
        "tcp2 {tcp2} bytes per idle connection, smoltcp {smoltcp}"
    );
}
