//! Any bytes as an HTTP proxy request head: no panic, a done parse within the input and the size cap, and a
//! forwarded head that is itself a complete head.
#![no_main]

use wiretun_proxy::http::{parse_head, Parsed, MAX_HEAD};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(Parsed::Done(head, n)) = parse_head(data) {
        assert!(n <= data.len() && n <= MAX_HEAD);
        if !head.connect {
            assert!(matches!(parse_head(&head.forward), Err(_) | Ok(Parsed::Done(..))));
            assert!(head.forward.ends_with(b"\r\n\r\n"));
        }
    }
});
