//! The native UAPI codec, exposed to the TypeScript tests and fuzzer so that what the TypeScript client
//! writes is checked against the parser that really reads it (the server itself is BindingDevice::serve_uapi).

// Under `cargo test` napi-derive registers nothing, so items only its exports use look dead.
#![cfg_attr(test, allow(dead_code))]

use crate::{invalid, key, JsPeerInfo};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::time::{Duration, UNIX_EPOCH};
use wiretun_core::uapi::{self, DeviceState};
use wiretun_core::PeerInfo;

/// What the native parser makes of a whole set request.
#[napi(object, js_name = "NativeUapiCheck")]
pub struct UapiCheck {
    /// 0 when accepted, else the errno the server would answer.
    pub errno: i32,
    /// Why it was refused (never key material).
    pub message: Option<String>,
    /// For an accepted request: the change written back as set lines in wireguard-tools' order.
    pub canonical: Option<String>,
    /// For an accepted request: the line the daemon logs when it applies it.
    pub summary: Option<String>,
}

/// Parses `set=1\n...\n\n` as the server would, without applying anything.
#[napi]
pub fn uapi_check_set(text: String) -> UapiCheck {
    match uapi::parse_set_request(&text) {
        Ok(change) => UapiCheck {
            errno: 0,
            message: None,
            canonical: Some(change.to_string()),
            summary: Some(uapi::summary(&change)),
        },
        Err(e) => UapiCheck {
            errno: e.errno,
            message: Some(e.message),
            canonical: None,
            summary: None,
        },
    }
}

fn peer_from_js(p: JsPeerInfo) -> Result<PeerInfo> {
    let endpoint = p
        .endpoint
        .map(|e| {
            e.parse()
                .map_err(|_| invalid(format!("bad endpoint {e:?}")))
        })
        .transpose()?;
    let allowed_ips = p
        .allowed_ips
        .iter()
        .map(|s| {
            s.parse()
                .map_err(|_| invalid(format!("bad allowed IP {s:?}")))
        })
        .collect::<Result<_>>()?;
    let since_epoch = Duration::new(p.last_handshake_sec as u64, p.last_handshake_nsec);
    Ok(PeerInfo {
        public_key: key(&p.public_key, "public key")?,
        preshared_key: p
            .preshared_key
            .map(|k| key(&k, "preshared key"))
            .transpose()?,
        endpoint,
        last_handshake: (since_epoch > Duration::ZERO).then(|| UNIX_EPOCH + since_epoch),
        rx_bytes: p.rx_bytes as u64,
        tx_bytes: p.tx_bytes as u64,
        persistent_keepalive: u16::try_from(p.persistent_keepalive)
            .map_err(|_| invalid("keepalive out of range".into()))?,
        allowed_ips,
    })
}

/// The get reply body the server writes for this state (without the errno line).
#[napi]
pub fn uapi_format_get(
    private_key: Option<Buffer>,
    listen_port: u32,
    fwmark: u32,
    peers: Vec<JsPeerInfo>,
) -> Result<String> {
    let state = DeviceState {
        private_key: private_key.map(|k| key(&k, "private key")).transpose()?,
        listen_port: u16::try_from(listen_port).map_err(|_| invalid("port out of range".into()))?,
        fwmark,
        peers: peers.into_iter().map(peer_from_js).collect::<Result<_>>()?,
    };
    Ok(uapi::format_get(&state))
}
