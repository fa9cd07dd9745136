//! Any bytes through the SOCKS5 parsers, whole and cut at every length: no panic, and a parse that is done
//! never claims more bytes than it was given.
#![no_main]

use wiretun_proxy::socks5::{parse_greeting, parse_request, parse_userpass, Parsed};

fn within<T>(r: Result<Parsed<T>, wiretun_proxy::socks5::Error>, len: usize) {
    if let Ok(Parsed::Done(_, n)) = r {
        assert!(n <= len);
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for cut in 0..=data.len().min(300) {
        let d = &data[..cut];
        within(parse_greeting(d), cut);
        within(parse_userpass(d), cut);
        within(parse_request(d), cut);
    }
});
