//! `get=1` replies in the order wireguard-go writes them: private_key only when set, listen_port only when
//! bound, fwmark only when non-zero; per peer public_key, preshared_key (zeros when none), protocol_version,
//! endpoint (if any), last handshake as absolute Unix time, tx_bytes, rx_bytes, keepalive, allowed IPs.

use super::values::{fmt_endpoint, fmt_net, write_hex};
use super::UapiDevice;
use crate::keys::Key;
use crate::PeerInfo;
use std::fmt::Write;
use std::time::UNIX_EPOCH;

/// What a get reports, read from the device at one moment.
#[derive(Clone, Debug, Default)]
pub struct DeviceState {
    pub private_key: Option<Key>,
    pub listen_port: u16,
    pub fwmark: u32,
    pub peers: Vec<PeerInfo>,
}

impl DeviceState {
    pub fn read(dev: &dyn UapiDevice) -> DeviceState {
        DeviceState {
            private_key: dev.private_key(),
            listen_port: dev.listen_port(),
            fwmark: dev.fwmark(),
            peers: dev.peers(),
        }
    }

    /// The device's own lines.
    pub fn write_head(&self, out: &mut String) {
        if let Some(k) = self.private_key.filter(|k| k != &[0; 32]) {
            out.push_str("private_key=");
            write_hex(out, &k);
            out.push('\n');
        }
        if self.listen_port != 0 {
            let _ = writeln!(out, "listen_port={}", self.listen_port);
        }
        if self.fwmark != 0 {
            let _ = writeln!(out, "fwmark={}", self.fwmark);
        }
    }
}

/// One peer's lines.
pub fn write_peer(p: &PeerInfo, out: &mut String) {
    out.push_str("public_key=");
    write_hex(out, &p.public_key);
    out.push_str("\npreshared_key=");
    write_hex(out, &p.preshared_key.unwrap_or([0; 32]));
    out.push_str("\nprotocol_version=1\n");
    if let Some(e) = &p.endpoint {
        let _ = writeln!(out, "endpoint={}", fmt_endpoint(e));
    }
    let hs = p
        .last_handshake
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default();
    let _ = writeln!(out, "last_handshake_time_sec={}", hs.as_secs());
    let _ = writeln!(out, "last_handshake_time_nsec={}", hs.subsec_nanos());
    let _ = writeln!(out, "tx_bytes={}\nrx_bytes={}", p.tx_bytes, p.rx_bytes);
    let _ = writeln!(
        out,
        "persistent_keepalive_interval={}",
        p.persistent_keepalive
    );
    for net in &p.allowed_ips {
        let _ = writeln!(out, "allowed_ip={}", fmt_net(net));
    }
}

/// The whole reply body, without the errno line (the server writes it peer by peer instead).
pub fn format_get(state: &DeviceState) -> String {
    let mut out = String::new();
    state.write_head(&mut out);
    for p in &state.peers {
        write_peer(p, &mut out);
    }
    out
}
