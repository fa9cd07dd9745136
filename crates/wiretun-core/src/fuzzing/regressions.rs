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
