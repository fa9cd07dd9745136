//! Get replies: wireguard-go's key order, what is left out when unset, absolute handshake times.

use super::fake::peer;
use crate::uapi::{format_get, DeviceState};
use std::time::{Duration, UNIX_EPOCH};

const K1: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const K2: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const Z: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[test]
fn writes_keys_in_wireguard_go_order_fwmark_only_when_set_and_a_zero_psk_when_none() {
    let mut first = peer([0xbb; 32], &["10.1.0.0/16", "fd00::/64"]);
    first.endpoint = Some("10.0.0.1:51820".parse().unwrap());
    first.last_handshake = Some(UNIX_EPOCH + Duration::new(1_700_000_000, 5));
    first.tx_bytes = 10;
    first.rx_bytes = 20;
    let mut second = peer([0xaa; 32], &[]);
    second.preshared_key = Some([0xbb; 32]);
    second.persistent_keepalive = 25;
    let state = DeviceState {
        private_key: Some([0xaa; 32]),
        listen_port: 51820,
        fwmark: 0,
        peers: vec![first, second],
    };
    let want = [
        format!("private_key={K1}"),
        "listen_port=51820".into(),
        format!("public_key={K2}"),
        format!("preshared_key={Z}"),
        "protocol_version=1".into(),
        "endpoint=10.0.0.1:51820".into(),
        "last_handshake_time_sec=1700000000".into(),
        "last_handshake_time_nsec=5".into(),
        "tx_bytes=10".into(),
        "rx_bytes=20".into(),
        "persistent_keepalive_interval=0".into(),
        "allowed_ip=10.1.0.0/16".into(),
        "allowed_ip=fd00::/64".into(),
        format!("public_key={K1}"),
        format!("preshared_key={K2}"),
        "protocol_version=1".into(),
        "last_handshake_time_sec=0".into(),
        "last_handshake_time_nsec=0".into(),
        "tx_bytes=0".into(),
        "rx_bytes=0".into(),
        "persistent_keepalive_interval=25".into(),
        String::new(),
    ];
    assert_eq!(format_get(&state), want.join("\n"));
}

#[test]
fn writes_fwmark_after_listen_port_and_omits_an_unset_key_port_0_and_fwmark_0() {
    let s = |private_key, listen_port, fwmark| DeviceState {
        private_key,
        listen_port,
        fwmark,
        peers: vec![],
    };
    assert_eq!(
        format_get(&s(Some([0xaa; 32]), 1, 9)),
        format!("private_key={K1}\nlisten_port=1\nfwmark=9\n")
    );
    assert_eq!(format_get(&s(None, 0, 0)), "");
    assert_eq!(format_get(&s(Some([0; 32]), 0, 0)), "");
}

#[test]
fn writes_addresses_as_inet_ntop_does() {
    let mut p = peer(
        [1; 32],
        &["::ffff:10.0.0.0/104", "::1.2.3.4/128", "fd00:0:0:1::/64"],
    );
    p.endpoint = Some("[fd00::1:0:0:1]:9".parse().unwrap());
    let text = format_get(&DeviceState {
        peers: vec![p],
        ..DeviceState::default()
    });
    assert!(text.contains("endpoint=[fd00::1:0:0:1]:9\n"), "{text}");
    assert!(text.contains("allowed_ip=::ffff:10.0.0.0/104\nallowed_ip=::1.2.3.4/128\nallowed_ip=fd00:0:0:1::/64\n"), "{text}");
}
