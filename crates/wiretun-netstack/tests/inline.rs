//! Where injected packets are answered: on the injecting thread when the stack thread sleeps, so a reply
//! (a download's ACK, in wiretun) does not wait for another thread to be scheduled.

mod common;

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use wiretun_netstack::{PacketSink, Stack};

/// Counts what the stack emits.
#[derive(Default)]
struct Counting(AtomicUsize);

impl PacketSink for Counting {
    fn send(&self, packets: &mut dyn Iterator<Item = &mut Vec<u8>>) {
        self.0.fetch_add(packets.count(), Ordering::SeqCst);
    }
}

/// An IPv4 ICMP echo request from `src` to `dst`.
fn echo_request(src: &str, dst: &str, seq: u16) -> Vec<u8> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (src.parse().unwrap(), dst.parse().unwrap()) else {
        unreachable!("IPv4 addresses")
    };
    let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34];
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend_from_slice(b"inline");
    let c = !checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 1, 0, 0];
    ip[2..4].copy_from_slice(&((20 + icmp.len()) as u16).to_be_bytes());
    ip.extend_from_slice(&s.octets());
    ip.extend_from_slice(&d.octets());
    let c = !checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend_from_slice(&icmp);
    ip
}

/// Before, every injected packet was queued for the stack thread and answered after it woke: never before
/// `inject` returned. Now the injecting thread answers it when it finds the stack thread asleep, which it
/// does unless a timer or an earlier packet has just woken it.
#[test]
fn a_packet_injected_while_the_stack_sleeps_is_answered_before_inject_returns() {
    let sink = Arc::new(Counting::default());
    let stack = Stack::new(config(A4, A6), sink.clone()).unwrap();
    let (rounds, mut at_once) = (20, 0);
    for seq in 0..rounds {
        let before = sink.0.load(Ordering::SeqCst);
        stack.inject(&echo_request(B4, A4, seq));
        if sink.0.load(Ordering::SeqCst) > before {
            at_once += 1;
        }
        let answered = deadline_loop(Duration::from_secs(5), || {
            sink.0.load(Ordering::SeqCst) > before
        });
        assert!(answered, "echo request {seq} got no reply");
    }
    assert!(
        at_once * 4 >= rounds * 3,
        "{at_once} of {rounds} echo requests answered before inject returned"
    );
}
