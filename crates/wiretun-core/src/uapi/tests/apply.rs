//! Applying a parsed set: wireguard-go's order, the translation to device updates, low-order keys accepted,
//! device errors as errnos, and the one-line summary.

use super::fake::{Fake, BUSY_PORT, ODD_PORT};
use super::parse::parse;
use crate::uapi::{apply, errno_for_code, summary, UNKNOWN};

fn hex(b: u8) -> String {
    format!("{b:02x}").repeat(32)
}

#[test]
fn applies_in_wireguard_go_order_then_peers_in_request_order() {
    let f = Fake::new();
    let c = parse(&[
        "replace_peers=true",
        "fwmark=9",
        "listen_port=7",
        &format!("private_key={}", hex(0xaa)),
        &format!("public_key={}", hex(0xbb)),
        "remove=true",
        &format!("public_key={}", hex(0xaa)),
        "endpoint=1.2.3.4:5",
        "allowed_ip=10.0.0.0/8",
    ])
    .unwrap();
    apply(&f, &c).unwrap();
    assert_eq!(
        f.calls(),
        [
            "set_private_key(Some(170))",
            "set_listen_port(7)",
            "set_fwmark(9)",
            "clear_peers",
            "remove_peer(bb)",
            "set_peer(aa, PeerUpdate { update_only: false, preshared_key: None, endpoint: Some(1.2.3.4:5), \
             persistent_keepalive: None, replace_allowed_ips: false, allowed_ips: [10.0.0.0/8], \
             remove_allowed_ips: [] })",
        ]
    );
}

#[test]
fn cleared_keys_become_what_the_device_expects_and_absent_fields_stay_absent() {
    let f = Fake::new();
    let zeros = "0".repeat(64);
    let c = parse(&[
        &format!("private_key={zeros}"),
        &format!("public_key={}", hex(0xbb)),
        &format!("preshared_key={zeros}"),
    ])
    .unwrap();
    apply(&f, &c).unwrap();
    let calls = f.calls();
    assert_eq!(calls[0], "set_private_key(None)");
    assert!(
        calls[1].contains(&format!("preshared_key: Some({:?})", [0u8; 32])),
        "{}",
        calls[1]
    );
    assert!(calls[1].contains("endpoint: None") && calls[1].contains("persistent_keepalive: None"));
}

#[test]
fn passes_keepalive_0_update_only_and_removals_of_allowed_ips_through() {
    let f = Fake::new();
    let c = parse(&[
        &format!("public_key={}", hex(0xbb)),
        "update_only=true",
        "persistent_keepalive_interval=0",
        "allowed_ip=-10.1.0.0/16",
    ])
    .unwrap();
    apply(&f, &c).unwrap();
    let call = &f.calls()[0];
    assert!(
        call.contains("update_only: true") && call.contains("persistent_keepalive: Some(0)"),
        "{call}"
    );
    assert!(
        call.contains("allowed_ips: [], remove_allowed_ips: [10.1.0.0/16]"),
        "{call}"
    );
}

#[test]
fn accepts_a_low_order_peer_key_as_the_kernel_does() {
    let f = Fake::new();
    let low = "0".repeat(64); // the all-zero point, one of the seven
    let c = parse(&[
        "listen_port=7",
        &format!("public_key={}", hex(0xbb)),
        &format!("public_key={low}"),
    ])
    .unwrap();
    apply(&f, &c).unwrap();
    assert_eq!(f.calls().len(), 3, "{:?}", f.calls());
    assert!(f.calls()[2].starts_with("set_peer(00"), "{:?}", f.calls());
}

#[test]
fn a_device_failure_stops_the_request_there_with_its_errno() {
    let f = Fake::new();
    let c = parse(&[
        &format!("listen_port={BUSY_PORT}"),
        &format!("public_key={}", hex(0xbb)),
    ])
    .unwrap();
    let e = apply(&f, &c).unwrap_err();
    assert_eq!(e.errno, -98);
    assert!(e.message.contains("in use"));
    assert_eq!(f.calls(), ["set_listen_port(1)"]);
    let e = apply(&f, &parse(&[&format!("listen_port={ODD_PORT}")]).unwrap()).unwrap_err();
    assert_eq!(e.errno, UNKNOWN);
}

#[test]
fn maps_errno_names_as_linux_numbers_them() {
    let cases = [
        ("EADDRINUSE", -98),
        ("EINVAL", -22),
        ("EPERM", -1),
        ("EACCES", -13),
        ("EADDRNOTAVAIL", -99),
        ("EIO", -5),
        ("EWHATEVER", -55),
    ];
    for (code, errno) in cases {
        assert_eq!(errno_for_code(code), errno, "{code}");
    }
}

#[test]
fn summarises_a_set_without_any_key_or_other_value() {
    let c = parse(&[
        &format!("private_key={}", hex(0xdd)),
        "listen_port=51820",
        &format!("public_key={}", hex(0xee)),
        &format!("preshared_key={}", hex(0xcc)),
        "endpoint=1.2.3.4:5",
        &format!("public_key={}", hex(0xff)),
        "remove=true",
    ])
    .unwrap();
    assert_eq!(
        summary(&c),
        "UAPI set: private key, listen port 51820, 1 peer(s) set, 1 peer(s) removed"
    );
    assert_eq!(summary(&parse(&[]).unwrap()), "UAPI set: nothing");
    let c = parse(&[
        &format!("private_key={}", "0".repeat(64)),
        "fwmark=3",
        "replace_peers=true",
    ])
    .unwrap();
    assert_eq!(
        summary(&c),
        "UAPI set: private key cleared, fwmark 3, replace peers"
    );
}
