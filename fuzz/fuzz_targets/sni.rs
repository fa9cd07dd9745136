//! Any bytes as the first a client sends to the `[SNI]` listener: no panic; a name only when the hello is
//! complete, only a valid host name, and the same answer however much follows it or where the input is cut
//! before it ends (a prefix needs more or already has the same hello: parsing as reads arrive is consistent).
#![no_main]

use wiretun_proxy::sni::{parse, Parsed};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let whole = parse(data);
    if let Ok(Parsed::Done(name)) = &whole {
        assert!(!name.is_empty() && name.len() <= 253);
        assert!(name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b)));
        let mut more = data.to_vec();
        more.extend_from_slice(&[23, 3, 3, 0, 1, 0]);
        assert_eq!(parse(&more), whole);
    }
    if whole.is_ok() {
        for cut in [data.len() / 3, data.len() / 2, data.len().saturating_sub(1)] {
            let part = parse(&data[..cut]);
            assert!(
                part == Ok(Parsed::Need) || part == whole,
                "cut at {cut}: {part:?}"
            );
        }
    }
});
