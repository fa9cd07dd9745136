//! Batches of decrypted packets through the TUN batch and tun-rs's GRO: see
//! wiretun-core/src/fuzzing/packets.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wiretun_core::fuzzing::gro(data));
