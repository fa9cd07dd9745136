//! wiretun-core: a userspace WireGuard device in plain Rust. The TUN comes from `tun-rs`, the protocol
//! from boringtun's `noise::Tunn` (one per peer), the outer UDP from `quinn-udp`. No napi here: the
//! binding crate and Rust users drive the same `Device`.

// Windows has no TUN (windows.rs): what only the TUN path uses is unused there.
#![cfg_attr(windows, allow(dead_code))]

mod allowed_ips;
mod config;
pub mod constants;
mod device;
mod error;
mod events;
#[cfg(all(target_os = "linux", any(test, feature = "fuzzing")))]
pub mod fuzzing;
mod identity;
mod inner;
pub mod keys;
mod padding;
mod peer;
mod ratelimit;
mod send;
mod timers;
pub mod uapi;

// Platform variants, each behind one small interface. Linux: TUN offloads and batched reads, GRO-merged
// TUN writes, eventfd, SO_MARK. Other unix (macOS utun): one packet per TUN read and write, a pipe, no
// fwmark. Windows: no TUN yet (windows.rs refuses one), but the UDP, receive and send paths run, so a
// device whose inner side is a sink (a userspace stack) works there; WSAPoll and a loopback-socket waker.
mod receive;
#[cfg(unix)]
#[path = "sock_unix.rs"]
mod sock_sys;
#[cfg(windows)]
#[path = "sock_windows.rs"]
mod sock_sys;
#[cfg(target_os = "linux")]
mod tun_batch;
#[cfg(not(target_os = "linux"))]
#[path = "tun_batch_portable.rs"]
mod tun_batch;
#[cfg(target_os = "linux")]
#[path = "tun_io_linux.rs"]
mod tun_io;
#[cfg(all(unix, not(target_os = "linux")))]
#[path = "tun_io_portable.rs"]
mod tun_io;
mod udp;
#[cfg(target_os = "linux")]
#[path = "udp_sys_linux.rs"]
mod udp_sys;
#[cfg(all(unix, not(target_os = "linux")))]
#[path = "udp_sys_portable.rs"]
mod udp_sys;
#[cfg(windows)]
#[path = "udp_sys_windows.rs"]
mod udp_sys;
#[cfg(target_os = "linux")]
mod wake;
#[cfg(all(unix, not(target_os = "linux")))]
#[path = "wake_pipe.rs"]
mod wake;
#[cfg(windows)]
#[path = "wake_socket.rs"]
mod wake;
#[cfg(windows)]
mod windows;
// The macOS and Windows variants that build on Linux as well get their unit tests run here.
#[cfg(all(test, target_os = "linux"))]
#[allow(dead_code)]
#[path = "tun_batch_portable.rs"]
mod tun_batch_portable;
#[cfg(all(test, target_os = "linux"))]
#[allow(dead_code)]
#[path = "tun_io_portable.rs"]
mod tun_io_portable;
#[cfg(all(test, target_os = "linux"))]
#[allow(dead_code)]
#[path = "wake_pipe.rs"]
mod wake_pipe;
#[cfg(all(test, target_os = "linux"))]
#[allow(dead_code)]
#[path = "wake_socket.rs"]
mod wake_socket;
#[cfg(windows)]
use windows::tun_io;

pub use allowed_ips::AllowedIps;
pub use device::{Device, DeviceConfig, PeerInfo, PeerUpdate};
pub use error::{errno_name, Error, Result};
pub use events::{Event, EventHandler};
pub use inner::{InnerSink, Outbound, PADDING_ROOM};
pub use ipnet::IpNet;
pub use peer::Endpoint;

/// The core's version, reported by `wiretun --version` and checked by the JS loader.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
