//! The fuzz seeds must keep reaching the TUN (or the fuzzer would start from the size checks again), and
//! every crash the fuzzers found is replayed here on each `cargo test`.

use super::{gro, inbound};

macro_rules! seed {
    ($target:literal, $name:literal) => {
        include_bytes!(concat!("../../../../fuzz/seeds/", $target, "/", $name))
    };
}

#[test]
fn seed_scripts_get_packets_through_to_the_tun() {
    // Three segments each, minus what the script itself spoofs or replays.
    assert_eq!(inbound(seed!("inbound", "initiator-tcp-flow")), 3);
    assert_eq!(inbound(seed!("inbound", "responder-psk-udp6")), 3);
    assert_eq!(inbound(seed!("inbound", "cookie-under-load")), 1);
    assert_eq!(inbound(seed!("inbound", "replay-mutate-spoof")), 2);
    gro(seed!("gro", "tcp-udp-flows"));
}

#[test]
fn empty_and_short_inputs_run() {
    for len in 0..64u8 {
        let data: Vec<u8> = (0..len).collect();
        inbound(&data);
        gro(&data);
    }
}

/// Found by `inbound` (as fuzz/artifacts/inbound/crash-fe5068db...): remote 0 completes a handshake and
/// sends an IPv4 packet whose total-length field is 0. boringtun hands over an empty packet with the
/// header's (allowed) source address; in the TUN batch it made GRO refuse the whole batch.
#[test]
fn an_ipv4_packet_claiming_zero_length_does_not_sink_the_batch() {
    let found = [
        9, 9, 4, 9, 0, 3, 0, 2, 0, 0, 2, 50, 200, 9, 1, 0, 0, 3, 0, 2, 0, 0, 2, 9, 232, 3, 65, 0,
        2, 0, 0, 2, 9, 232, 3, 65, 0, 2, 0, 0, 2, 9, 232, 3, 65, 0, 8, 0, 1, 65, 0, 0,
    ];
    inbound(&found);
    // The same, readable: handshake, one good segment, the 0-length one (shape bit 32: length field
    // from the input), another good segment, flush. Only the two good ones reach the TUN.
    let good = [2, 0, 0, 2, 9, 232, 3, 65, 0];
    let empty = [2, 0, 0, 2, 9 | 32, 232, 3, 65, 0, 0, 0];
    let script = [&[9, 1, 0, 0, 3, 0][..], &good, &empty, &good, &[8, 0]].concat();
    assert_eq!(inbound(&script), 2);
}

/// Every IPv4 length field from 0 to the header size, each after a valid packet in the same batch.
#[test]
fn short_ipv4_packets_from_a_peer_never_reach_the_tun() {
    for claimed in 0..=20u8 {
        let good = [2, 0, 0, 2, 9, 232, 3, 65, 0];
        let short = [2, 0, 0, 2, 9 | 32, 232, 3, 65, 0, claimed, 0];
        let script = [&[9, 1, 0, 0, 3, 0][..], &good, &short, &[8, 0]].concat();
        let expected = if claimed == 20 { 2 } else { 1 };
        assert_eq!(inbound(&script), expected, "length field {claimed}");
    }
}

/// Found by `inbound` (crash-16ceda16...): under load (here a limit of 3 handshakes), boringtun's second
/// count inside Tunn::decapsulate answered a replayed initiation with a cookie, and the receive path treated
/// that like a handshake reply: it moved the peer's endpoint to the replayer and counted the bytes.
#[test]
fn a_cookie_for_a_replayed_initiation_does_not_move_the_peer() {
    let found = [
        0xf0, 0xe6, 0xe6, 0xe6, 0xe6, 0xe6, 0xe6, 0xe2, 0x19, 0x19, 0x19, 0x19, 0x09, 0x0f, 0xaa,
        0x19, 0x19, 0xc8, 0x27, 0xc8, 0xc8, 0xc8, 0xc8, 0xc8, 0xc8, 0x68, 0x4e, 0xd2, 0x98,
    ];
    inbound(&found);
    // Readable: limit 3 (0xc0); remote 1 initiates (counted twice: 2); the same initiation replayed from
    // 203.0.113.5 (outer 7) passes the pre-check (3) and gets the cookie from boringtun's own check.
    inbound(&[0xc0, 1, 1, 0, 6, 0, 0, 1 | (7 << 1), 0]);
}
