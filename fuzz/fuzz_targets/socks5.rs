//! Any bytes through the SOCKS5 parsers, whole and cut at every length: no panic, and a parse that is done
//! never claims more bytes than it was given. The UDP ASSOCIATE datagram header parser too: its payload
//! starts within the datagram, and a header it accepts re-encodes (from an IP source) to what it read.
#![no_main]

use wiretun_proxy::socks5::{
    encode_udp_header, parse_greeting, parse_request, parse_udp_header, parse_userpass, Host,
    Parsed,
};

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
        udp(d);
    }
});

fn udp(d: &[u8]) {
    let Ok(h) = parse_udp_header(d) else {
        return;
    };
    assert!(h.data_at <= d.len());
    if let Host::Ip(ip) = h.host {
        let again = encode_udp_header(std::net::SocketAddr::new(ip, h.port));
        // FRAG is not encoded (replies are never fragments); the address is, except IPv4-mapped IPv6, which
        // comes back as IPv4.
        if !matches!(ip, std::net::IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some()) {
            assert_eq!(&again[3..], &d[3..h.data_at]);
        }
    }
}
