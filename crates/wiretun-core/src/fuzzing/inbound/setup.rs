//! The fixed cast of an inbound script: keys, outer and inner addresses, and the prefixes it moves.

use crate::keys::Key;
use boringtun::x25519::{PublicKey, StaticSecret};
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;

/// Remotes 0-2 are configured peers (1 with a preshared key); 3 is a stranger who knows our public key.
pub(super) const REMOTES: usize = 4;
pub(super) const CONFIGURED: usize = 3;
pub(super) const MAX_OPS: usize = 400;
pub(super) const HISTORY: usize = 64;
const QUEUE: usize = 32;
const OUR_KEY: Key = [0x11; 32];
pub(super) const PSK: Key = [0x77; 32];
/// Where the remotes think they send to, for their own cookie logic.
pub(super) const OUR_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9));

pub(super) fn remote_private(r: usize) -> Key {
    [0x20 + r as u8; 32]
}

/// Outer addresses the remotes send from; 5 is 0's address written as a v4-mapped IPv6 address.
pub(super) fn outer(i: u8) -> SocketAddr {
    let ip: IpAddr = match i % 8 {
        0 | 5 => Ipv4Addr::new(192, 0, 2, 1).into(),
        1 => Ipv4Addr::new(192, 0, 2, 2).into(),
        2 => Ipv4Addr::new(198, 51, 100, 7).into(),
        3 => Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).into(),
        4 => Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, 2).into(),
        6 => Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1).into(),
        _ => Ipv4Addr::new(203, 0, 113, 5).into(),
    };
    let ip = match (i % 8, ip) {
        (5, IpAddr::V4(v4)) => IpAddr::V6(v4.to_ipv6_mapped()),
        _ => ip,
    };
    SocketAddr::new(
        ip,
        [51820, 51820, 1, 51820, 2, 51820, 1, 65535][i as usize % 8],
    )
}

pub(super) fn local_addr(i: u8) -> Option<IpAddr> {
    match i % 3 {
        0 => None,
        1 => Some(OUR_IP),
        _ => Some(Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1).into()),
    }
}

/// Remote r's inner addresses: 10.0.r.0/24 and fd00:0:0:r::/64.
pub(super) fn inner_nets(r: usize) -> [IpNet; 2] {
    let r = r as u8;
    [
        IpNet::new(Ipv4Addr::new(10, 0, r, 0).into(), 24).expect("valid prefix"),
        IpNet::new(Ipv6Addr::new(0xfd00, 0, 0, r.into(), 0, 0, 0, 0).into(), 64)
            .expect("valid prefix"),
    ]
}

/// Prefixes the script moves between peers: each remote's own, overlapping ones and the default routes.
pub(super) fn movable_net(i: u8) -> IpNet {
    match i % 12 {
        n @ 0..=7 => inner_nets(n as usize / 2)[n as usize % 2],
        8 => "10.0.0.0/25".parse().expect("valid prefix"),
        9 => "10.0.1.7/32".parse().expect("valid prefix"),
        10 => "0.0.0.0/0".parse().expect("valid prefix"),
        _ => "::/0".parse().expect("valid prefix"),
    }
}

/// What identifies a message for replay: a data packet by receiver index and counter, a handshake
/// message by everything but mac2 (which only matters under load), anything else by its bytes.
pub(super) fn message_id(data: &[u8]) -> Vec<u8> {
    match (data.first(), data.len()) {
        (Some(4), n) if n >= 16 => data[..16].to_vec(),
        (Some(1), 148) | (Some(2), 92) => data[..data.len() - 16].to_vec(),
        _ => data.to_vec(),
    }
}

/// The keys never change, so their (slow) derivation happens once per process.
pub(super) struct Keys {
    pub ours: StaticSecret,
    pub our_public: PublicKey,
    pub remotes: Vec<Key>,
}

pub(super) fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ours = StaticSecret::from(OUR_KEY);
        let our_public = PublicKey::from(&ours);
        let remotes = (0..REMOTES)
            .map(|r| PublicKey::from(&StaticSecret::from(remote_private(r))).to_bytes())
            .collect();
        Keys {
            ours,
            our_public,
            remotes,
        }
    })
}

pub(super) fn push_capped(queue: &mut Vec<Vec<u8>>, data: Vec<u8>) {
    if queue.len() == QUEUE {
        queue.remove(0);
    }
    queue.push(data);
}

pub(super) fn unmapped(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => addr,
        },
        v4 => v4,
    }
}
