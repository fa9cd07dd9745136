//! A WireGuard device with a userspace TCP/IP stack as its inner side: no TUN, no routes, no privilege,
//! only a UDP socket.
//!
//! wiretun-core's device and wiretun-netstack's stack meet at packet boundaries that know nothing of each
//! other: the device delivers decrypted packets to an [`InnerSink`] and takes outgoing ones through an
//! [`Outbound`](wiretun_core::Outbound) handle; the stack takes packets through [`Stack::inject_batch`] and
//! emits them to a [`PacketSink`]. This crate is the two adapters between them and the order the pair starts
//! and stops in. It is a crate of its own, not part of the napi binding, so Rust users and the Rust
//! integration tests get the same pair the binding uses, and the binding stays conversions only.
//!
//! Threads: the device's receive thread decrypts and injects a batch per receive batch, and when the stack's
//! thread is asleep it runs the stack's turn itself, so a download's ACKs leave from the thread that
//! decrypted the data, as in the kernel. The stack's thread runs everything else of TCP/UDP/ICMP (OS socket
//! readiness, timers, commands). Whichever turns encrypts and sends what the stack emits, through the
//! device's outbound pipeline (cryptokey routing, encryption, GSO). The device's timer thread runs
//! handshakes and keepalives.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock, Weak};

pub use wiretun_core::{Device, DeviceConfig, Error, InnerSink, Outbound, Result};
pub use wiretun_netstack::{errno_name, PacketSink, Stack, StackConfig};

/// The device's side of the stack: decrypted packets are injected, a batch under one lock and one wake-up.
/// Holds the stack weakly, so the pair is no reference cycle (stack → outbound → device → this → stack).
#[derive(Default)]
struct ToStack {
    stack: OnceLock<Weak<Stack>>,
}

impl InnerSink for ToStack {
    fn deliver(&self, packets: &mut dyn Iterator<Item = &[u8]>) {
        // Packets that arrive before the stack exists (a peer's first data right after creation) or after it
        // stopped are dropped, as a NIC that is down drops them.
        if let Some(stack) = self.stack.get().and_then(Weak::upgrade) {
            stack.inject_batch(packets);
        }
    }
}

/// The stack's side of the device: what it emits is routed, encrypted and sent on the thread that turned.
struct ToDevice(Outbound);

// The device pads each packet in the stack's own buffer, in the room the stack leaves after it.
const _: () = assert!(wiretun_netstack::PACKET_TAILROOM >= wiretun_core::PADDING_ROOM);

impl PacketSink for ToDevice {
    fn send(&self, packets: &mut dyn Iterator<Item = &mut Vec<u8>>) {
        self.0.send(packets);
    }

    fn has_route(&self, dst: IpAddr) -> bool {
        self.0.has_route(dst)
    }
}

/// A running device whose inner side is a userspace stack. Configure the device (key, peers, port) through
/// [`Rootless::device`] as any device, and open connections through [`Rootless::stack`]. Dropping it closes
/// both.
pub struct Rootless {
    device: Arc<Device>,
    stack: Arc<Stack>,
}

impl std::fmt::Debug for Rootless {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Rootless({})", self.device.name())
    }
}

impl Rootless {
    /// Starts the device (named `name`, for UAPI and logs; it binds a random UDP port) and the stack with
    /// `config` (its addresses, MTU and buffers). Nothing is left running on failure.
    pub fn create(name: &str, config: StackConfig) -> Result<Rootless> {
        let mtu = u16::try_from(config.mtu)
            .map_err(|_| Error::invalid(format!("mtu {} is too large", config.mtu)))?;
        let to_stack = Arc::new(ToStack::default());
        let device = Device::create_with_inner(
            DeviceConfig {
                name: name.to_string(),
                mtu: Some(mtu),
            },
            to_stack.clone(),
        )?;
        let device = Arc::new(device);
        let stack = match Stack::new(config, Arc::new(ToDevice(device.outbound()))) {
            Ok(stack) => Arc::new(stack),
            Err(e) => {
                device.close();
                return Err(Error::new(
                    errno_name(&e),
                    format!("starting the network stack: {e}"),
                ));
            }
        };
        let _ = to_stack.stack.set(Arc::downgrade(&stack));
        Ok(Rootless { device, stack })
    }

    /// The WireGuard device: private key, listen port, peers, events, UAPI.
    pub fn device(&self) -> &Arc<Device> {
        &self.device
    }

    /// The userspace stack: TCP dials and listeners, UDP sockets, ping.
    pub fn stack(&self) -> &Arc<Stack> {
        &self.stack
    }

    /// Stops the stack first (its connections are reset, and the resets still reach the peers), then the
    /// device. Idempotent.
    pub fn close(&self) {
        self.stack.shutdown();
        self.device.close();
    }
}

impl Drop for Rootless {
    fn drop(&mut self) {
        self.close();
    }
}
