//! Scripts against the new TCP core's input path (`wiretun_netstack::tcp2`): segments from a peer as bytes,
//! time, application reads and writes, close and abort, driving one connection from its SYN. No panic, and
//! the sender's books and every segment it sends stay consistent: see crates/wiretun-netstack/src/tcp2/fuzz.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wiretun_netstack::tcp2::fuzz::drive(data);
});
