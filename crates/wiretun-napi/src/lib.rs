//! Thin napi binding over wiretun-core: conversions and nothing else. Errors cross as `CODE: message`,
//! which ts/errors.ts maps to typed errors in one place.

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::UNIX_EPOCH;
use wiretun_core::{keys, Device, DeviceConfig, Event, IpNet, PeerUpdate};
mod netstack;
mod privs;
mod proxy;
mod proxy_log;
mod proxy_stdio;
mod sandbox;
mod sqlite;
mod tun;
mod uapi;

pub(crate) fn to_napi(e: wiretun_core::Error) -> napi::Error {
    napi::Error::from_reason(e.to_string())
}

pub(crate) fn invalid(msg: String) -> napi::Error {
    napi::Error::from_reason(format!("EINVAL: {msg}"))
}

fn key(buf: &[u8], what: &str) -> Result<keys::Key> {
    keys::key_from_slice(buf)
        .ok_or_else(|| invalid(format!("{what} must be 32 bytes, got {}", buf.len())))
}

fn nets(list: Option<Vec<String>>) -> Result<Vec<IpNet>> {
    list.unwrap_or_default()
        .iter()
        .map(|s| {
            s.parse::<IpNet>()
                .map_err(|_| invalid(format!("bad allowed IP {s:?}")))
        })
        .collect()
}

#[napi(object, js_name = "NativePeerUpdate")]
pub struct JsPeerUpdate {
    pub update_only: Option<bool>,
    pub preshared_key: Option<Buffer>,
    pub endpoint: Option<String>,
    pub persistent_keepalive: Option<u32>,
    pub replace_allowed_ips: Option<bool>,
    pub allowed_ips: Option<Vec<String>>,
    pub remove_allowed_ips: Option<Vec<String>>,
}

#[napi(object, js_name = "NativePeerInfo")]
pub struct JsPeerInfo {
    pub public_key: Buffer,
    pub preshared_key: Option<Buffer>,
    pub endpoint: Option<String>,
    pub last_handshake_sec: f64,
    pub last_handshake_nsec: u32,
    pub rx_bytes: f64,
    pub tx_bytes: f64,
    pub persistent_keepalive: u32,
    pub allowed_ips: Vec<String>,
}

#[napi(object, js_name = "NativeEvent")]
pub struct JsEvent {
    pub kind: String,
    pub public_key: Option<Buffer>,
    pub endpoint: Option<String>,
    pub reason: Option<String>,
    /// For `uapiError` (why a request was refused) and `uapiSet` (what it changed): never key material.
    pub message: Option<String>,
}

impl From<Event> for JsEvent {
    fn from(e: Event) -> Self {
        let mut out = JsEvent {
            kind: String::new(),
            public_key: None,
            endpoint: None,
            reason: None,
            message: None,
        };
        out.kind = match e {
            Event::Handshake { public_key } => {
                out.public_key = Some(public_key.to_vec().into());
                "handshake"
            }
            Event::Stale { public_key } => {
                out.public_key = Some(public_key.to_vec().into());
                "stale"
            }
            Event::EndpointChanged {
                public_key,
                endpoint,
            } => {
                out.public_key = Some(public_key.to_vec().into());
                out.endpoint = Some(endpoint.to_string());
                "endpoint"
            }
            Event::Closed { reason } => {
                out.reason = Some(reason);
                "closed"
            }
            Event::UapiError { message } => {
                out.message = Some(message);
                "uapiError"
            }
            Event::UapiSet { summary } => {
                out.message = Some(summary);
                "uapiSet"
            }
        }
        .into();
        out
    }
}

type EventFn = ThreadsafeFunction<JsEvent, (), JsEvent, Status, false, true>;

#[napi]
pub struct BindingDevice {
    name: String,
    device: Mutex<Option<Arc<Device>>>,
    uapi: Mutex<Option<wiretun_core::uapi::Server>>,
    /// A rootless device's stack and device together (netstack.rs); None with a TUN.
    rootless: Mutex<Option<Arc<wiretun_rootless::Rootless>>>,
}

#[napi]
impl BindingDevice {
    /// Creates the TUN interface and starts the data plane.
    #[napi(factory)]
    pub fn create(name: String, mtu: Option<u32>) -> Result<Self> {
        let mtu = mtu
            .map(|m| u16::try_from(m).map_err(|_| invalid(format!("MTU {m} too large"))))
            .transpose()?;
        let device = Device::create(DeviceConfig { name, mtu }).map_err(to_napi)?;
        Ok(BindingDevice {
            name: device.name().to_string(),
            device: Mutex::new(Some(Arc::new(device))),
            uapi: Mutex::new(None),
            rootless: Mutex::new(None),
        })
    }

    /// A device with no TUN: its inner side is a userspace TCP/IP stack with these addresses. Needs no
    /// privilege; `name` names it for UAPI and logs only.
    #[napi(factory)]
    pub fn create_netstack(name: String, options: netstack::JsNetstackOptions) -> Result<Self> {
        let rootless = netstack::create(&name, &options)?;
        Ok(BindingDevice {
            name: rootless.device().name().to_string(),
            device: Mutex::new(Some(rootless.device().clone())),
            uapi: Mutex::new(None),
            rootless: Mutex::new(Some(rootless)),
        })
    }

    /// The stack of a device made by createNetstack (EINVAL for a TUN device).
    #[napi]
    pub fn netstack(&self) -> Result<netstack::BindingNetstack> {
        netstack::binding(self.rootless.lock().as_ref())
    }

    fn dev(&self) -> Result<Arc<Device>> {
        self.device
            .lock()
            .clone()
            .ok_or_else(|| napi::Error::from_reason("EBADF: device is closed"))
    }

    #[napi(getter)]
    pub fn name(&self) -> String {
        self.name.clone()
    }

    #[napi]
    pub fn set_private_key(&self, key_buf: Option<Buffer>) -> Result<()> {
        let k = key_buf.map(|b| key(&b, "private key")).transpose()?;
        self.dev()?.set_private_key(k);
        Ok(())
    }

    #[napi]
    pub fn private_key(&self) -> Result<Option<Buffer>> {
        Ok(self.dev()?.private_key().map(|k| k.to_vec().into()))
    }

    #[napi]
    pub fn public_key(&self) -> Result<Option<Buffer>> {
        Ok(self.dev()?.public_key().map(|k| k.to_vec().into()))
    }

    #[napi]
    pub fn set_listen_port(&self, port: u32) -> Result<u32> {
        let port = u16::try_from(port).map_err(|_| invalid(format!("port {port} out of range")))?;
        Ok(self.dev()?.set_listen_port(port).map_err(to_napi)? as u32)
    }

    #[napi]
    pub fn listen_port(&self) -> Result<u32> {
        Ok(self.dev()?.listen_port() as u32)
    }

    #[napi]
    pub fn set_fwmark(&self, mark: u32) -> Result<()> {
        self.dev()?.set_fwmark(mark).map_err(to_napi)
    }

    #[napi]
    pub fn fwmark(&self) -> Result<u32> {
        Ok(self.dev()?.fwmark())
    }

    #[napi]
    pub fn set_peer(&self, public_key: Buffer, update: JsPeerUpdate) -> Result<bool> {
        let pk = key(&public_key, "public key")?;
        let update = PeerUpdate {
            update_only: update.update_only.unwrap_or(false),
            preshared_key: update
                .preshared_key
                .map(|b| key(&b, "preshared key"))
                .transpose()?,
            endpoint: update
                .endpoint
                .map(|e| {
                    e.parse()
                        .map_err(|_| invalid(format!("bad endpoint {e:?}")))
                })
                .transpose()?,
            persistent_keepalive: update
                .persistent_keepalive
                .map(|k| {
                    u16::try_from(k).map_err(|_| invalid(format!("keepalive {k} out of range")))
                })
                .transpose()?,
            replace_allowed_ips: update.replace_allowed_ips.unwrap_or(false),
            allowed_ips: nets(update.allowed_ips)?,
            remove_allowed_ips: nets(update.remove_allowed_ips)?,
        };
        self.dev()?.set_peer(pk, update).map_err(to_napi)
    }

    #[napi]
    pub fn remove_peer(&self, public_key: Buffer) -> Result<bool> {
        Ok(self.dev()?.remove_peer(&key(&public_key, "public key")?))
    }

    #[napi]
    pub fn clear_peers(&self) -> Result<()> {
        self.dev()?.clear_peers();
        Ok(())
    }

    #[napi]
    pub fn peers(&self) -> Result<Vec<JsPeerInfo>> {
        Ok(self.dev()?.peers().into_iter().map(peer_info).collect())
    }

    /// Delivers data-plane events to `callback`; it does not keep the event loop alive.
    #[napi]
    pub fn on_event(&self, callback: Function<JsEvent, ()>) -> Result<()> {
        let tsfn: EventFn = callback
            .build_threadsafe_function()
            .weak::<true>()
            .callee_handled::<false>()
            .build()?;
        self.dev()?
            .set_event_handler(Some(Arc::new(move |e: Event| {
                tsfn.call(e.into(), ThreadsafeFunctionCallMode::NonBlocking);
            })));
        Ok(())
    }

    /// Serves the UAPI socket at `path` from a native thread, so `wg` gets answers even while this
    /// thread is blocked. Returns the path served. EADDRINUSE when another process serves it.
    #[napi]
    pub fn serve_uapi(&self, path: String) -> Result<String> {
        let mut slot = self.uapi.lock();
        if slot.is_some() {
            return Err(napi::Error::from_reason("EEXIST: UAPI is already served"));
        }
        let server = wiretun_core::uapi::Server::start(&path, self.dev()?).map_err(to_napi)?;
        *slot = Some(server);
        Ok(path)
    }

    /// Stops serving UAPI and removes the socket. Throws (EACCES, say) only when the socket could not be
    /// removed; serving has stopped regardless. Idempotent.
    #[napi]
    pub fn close_uapi(&self) -> Result<()> {
        match self.uapi.lock().take() {
            Some(mut server) => server.close().map_err(to_napi),
            None => Ok(()),
        }
    }

    /// `wiretund --user`: switches every thread to uid/gid, run on the UAPI thread, which then is the one
    /// keeping CAP_NET_ADMIN (it is what sets SO_MARK from now on). See privs.rs.
    #[napi]
    pub fn drop_privileges(&self, uid: u32, gid: u32) -> Result<privs::DropReport> {
        let slot = self.uapi.lock();
        let server = slot
            .as_ref()
            .ok_or_else(|| napi::Error::from_reason("EBADF: UAPI is not served"))?;
        server
            .run_on_thread(move || privs::drop_privileges(uid, gid).map_err(|e| e.reason.clone()))
            .ok_or_else(|| napi::Error::from_reason("EBADF: the UAPI thread is gone"))?
            .map_err(napi::Error::from_reason)
    }

    /// Stops the data plane and removes the TUN interface, and the UAPI socket first. Idempotent. A
    /// rootless device's stack stops before the device, so its connections' resets still reach the peers.
    #[napi]
    pub fn close(&self) {
        let _ = self.close_uapi();
        if let Some(rootless) = self.rootless.lock().take() {
            rootless.close();
        }
        if let Some(device) = self.device.lock().take() {
            device.close();
        }
    }
}

fn peer_info(p: wiretun_core::PeerInfo) -> JsPeerInfo {
    let hs = p
        .last_handshake
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default();
    JsPeerInfo {
        public_key: p.public_key.to_vec().into(),
        preshared_key: p.preshared_key.map(|k| k.to_vec().into()),
        endpoint: p.endpoint.map(|e| e.to_string()),
        last_handshake_sec: hs.as_secs() as f64,
        last_handshake_nsec: hs.subsec_nanos(),
        rx_bytes: p.rx_bytes as f64,
        tx_bytes: p.tx_bytes as f64,
        persistent_keepalive: p.persistent_keepalive as u32,
        allowed_ips: p.allowed_ips.iter().map(|n| n.to_string()).collect(),
    }
}

#[napi]
pub fn generate_private_key() -> Buffer {
    keys::generate_private_key().to_vec().into()
}

#[napi]
pub fn generate_preshared_key() -> Buffer {
    keys::generate_preshared_key().to_vec().into()
}

#[napi]
pub fn public_key_from_private(private_key: Buffer) -> Result<Buffer> {
    Ok(keys::public_key(&key(&private_key, "private key")?)
        .to_vec()
        .into())
}

/// True for public keys of small order (their shared secret is all zeros): never valid peers.
#[napi]
pub fn is_low_order_public_key(public_key: Buffer) -> Result<bool> {
    Ok(keys::is_low_order(&key(&public_key, "public key")?))
}

#[napi]
pub fn core_version() -> String {
    wiretun_core::VERSION.to_string()
}
