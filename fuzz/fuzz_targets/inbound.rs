//! Scripts of datagrams through wiretun's receive path: see wiretun-core/src/fuzzing/inbound.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wiretun_core::fuzzing::inbound(data);
});
