//! Two real devices (real TUNs, real UDP on loopback) handshake with each other. Needs root for the TUNs;
//! without it the tests say loudly that they were skipped.

use std::net::SocketAddr;
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::Duration;
use wiretun_core::keys::{generate_private_key, public_key, Key};
use wiretun_core::{Device, DeviceConfig, Event, PeerUpdate};

fn root() -> bool {
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    eprintln!(
        "SKIPPED: wiretun-core loopback tests need root (CAP_NET_ADMIN) to create TUN devices"
    );
    false
}

struct Node {
    dev: Device,
    key: Key,
    events: Receiver<Event>,
}

fn node(name: &str) -> Node {
    let dev = Device::create(DeviceConfig {
        name: name.into(),
        mtu: None,
    })
    .unwrap();
    let key = generate_private_key();
    dev.set_private_key(Some(key));
    let (tx, rx) = channel();
    let tx = std::sync::Mutex::new(tx);
    dev.set_event_handler(Some(Arc::new(move |e| {
        let _ = tx.lock().unwrap().send(e);
    })));
    Node {
        dev,
        key,
        events: rx,
    }
}

fn connect(a: &Node, b: &Node, keepalive: Option<u16>) {
    let endpoint: SocketAddr = format!("127.0.0.1:{}", b.dev.listen_port())
        .parse()
        .unwrap();
    let update = PeerUpdate {
        endpoint: Some(endpoint),
        persistent_keepalive: keepalive,
        allowed_ips: vec!["10.77.0.0/24".parse().unwrap()],
        ..Default::default()
    };
    assert!(a.dev.set_peer(public_key(&b.key), update).unwrap());
}

fn wait_handshake(n: &Node, peer: &Key) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match n.events.recv_timeout(left) {
            Ok(Event::Handshake { public_key }) if &public_key == peer => return,
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    panic!("no handshake with peer within 10 s");
}

#[test]
fn handshake_port_change_and_key_change() {
    if !root() {
        return;
    }
    let a = node("wtcore-a");
    let b = node("wtcore-b");
    connect(&a, &b, Some(1));
    connect(&b, &a, None);
    wait_handshake(&a, &public_key(&b.key));
    wait_handshake(&b, &public_key(&a.key));
    let seen = b.dev.peers()[0].clone();
    assert!(seen.last_handshake.is_some());
    assert!(seen.rx_bytes >= 148, "responder counted the initiation");
    assert_eq!(
        seen.endpoint.unwrap().port(),
        a.dev.listen_port(),
        "endpoint learned from the initiator"
    );

    // A new listen port on A: B learns it by roaming as soon as A's keepalives arrive from it.
    let old = a.dev.listen_port();
    let new = a.dev.set_listen_port(0).unwrap();
    assert_ne!(old, new);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while b.dev.peers()[0].endpoint.unwrap().port() != new {
        assert!(
            std::time::Instant::now() < deadline,
            "B never saw A's new port"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // A new private key on B: A must be told B's new public key, and a fresh handshake follows.
    let b_new = generate_private_key();
    b.dev.set_private_key(Some(b_new));
    assert!(a.dev.remove_peer(&public_key(&b.key)));
    let endpoint = format!("127.0.0.1:{}", b.dev.listen_port())
        .parse()
        .unwrap();
    let update = PeerUpdate {
        endpoint: Some(endpoint),
        persistent_keepalive: Some(1),
        ..Default::default()
    };
    a.dev.set_peer(public_key(&b_new), update).unwrap();
    wait_handshake(&a, &public_key(&b_new));
}

#[test]
fn closing_reports_closed_and_removes_the_interface() {
    if !root() {
        return;
    }
    let n = node("wtcore-c");
    n.dev.close();
    let closed = n.events.recv_timeout(Duration::from_secs(2)).unwrap();
    assert_eq!(
        closed,
        Event::Closed {
            reason: "closed".into()
        }
    );
    drop(n);
    assert!(!std::path::Path::new("/sys/class/net/wtcore-c").exists());
}

#[test]
fn bad_names_are_rejected_before_touching_the_system() {
    for name in ["", "a/b", "this-name-is-too-long", "has space"] {
        let err = Device::create(DeviceConfig {
            name: name.into(),
            mtu: None,
        })
        .err()
        .unwrap();
        assert_eq!(err.code, "EINVAL", "{name:?}");
    }
}
