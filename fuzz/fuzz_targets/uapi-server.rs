//! Any byte stream to the native UAPI server on a temporary socket: see wiretun-core/src/fuzzing/uapi.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wiretun_core::fuzzing::uapi_server(data));
