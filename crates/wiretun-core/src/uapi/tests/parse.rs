//! Parsing set requests: every key, the edges of every range, canonical values, refusals with their errno,
//! framing, and messages that never quote key material.

use crate::uapi::{parse_set_request, SetChange, SetParser, UapiError, EINVAL, EPROTO};
use ipnet::IpNet;

const K1: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const K2: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const Z: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub fn parse(lines: &[&str]) -> Result<SetChange, UapiError> {
    let mut p = SetParser::new();
    lines.iter().for_each(|l| p.line(l));
    p.finish()
}

fn errno(lines: &[&str]) -> Option<i32> {
    parse(lines).err().map(|e| e.errno)
}

fn nets(list: &[&str]) -> Vec<IpNet> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

fn pk(line: &str) -> String {
    format!("public_key={line}")
}

#[test]
fn reads_every_device_and_peer_key() {
    let c = parse(&[
        &format!("private_key={K1}"),
        "listen_port=51820",
        "fwmark=4660",
        "replace_peers=true",
        &pk(K2),
        "update_only=true",
        &format!("preshared_key={K1}"),
        "endpoint=[fd00::1]:51820",
        "persistent_keepalive_interval=25",
        "replace_allowed_ips=true",
        "allowed_ip=10.0.0.7/24",
        "allowed_ip=-fd00::/64",
        "protocol_version=1",
        &pk(K1),
        "remove=true",
    ])
    .unwrap();
    assert_eq!(c.private_key, Some(Some([0xaa; 32])));
    assert_eq!(
        (c.listen_port, c.fwmark, c.replace_peers),
        (Some(51820), Some(4660), true)
    );
    let p = &c.peers[0];
    assert_eq!(p.public_key, [0xbb; 32]);
    assert!(p.update_only && p.replace_allowed_ips && !p.remove);
    assert_eq!(p.preshared_key, Some(Some([0xaa; 32])));
    assert_eq!(p.endpoint, Some("[fd00::1]:51820".parse().unwrap()));
    assert_eq!(p.persistent_keepalive, Some(25));
    assert_eq!(
        c.allowed_ips(p),
        (nets(&["10.0.0.0/24"]), nets(&["fd00::/64"]))
    );
    let q = &c.peers[1];
    assert!(q.remove && !q.update_only && q.preshared_key.is_none() && q.endpoint.is_none());
    assert_eq!(c.allowed_ips(q), (vec![], vec![]));
}

#[test]
fn leaves_out_what_the_request_does_not_mention() {
    let c = parse(&[&pk(K2)]).unwrap();
    assert_eq!(
        (c.private_key, c.listen_port, c.fwmark, c.replace_peers),
        (None, None, None, false)
    );
    let p = &c.peers[0];
    assert_eq!(
        (p.preshared_key, p.endpoint, p.persistent_keepalive),
        (None, None, None)
    );
    assert!(!p.remove && !p.update_only && !p.replace_allowed_ips);
    assert_eq!(parse(&[]).unwrap(), SetChange::default());
}

#[test]
fn all_zero_private_and_preshared_keys_clear() {
    let c = parse(&[
        &format!("private_key={Z}"),
        &pk(K2),
        &format!("preshared_key={Z}"),
    ])
    .unwrap();
    assert_eq!(c.private_key, Some(None));
    assert_eq!(c.peers[0].preshared_key, Some(None));
}

#[test]
fn accepts_the_edges_of_every_range_and_host_bits_in_allowed_ips() {
    let c = parse(&[
        "listen_port=0",
        "fwmark=4294967295",
        &pk(K2),
        "persistent_keepalive_interval=65535",
        "endpoint=255.255.255.255:0",
        "allowed_ip=0.0.0.0/0",
        "allowed_ip=::/0",
        "allowed_ip=10.1.2.3/32",
        "allowed_ip=fd00::1:2/128",
        "allowed_ip=::ffff:10.0.0.1/104",
    ])
    .unwrap();
    assert_eq!((c.listen_port, c.fwmark), (Some(0), Some(u32::MAX)));
    assert_eq!(c.peers[0].persistent_keepalive, Some(65535));
    let want = nets(&[
        "0.0.0.0/0",
        "::/0",
        "10.1.2.3/32",
        "fd00::1:2/128",
        "::ffff:10.0.0.0/104",
    ]);
    assert_eq!(c.allowed_ips(&c.peers[0]).0, want);
    // Go's ParseUint allows leading zeros.
    assert_eq!(parse(&["listen_port=00080"]).unwrap().listen_port, Some(80));
}

#[test]
fn writes_endpoints_and_prefixes_in_one_canonical_spelling() {
    let canonical = |lines: &[&str]| parse(lines).unwrap().to_string();
    let ep = |v: &str| canonical(&[&pk(K2), &format!("endpoint={v}")]);
    assert!(ep("[FD00:0:0::1]:0051820").ends_with("endpoint=[fd00::1]:51820\n"));
    assert!(ep("192.0.2.1:1").ends_with("endpoint=192.0.2.1:1\n"));
    assert!(ep("[::ffff:1.2.3.4]:9").ends_with("endpoint=[::ffff:1.2.3.4]:9\n"));
    // inet_ntop's embedded-IPv4 form, which Rust's own Display would write as ::102:304.
    assert!(ep("[::1.2.3.4]:9").ends_with("endpoint=[::1.2.3.4]:9\n"));
    let ip = |v: &str| canonical(&[&pk(K2), &format!("allowed_ip={v}")]);
    assert!(ip("10.1.2.3/8").ends_with("allowed_ip=10.0.0.0/8\n"));
    assert!(ip("FD00:0:0:0:0:0:0:1/64").ends_with("allowed_ip=fd00::/64\n"));
}

#[test]
fn refuses_bad_values_and_misplaced_keys_with_their_errno() {
    let k1_upper = format!("private_key={}", K1.to_uppercase());
    let k1_long = format!("private_key={K1}0");
    let k1_short = format!("private_key={}", &K1[2..]);
    let bad_psk = format!("preshared_key={}", "g".repeat(64));
    let p = pk(K2);
    let in_peer = |line: &'static str| vec![p.clone(), line.to_string()];
    let mut cases: Vec<(Vec<String>, i32)> = vec![
        (vec!["private_key=ABC".into()], EINVAL),
        (vec![k1_upper], EINVAL),
        (vec![k1_long], EINVAL),
        (vec![k1_short], EINVAL),
        (vec!["private_key=".into()], EINVAL),
        (vec!["public_key=zz".into()], EINVAL),
        (vec![p.clone(), bad_psk], EINVAL),
        (vec![p.clone(), format!("private_key={K1}")], EINVAL),
        (vec![p.clone(), "remove".into()], EPROTO),
        (vec!["no equals sign".into()], EPROTO),
    ];
    for line in [
        "listen_port=65536",
        "listen_port=-1",
        "listen_port=+1",
        "listen_port= 1",
        "listen_port=0x10",
        "listen_port=",
        "listen_port=1e3",
        "fwmark=4294967296",
        "fwmark=",
        "replace_peers=false",
        "replace_peers=1",
        "protocol_version=1",
        "endpoint=1.2.3.4:1",
        "frobnicate=1",
        "=1",
        "last_handshake_time_sec=0",
    ] {
        cases.push((vec![line.into()], EINVAL));
    }
    for line in [
        "persistent_keepalive_interval=65536",
        "persistent_keepalive_interval=off",
        "remove=false",
        "update_only=TRUE",
        "replace_allowed_ips=yes",
        "endpoint=example.com:1",
        "endpoint=1.2.3.4",
        "endpoint=1.2.3.4:65536",
        "endpoint=1.2.3.4:",
        "endpoint=01.2.3.4:1",
        "endpoint=fd00::1:51820",
        "endpoint=[1.2.3.4]:1",
        "endpoint=[fe80::1%eth0]:1",
        "endpoint=",
        "allowed_ip=10.0.0.0/33",
        "allowed_ip=fd00::/129",
        "allowed_ip=10.0.0.1",
        "allowed_ip=10.0.0/8",
        "allowed_ip=10.0.0.0/",
        "allowed_ip=-",
        "allowed_ip=--10.0.0.0/8",
        "allowed_ip=10.0.0.0/8,10.1.0.0/16",
        "protocol_version=2",
        "protocol_version=",
        "listen_port=1",
        "rx_bytes=0",
    ] {
        cases.push((in_peer(line), EINVAL));
    }
    for (lines, want) in cases {
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        assert_eq!(errno(&lines), Some(want), "{lines:?}");
    }
}

#[test]
fn the_first_error_wins_and_nothing_of_the_request_is_kept() {
    let e = parse(&["listen_port=7", "bogus=1", "no-equals", &pk(K2)]).unwrap_err();
    assert_eq!(e.errno, EINVAL);
    assert!(e.message.contains("\"bogus\""), "{}", e.message);
}

#[test]
fn reads_a_framed_request_and_refuses_bad_framing_with_eproto() {
    assert_eq!(
        parse_set_request("set=1\nlisten_port=5\n\n")
            .unwrap()
            .listen_port,
        Some(5)
    );
    assert_eq!(
        parse_set_request("set=1\n\n").unwrap(),
        SetChange::default()
    );
    for text in [
        "set=1\nlisten_port=5\n",
        "set=1\nlisten_port=5",
        "listen_port=5\n\n",
        "get=1\n\n",
        "set=1\nlisten_port=5\n\nfwmark=1\n\n",
        "set=2\n\n",
        "set=1\n\n\n",
        "set=1\nbogus\n\nx\n\n",
    ] {
        assert_eq!(
            parse_set_request(text).unwrap_err().errno,
            EPROTO,
            "{text:?}"
        );
    }
}

#[test]
fn never_echoes_a_secret_value_in_an_error_message() {
    let secret = format!("{}X", "c".repeat(63));
    let e = parse(&[&format!("private_key={secret}")]).unwrap_err();
    assert!(!e.message.contains("ccccc"), "{}", e.message);

    let hex = "ab".repeat(32);
    let b64 = "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=";
    let cases: Vec<Vec<String>> = vec![
        vec![format!("private_key{hex}")],
        vec![format!("{hex}=1")],
        vec![pk(&hex), format!("{b64}x=1")],
        vec![pk(&hex), format!("endpoint={b64}:1")],
        vec![pk(&hex), format!("allowed_ip={hex}")],
    ];
    for lines in cases {
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let message = parse(&lines).unwrap_err().message;
        assert!(message.contains("characters withheld"), "{message}");
        assert!(
            !message.contains(&hex[..16]) && !message.contains(&b64[..16]),
            "{message}"
        );
    }
    // Ordinary text is still quoted, so the message says what was wrong.
    assert!(parse(&["listen_prot=1"])
        .unwrap_err()
        .message
        .contains("\"listen_prot\""));
}

#[test]
fn writes_a_change_back_in_wireguard_tools_order() {
    let text = format!(
        "private_key={K1}\nlisten_port=51820\nfwmark=7\nreplace_peers=true\npublic_key={K2}\nupdate_only=true\n\
         preshared_key={Z}\nendpoint=192.0.2.1:51820\npersistent_keepalive_interval=0\nreplace_allowed_ips=true\n\
         allowed_ip=10.0.0.0/8\nallowed_ip=-fd00::/64\npublic_key={K1}\nremove=true\n"
    );
    let c = parse_set_request(&format!("set=1\n{text}\n")).unwrap();
    assert_eq!(c.to_string(), text);
    // A removal is written alone, whatever else its block said.
    let c = parse(&[&pk(K1), "remove=true", "endpoint=192.0.2.9:1"]).unwrap();
    assert_eq!(c.to_string(), format!("public_key={K1}\nremove=true\n"));
}
