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

/// PSH marks only the segment that ends the queued data: a receiver's GRO merges what comes before it,
/// and never appends to a PSH segment.
#[test]
fn psh_only_where_the_queued_data_ends() {
    Script::run(
        "
        +0   connect rtt=50
        +0   write 30
        +0   > 0..10 push none   # more is queued behind the initial window
        +0   > none
        +50  < ack 10
        +0   > 10..30 push 29
        +0   > none
        +50  < ack 30
        +0   write 2
        +0   > 30..32 push 31    # a later write has its own end
        +0   > none
        ",
    );
}

/// Three segments of one window lost: one ACK whose SACK blocks show all three holes has all three resent
/// at once (smoltcp resends one per round trip), the window is cut once (CUBIC: 0.7 of 20 segments), and
/// the retransmission of one of them, lost again, is found by RACK one round trip later, not by the RTO.
#[test]
fn several_holes_repaired_in_one_round_trip_and_a_lost_retransmission_found_by_rack() {
    Script::run(
        "
        +0   connect rtt=50
        +0   write 40
        +0   > 0..10
        +50  < ack 10
        +0   > 10..30
        # Segments 12, 15 and 20 are lost.
        +50  < ack 12 sack 21..30,16..20,13..15
        +0   > r12 at 150
        +0   > r15 at 150
        +0   > r20 at 150
        +0   > 30..40       # PRR: the pipe is empty, so up to ssthresh goes out
        +0   > none
        +0   expect episodes == 1
        +0   expect cwnd == 14
        # The retransmission of 15 is lost too; 12 and 20 and the new data arrive.
        +50  < ack 15 sack 16..40
        +0   > r15 at 200
        +0   > none
        +0   expect episodes == 1
        +0   expect rtos == 0
        +50  < ack 40
        +0   expect recovery == 0
        +0   expect retransmits == 4
        +0   expect cwnd == 14
        ",
    );
}

/// RACK's reordering window: a segment overtaken by one or two others is not resent if it turns up within
/// a quarter of the minimum RTT; one that does not is resent when the reordering timer fires, without any
/// further ACK.
#[test]
fn rack_waits_out_reordering_then_its_timer_repairs() {
    Script::run(
        "
        +0   connect rtt=40
        +0   write 20
        +0   > 0..10
        +40  < ack 1 sack 2..3     # segment 1 is late
        +0   > 10..14              # slow start, nothing resent
        +5   < ack 3
        +0   > 14..16
        +0   > none
        +0   expect retransmits == 0
        +0   expect episodes == 0
        # Segment 3 is lost: sent at 40, the latest delivered took 45 ms, the window is 40 / 4.
        +0   < ack 3 sack 4..5
        +0   > 16..18
        +0   > none
        @94  > none
        @95  > r3 at 95
        +0   expect episodes == 1
        ",
    );
}

/// A tail loss: the last two segments of a flight are lost, so no later segment draws a SACK. The probe
/// fires two smoothed RTTs after the last ACK (not after an RTO of 200 ms or more) and resends the last
/// segment; its SACK shows the other hole, which RACK repairs at once. One episode in all.
#[test]
fn tail_loss_probe_fires_at_two_srtt() {
    Script::run(
        "
        +0   connect rtt=50
        +0   write 10
        +0   > 0..10
        +50  < ack 8
        +0   > none
        @199 > none
        @200 > r9 at 200
        +0   expect tlps == 1
        +50  < ack 8 sack 9
        +0   > r8 at 250
        +50  < ack 10
        +0   expect episodes == 1
        +0   expect rtos == 0
        +0   expect retransmits == 2
        ",
    );
}

/// The probe was not needed (the ACKs were only late): the peer reports the probe's segment as a duplicate
/// (a D-SACK below the cumulative ACK), so no loss is counted and the window stays.
#[test]
fn dsack_of_the_probe_means_no_loss() {
    Script::run(
        "
        +0   connect rtt=50
        +0   write 10
        +0   > 0..10
        +50  < ack 8
        @200 > r9 at 200
        +0   remember cwnd
        +10  < ack 10 sack 9
        +0   expect dsacks == 1
        +0   expect episodes == 0
        +0   expect cwnd >= $
        ",
    );
}

/// The receiving half: a duplicate segment is reported in a D-SACK block, first, once; out-of-order data
/// is SACKed with the most recent block first.
#[test]
fn receiver_reports_sack_and_dsack() {
    Script::run(
        "
        +0   connect rtt=10
        +5   < data 0
        +0   > ack 1
        +0   < data 2
        +0   > ack 1 sack 2
        +0   < data 4
        +0   > ack 1 sack 4,2
        +0   < data 0
        +0   > ack 1 sack 0,4,2
        +0   < data 1
        +0   > ack 3 sack 4
        +0   > none
        ",
    );
}

/// A timeout that was only a delay: the retransmission after the RTO is answered by an ACK echoing the
/// timestamp of the original transmission (Eifel, RFC 3522). The window goes back to what it was and the
/// segments the timeout had marked lost are not resent (no go-back-N).
#[test]
fn spurious_rto_is_undone_without_go_back_n() {
    Script::run(
        "
        +0   connect rtt=50
        +0   write 10
        +0   > 0..10
        @150 > r9 at 150           # the tail loss probe comes first
        @349 > none
        @350 > r0 at 350           # then the RTO: one segment (window of one)
        +0   expect rtos == 1
        +0   expect cwnd == 1
        +10  < ack 5 ecr=first:4   # the originals were only delayed
        +0   expect spurious_rtos == 1
        +0   expect cwnd >= 10
        +0   > none
        +10  < ack 10
        +0   > none
        +0   expect retransmits == 2
        ",
    );
}

/// A real timeout: a retransmission and everything after it lost, the peer silent. The RTO resends the
/// first hole, then slow start resends only what the peer has not SACKed (3 and 4 never go again).
#[test]
fn rto_resends_only_what_was_not_sacked() {
    Script::run(
        "
        +0   connect rtt=50
        +0   write 10
        +0   > 0..10
        +50  < ack 2 sack 3..5     # 2 lost; fewer than three SACKed: RACK waits a quarter RTT
        +0   > none
        @113 > r2 at 113
        +0   expect episodes == 1
        @299 > none
        @300 > r2 at 300           # that retransmission was lost, and nothing more came back
        +0   > none
        +0   expect rtos == 1
        +50  < ack 5
        +0   > r5..7
        +0   > none
        +50  < ack 7
        +0   > r7..10
        +50  < ack 10
        +0   expect retransmits == 7
        +0   expect spurious_rtos == 0
        ",
    );
}

/// Proportional rate reduction: in recovery, with more in flight than the new target (0.7 of 22
/// segments), each delivered segment lets 0.7 of one go out: 7 segments for 10 deliveries, not 10
/// (no reduction) and not 0 then a burst (a cut to the target at once).
#[test]
fn prr_sends_in_proportion_during_recovery() {
    Script::run(
        "
        +0   connect rtt=50
        +0   write 60
        +0   > 0..10
        +50  < ack 10
        +0   > 10..30
        # Segment 10 is lost; the peer ACKs every segment after it.
        +50  < ack 10 sack 11
        +0   > 30..32
        +0   < ack 10 sack 11..13
        +0   > 32..34
        +0   < ack 10 sack 11..14      # three SACKed: RACK's window closes, recovery starts
        +0   > r10
        +0   > none
        +0   expect episodes == 1
        +0   expect ssthresh == 15
        +0   < ack 10 sack 11..15
        +0   > 34
        +0   < ack 10 sack 11..16
        +0   > 35
        +0   < ack 10 sack 11..17
        +0   > none
        +0   < ack 10 sack 11..18
        +0   > 36
        +0   < ack 10 sack 11..19
        +0   > 37
        +0   < ack 10 sack 11..20
        +0   > none
        +0   < ack 10 sack 11..21
        +0   > 38
        +0   < ack 10 sack 11..22
        +0   > 39
        +0   < ack 10 sack 11..23
        +0   > none
        +0   expect retransmits == 1
        ",
    );
}

/// Two loss episodes, two cuts; CUBIC then grows back along its curve, not by Reno's one segment per RTT
/// alone. (Three holes in one window, one cut: see the several-holes script.)
#[test]
fn cubic_cuts_once_per_episode() {
    Script::run(
        "
        +0   connect rtt=50 cc=cubic
        +0   write 100
        +0   > 0..10
        +50  < ack 10
        +0   > 10..30
        +50  < ack 12 sack 13..30      # one hole
        +0   > r12
        +0   expect episodes == 1
        +0   expect cwnd == 14
        +0   > 30..43                  # PRR: the pipe is empty, so up to the new window
        +50  < ack 43                  # recovery over: the window stays cut
        +0   expect recovery == 0
        +0   expect cwnd == 14
        +0   > 43..57
        +50  < ack 45 sack 46..57      # a second episode: cut again, from 14
        +0   expect episodes == 2
        +0   expect cwnd == 10
        ",
    );
}

/// The rate-based controller on a random loss: the same three holes as the CUBIC script are repaired in
/// one round trip; during the repair it sends a segment for each one delivered (packet conservation, 29
/// here, where CUBIC's PRR allowed 14), and once recovery is over its window is the model's again: no cut.
#[test]
fn bbr_does_not_cut_on_random_loss() {
    Script::run(
        "
        +0   connect rtt=50 cc=bbr
        +0   write 80
        +0   > 0..10
        +50  < ack 10
        +0   remember cwnd
        +0   expect cwnd >= 20
        +0   > 10..45                  # startup: 2.89 x the measured BDP (+ 3 quanta of 2 segments)
        +50  < ack 12 sack 21..45,16..20,13..15
        +0   > r12 at 150
        +0   > r15 at 150
        +0   > r20 at 150
        +0   > 45..74
        +0   > none
        +0   expect episodes == 1
        +50  < ack 74
        +0   expect recovery == 0
        +0   expect cwnd >= $
        ",
    );
}

/// Reordering before any was seen: RACK resends the late segment at once (its window is zero then), and
/// the original's ACK comes back 2 ms after that retransmission. That is no RTT sample (Karn): taken as
/// one, it set the rate-based controller's minimum RTT to 2 ms, so its window (2 x bandwidth x min RTT)
/// fell to 4 segments for the 10 s the minimum lasts. Through the proxy with 2% of datagrams held 3 ms,
/// uploads ran at 8-17 Mb/s instead of 115.
#[test]
fn bbr_takes_no_rtt_from_a_spurious_retransmission() {
    Script::run(
        "
        +0   connect rtt=50 cc=bbr
        +0   write 42
        +0   > 0..10
        +50  < ack 10
        +0   remember cwnd
        +0   > 10..42
        +50  < ack 10 sack 11..13      # segment 10 is late, not lost; this ACK ends a round
        +0   < ack 10 sack 11..14      # a third SACKed segment: RACK calls 10 lost
        +0   > r10 at 150
        +0   > none
        +2   < ack 42                  # the original arrived
        +0   expect recovery == 0
        +0   expect cwnd >= $
        ",
    );
}

/// Pacing: the rate-based controller spaces its initial window over the RTT (at its startup gain) instead
/// of sending ten segments back to back: one every 1.7 ms, running at most a millisecond ahead (a quantum
/// at this rate).
#[test]
fn bbr_paces_its_segments() {
    Script::run(
        "
        +0   connect rtt=50 cc=bbr pacing
        +0   write 10
        +0   > 0 at 50
        +0   > none
        @60  > 1..7 at 51..60
        @70  > 7..10 at 61..70
        ",
    );
}

/// A sender whose data was all sent starts a fresh schedule when more comes: idleness banks no burst.
/// (Lateness with data waiting is caught up instead: the pacer's own tests.)
#[test]
fn bbr_paces_again_after_idleness() {
    Script::run(
        "
        +0   connect rtt=50 cc=bbr pacing
        +0   write 10
        +0   > 0 at 50
        @70  > 1..10 at 51..70
        @120 < ack 10
        @500 write 10
        +0   > 10
        +0   > none
        ",
    );
}

/// Closing: the FIN follows the data, the peer's FIN is acknowledged, TIME-WAIT lasts its time.
#[test]
fn close_fin_and_time_wait() {
    Script::run(
        "
        +0   connect rtt=10
        +0   write 2
        +0   > 0..2
        +0   close
        +0   > fin
        +0   expect state FinWait1
        +10  < ack 2+1
        +0   expect state FinWait2
        +0   < ack 2+1 fin
        +0   > ack 0+1
        +0   expect state TimeWait
        +0   < ack 2+1 fin                  # our ACK was lost: the FIN again, and our ACK again
        +0   > ack 0+1
        +59999 expect state TimeWait
        +2   expect state Closed
        +0   > none
        ",
    );
}

/// Resets: one at exactly the next expected sequence number closes the connection; one elsewhere in the
/// window only draws an ACK (RFC 5961), as does a segment with an old timestamp (PAWS).
#[test]
fn rst_in_window_and_paws() {
    Script::run(
        "
        +0   connect rtt=10
        +0   < seq 3 rst
        +0   > ack 0
        +0   expect state Established
        +0   < data 0 tsval=1
        +0   > ack 0                       # older timestamp than the SYN-ACK's: dropped
        +0   < data 0
        +0   > ack 1
        +0   < seq 1 rst
        +0   expect state Closed
        +0   expect reset == 1
        +0   > none
        ",
    );
}

/// A duplicate ACK the path reordered behind a newer one carries an older timestamp. PAWS would drop it and
/// answer with an ACK; like Linux, the connection takes it (its SACK blocks are news) and answers nothing.
#[test]
fn a_reordered_duplicate_ack_passes_paws() {
    Script::run(
        "
        +0   connect rtt=50
        +0   write 10
        +0   > 0..10
        +50  < ack 2 sack 3..4
        +0   > none
        +0   < ack 2 sack 3..5 tsval=1   # older than the last one seen: sent earlier, arrived later
        +0   > none
        +0   expect in_flight == 6         # 2..10 outstanding, 3 and 4 SACKed
        ",
    );
}

/// A closed window holds data back; the persist timer probes it (with an already acknowledged sequence
/// number, which the peer must answer) until it opens.
#[test]
fn zero_window_probes() {
    Script::run(
        "
        +0   connect rtt=50
        +0   write 4
        +0   > 0..4
        +50  < ack 4 win 0
        +0   write 2
        +0   > none
        @299 > none
        @300 > ack probe at 300
        +0   > none
        +50  < ack 4 win 0
        @699 > none
        @700 > ack probe at 700            # backed off: twice the RTO after the first
        +10  < ack 4
        +0   > 4..6
        ",
    );
}

/// The peer's FIN arrives before the data in front of it: it is kept and takes effect when the hole is
/// filled (one ACK then covers the data and the FIN).
#[test]
fn out_of_order_fin_waits_for_the_data_before_it() {
    Script::run(
        "
        +0   connect rtt=10
        +5   < data 1 fin
        +0   > ack 0 sack 1
        +0   expect state Established
        +0   < data 0
        +0   > ack 2+1
        +0   expect state CloseWait
        ",
    );
}

/// Window updates follow RFC 9293's SND.WL1/WL2: a segment older than the one that last set the window
/// (here data reordered by the network, carrying a zero window) does not shut it again.
#[test]
fn a_reordered_older_segment_does_not_shrink_the_window() {
    Script::run(
        "
        +0   connect rtt=10
        +0   write 4
        +0   > 0..4
        +10  < data 1 ack 4
        +0   > ack 0 sack 1
        +0   < data 0 ack 4 win 0
        +0   > ack 2
        +0   write 2
        +0   > 4..6
        ",
    );
}

/// A fast recovery caused by reordering, not loss: segment 10 was only late, so its retransmission comes
/// back as a D-SACK. With every retransmission of the episode D-SACKed, the window cut is undone (RFC 3708).
#[test]
fn dsack_undoes_a_spurious_fast_recovery() {
    Script::run(
        "
        +0   connect rtt=50 cc=cubic
        +0   write 30
        +0   > 0..10
        +50  < ack 10
        +0   > 10..30
        +50  < ack 10 sack 11..14
        +0   > r10
        +0   expect episodes == 1
        +0   expect cwnd == 14
        +1   < ack 14                  # the original arrives
        +10  < ack 14 sack 10          # and the retransmission, as a duplicate
        +0   expect dsacks == 1
        +0   expect spurious_recoveries == 1
        +0   expect cwnd >= 20
        ",
    );
}

/// Keep-alive: an idle connection is probed every interval; an answer restarts the count, three
/// unanswered probes reset the connection.
#[test]
fn keepalive_probes_then_gives_up() {
    Script::run(
        "
        +0   connect rtt=10 keepalive=1000
        @999 > none
        @1000 > ack probe at 1000
        +10  < ack 0                    # answered: the count starts again from here
        @2009 > none
        @2010 > ack probe at 2010
        @3010 > ack probe at 3010
        @4010 > ack probe at 4010
        +0   expect state Established
        @5010 > rst at 5010
        +0   expect state Closed
        +0   expect reset == 1
        ",
    );
}
