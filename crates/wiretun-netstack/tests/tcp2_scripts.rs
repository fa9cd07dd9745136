//! Packet-by-packet behaviour of the TCP core (`wiretun_netstack::tcp2`), packetdrill-style: each test is
//! a script of timed segments in and expected segments out (see tests/tcp2/harness.rs for the language).

#[path = "tcp2/harness.rs"]
mod harness;

use harness::Script;

/// Handshake at 50 ms RTT, then ten segments: the initial window.
#[test]
fn initial_window_then_acks_clock_out_more() {
    Script::run(
        "
        +0   connect rtt=50
        +0   write 30
        +0   > 0..10
        +0   > none
        +50  < ack 2
        +0   > 10..14        # slow start: two delivered, four sent
        +0   > none
        +0   expect cwnd == 12
        ",
    );
}
