//! The cross-platform userspace configuration protocol (what `wg` speaks over /var/run/wireguard/IF.sock),
//! served from a native thread so that a caller blocking its own thread (a synchronous `wg` child of the
//! process that owns the device) still gets an answer, and so that parsing a request of 100,000 peers costs
//! two allocations that go back to the system afterwards.
//!
//! - [`set`]: `set=1` requests, validated whole and then applied in wireguard-go's order.
//! - [`get`]: `get=1` replies in wireguard-go's key order.
//! - [`Server`]: the socket, several requests per connection, each answered with `errno=N` (a stand-in that
//!   refuses to start on Windows).
//!
//! The client side (formatting sets, reading gets) stays with the callers (the TypeScript CLI).

#[cfg(unix)]
mod conn;
mod get;
#[cfg(unix)]
mod server;
#[cfg(not(unix))]
#[path = "server_unsupported.rs"]
mod server;
mod set;
#[cfg(test)]
mod tests;
mod values;

pub use get::{format_get, write_peer, DeviceState};
pub use server::Server;
pub use set::{apply, parse_set_request, summary, PeerChange, SetChange, SetParser};
pub use values::{
    errno_for_code, fmt_endpoint, fmt_ip, fmt_net, shown, UapiError, EADDRINUSE, EINVAL, EIO,
    EPROTO, UNKNOWN,
};

use crate::keys::Key;
use crate::{Device, Event, PeerInfo, PeerUpdate, Result};

/// What the UAPI reads and changes on a device: the device itself, or a fake in tests. `report` delivers
/// what the server has to say (refused requests, applied changes) to whoever listens to the device.
pub trait UapiDevice: Send + Sync {
    fn private_key(&self) -> Option<Key>;
    fn listen_port(&self) -> u16;
    fn fwmark(&self) -> u32;
    fn peers(&self) -> Vec<PeerInfo>;
    fn set_private_key(&self, key: Option<Key>);
    fn set_listen_port(&self, port: u16) -> Result<u16>;
    fn set_fwmark(&self, mark: u32) -> Result<()>;
    fn clear_peers(&self);
    fn remove_peer(&self, key: &Key) -> bool;
    fn set_peer(&self, key: Key, update: PeerUpdate) -> Result<bool>;
    fn report(&self, event: Event);
}

impl UapiDevice for Device {
    fn private_key(&self) -> Option<Key> {
        Device::private_key(self)
    }
    fn listen_port(&self) -> u16 {
        Device::listen_port(self)
    }
    fn fwmark(&self) -> u32 {
        Device::fwmark(self)
    }
    fn peers(&self) -> Vec<PeerInfo> {
        Device::peers(self)
    }
    fn set_private_key(&self, key: Option<Key>) {
        Device::set_private_key(self, key)
    }
    fn set_listen_port(&self, port: u16) -> Result<u16> {
        Device::set_listen_port(self, port)
    }
    fn set_fwmark(&self, mark: u32) -> Result<()> {
        Device::set_fwmark(self, mark)
    }
    fn clear_peers(&self) {
        Device::clear_peers(self)
    }
    fn remove_peer(&self, key: &Key) -> bool {
        Device::remove_peer(self, key)
    }
    fn set_peer(&self, key: Key, update: PeerUpdate) -> Result<bool> {
        Device::set_peer(self, key, update)
    }
    fn report(&self, event: Event) {
        self.shared.emit(event)
    }
}
