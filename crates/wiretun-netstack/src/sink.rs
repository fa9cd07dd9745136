//! The boundary between the stack and the device that carries its packets.

use std::net::IpAddr;

/// Spare capacity after the end of every packet handed to [`PacketSink::send`].
pub const PACKET_TAILROOM: usize = 16;

/// Where the stack's outgoing IP packets go: in wiretun, the device, which encrypts each one to the peer whose
/// allowed IPs cover its destination.
///
/// `send` is called by one thread at a time: the stack thread, or a thread inside
/// [`Stack::inject_batch`](crate::Stack::inject_batch) that found it asleep. It should hand the packets off
/// quickly (encrypting and queueing them for the UDP socket is fine; blocking on a full queue is not: drop
/// instead, as a NIC would, and TCP recovers), since the stack neither receives nor transmits while it runs.
/// A `send` that injects into the same stack is fine: those packets are queued for the stack thread.
pub trait PacketSink: Send + Sync + 'static {
    /// A batch of complete IPv4 or IPv6 packets, each at most the configured MTU, in buffers the stack reuses
    /// after the call. Each buffer has [`PACKET_TAILROOM`] bytes of spare capacity, so a sink may grow a packet
    /// in place (wiretun pads each one to a multiple of 16 while it encrypts it) without a reallocation.
    fn send(&self, packets: &mut dyn Iterator<Item = &mut Vec<u8>>);

    /// Whether a packet to `dst` has somewhere to go (in wiretun: some peer's allowed IPs cover it). Dials, UDP
    /// sends and pings to a destination without a route fail at once with `EHOSTUNREACH` instead of timing out.
    /// The default routes everything.
    fn has_route(&self, dst: IpAddr) -> bool {
        let _ = dst;
        true
    }
}
