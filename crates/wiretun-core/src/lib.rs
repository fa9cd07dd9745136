//! wiretun-core: a userspace WireGuard device in plain Rust. The TUN comes from `tun-rs`, the protocol
//! from boringtun's `noise::Tunn` (one per peer), the outer UDP from `quinn-udp`. No napi here: the
//! binding crate and Rust users drive the same `Device`.

mod allowed_ips;
mod config;
pub mod constants;
mod device;
mod error;
mod events;
mod identity;
pub mod keys;
mod peer;
mod ratelimit;
mod receive;
mod send;
mod timers;
mod tun_batch;
mod udp;
mod wake;

pub use allowed_ips::AllowedIps;
pub use device::{Device, DeviceConfig, PeerInfo, PeerUpdate};
pub use error::{errno_name, Error, Result};
pub use events::{Event, EventHandler};
pub use ipnet::IpNet;
pub use peer::Endpoint;

/// The core's version, reported by `wiretun --version` and checked by the JS loader.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
