//! A lossy, delaying link between the stacks: retransmission, fast retransmit and the stack's congestion
//! window have to deliver every byte in order.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;

fn lossy_transfer(link: Link, size: usize) {
    let p = pair_with(link, |_| {});
    let listener = p.b.listen_tcp(addr(B4, 7000)).unwrap();
    let a =
        p.a.dial_tcp_timeout(addr(B4, 7000), Duration::from_secs(10))
            .wait()
            .unwrap();
    let b = listener.accept_timeout(Duration::from_secs(10)).unwrap();
    let (done_a, ends_a) = done_channel();
    let (done_b, ends_b) = done_channel();
    let app_a = app(a.splice_pair(done_a).unwrap());
    let app_b = app(b.splice_pair(done_b).unwrap());
    let (up, down) = (pattern(11, size), pattern(12, size / 4));
    let (hash_up, hash_down) = (hash(&up), hash(&down));
    let started = Instant::now();
    let (a_got, b_got) = transfer(app_a, app_b, up, down);
    let secs = started.elapsed().as_secs_f64();
    let (sent, dropped) = (
        p.a_to_b.sent.load(Ordering::Relaxed),
        p.a_to_b.dropped.load(Ordering::Relaxed),
    );
    eprintln!(
        "{} KiB up in {secs:.2} s, {dropped} of {sent} packets A->B dropped",
        size >> 10
    );
    assert!(
        dropped > 0,
        "the link must actually lose packets for this test to mean anything"
    );
    assert_eq!(
        (b_got.len(), hash(&b_got)),
        (size, hash_up),
        "A to B stream differs"
    );
    assert_eq!(
        (a_got.len(), hash(&a_got)),
        (size / 4, hash_down),
        "B to A stream differs"
    );
    for ends in [ends_a, ends_b] {
        ends.recv_timeout(Duration::from_secs(30))
            .unwrap()
            .result
            .unwrap();
    }
}

#[test]
fn one_percent_loss_transfer_is_intact() {
    lossy_transfer(
        Link {
            loss: 0.01,
            delay: Duration::from_millis(2),
            ..Link::default()
        },
        4 << 20,
    );
}

#[test]
fn five_percent_loss_without_delay_is_intact() {
    lossy_transfer(
        Link {
            loss: 0.05,
            delay: Duration::ZERO,
            ..Link::default()
        },
        1 << 20,
    );
}
