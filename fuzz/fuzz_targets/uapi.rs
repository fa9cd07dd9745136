//! Any text through the native UAPI set parser: see wiretun-core/src/fuzzing/uapi.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wiretun_core::fuzzing::uapi(data));
