//! What a stack is built from: its addresses, the tunnel MTU and the buffer policy.

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use crate::error::invalid;

/// Default tunnel MTU: WireGuard's 1420 (1500 minus the IPv6 + UDP + WireGuard overhead).
pub const DEFAULT_MTU: usize = 1420;

/// Default per-connection TCP buffer, each direction: 4 MiB, a bandwidth-delay product of 670 Mb/s at 50 ms.
/// The memory is reserved, not committed: see [`StackConfig::tcp_rx_buffer`].
pub const DEFAULT_TCP_BUFFER: usize = 4 << 20;

/// Which TCP implementation carries the stack's connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TcpEngine {
    /// smoltcp's TCP with this crate's loss assists (README.md, "Loss recovery smoltcp lacks"): the
    /// default before tcp2, kept selectable for a release in case tcp2 meets a peer it mishandles.
    Smoltcp,
    /// Our own TCP core (README.md, "The new TCP sender (tcp2)"): SACK, RACK-TLP, PRR, pacing, BBR-style
    /// congestion control, so a lossy path does not cap a stream at ~1/loss segments in flight. The
    /// default: as fast as smoltcp's lossless both ways, and many times its upload at loss.
    #[default]
    Tcp2,
}

impl TcpEngine {
    /// The names a binding, a CLI flag or an environment variable use.
    pub const NAMES: [&'static str; 2] = ["tcp2", "smoltcp"];

    /// The engine called `name` (`"tcp2"` or `"smoltcp"`); an error naming the field otherwise.
    pub fn parse(name: &str) -> io::Result<TcpEngine> {
        match name {
            "tcp2" => Ok(TcpEngine::Tcp2),
            "smoltcp" => Ok(TcpEngine::Smoltcp),
            other => Err(invalid(format!(
                "tcp_engine: {other:?} is not one of {}",
                Self::NAMES.join(", ")
            ))),
        }
    }
}

/// The configuration of one [`Stack`](crate::Stack). Build it with [`StackConfig::new`] and adjust fields.
#[derive(Clone, Debug)]
pub struct StackConfig {
    /// The tunnel's own addresses with their prefix lengths (a wg-quick `Address` list), at most 8. Other hosts
    /// of the prefix and everything beyond it are reached through the sink alike: the stack routes every
    /// destination to it.
    pub addresses: Vec<(IpAddr, u8)>,
    /// Largest IP packet the sink carries (the tunnel MTU). TCP's MSS follows from it: MTU - 40 over IPv4,
    /// MTU - 60 over IPv6.
    pub mtu: usize,
    /// Receive buffer of each TCP connection in bytes, which is also the largest window it advertises (window
    /// scaling follows from it). It is a zero-filled anonymous mapping, so a page only becomes resident once
    /// data has passed through it: an idle connection costs a page or two, a busy one grows to its high-water
    /// mark. Up to 1 GiB.
    pub tcp_rx_buffer: usize,
    /// Send buffer of each TCP connection in bytes: how much unacknowledged data can be in flight. Same memory
    /// policy as the receive buffer.
    pub tcp_tx_buffer: usize,
    /// Payload buffer of each UDP socket, each direction, in bytes (at least one 64 KiB datagram).
    pub udp_buffer: usize,
    /// Most handshakes in progress per listener (SYN received, final ACK not yet). SYNs beyond it are
    /// answered with RST.
    pub listen_backlog: usize,
    /// How long a dial waits for the handshake before failing with `ETIMEDOUT`, unless the dial names its own.
    pub connect_timeout: Duration,
    /// TCP keep-alive interval. `None` (the default, as on Linux) sends none and never times out an idle
    /// connection; with an interval, a connection that hears nothing for three intervals is aborted.
    pub tcp_keepalive: Option<Duration>,
    /// Most packets waiting between [`Stack::inject`](crate::Stack::inject) and the stack thread; more are
    /// dropped (and counted), as a NIC's ring would.
    pub inbound_queue: usize,
    /// Which TCP runs the connections (default: smoltcp's).
    pub tcp_engine: TcpEngine,
}

impl StackConfig {
    /// A configuration with these addresses and the defaults for everything else.
    pub fn new(addresses: Vec<(IpAddr, u8)>) -> StackConfig {
        StackConfig {
            addresses,
            mtu: DEFAULT_MTU,
            tcp_rx_buffer: DEFAULT_TCP_BUFFER,
            tcp_tx_buffer: DEFAULT_TCP_BUFFER,
            udp_buffer: 256 << 10,
            listen_backlog: 1024,
            connect_timeout: Duration::from_secs(30),
            tcp_keepalive: None,
            inbound_queue: 4096,
            tcp_engine: TcpEngine::default(),
        }
    }

    /// Rejects what the stack cannot run with, naming the field.
    pub fn validate(&self) -> io::Result<()> {
        if self.addresses.is_empty() {
            return Err(invalid("addresses: the stack needs at least one address"));
        }
        if self.addresses.len() > 8 {
            return Err(invalid(format!(
                "addresses: {} given, at most 8",
                self.addresses.len()
            )));
        }
        for (addr, prefix) in &self.addresses {
            let max = if addr.is_ipv4() { 32 } else { 128 };
            if *prefix > max || addr.is_unspecified() || addr.is_multicast() {
                return Err(invalid(format!(
                    "addresses: {addr}/{prefix} is not a host address"
                )));
            }
        }
        let min_mtu = if self.addresses.iter().any(|(a, _)| a.is_ipv6()) {
            1280
        } else {
            576
        };
        if self.mtu < min_mtu || self.mtu > 65535 {
            return Err(invalid(format!(
                "mtu: {} is outside {min_mtu}..=65535",
                self.mtu
            )));
        }
        for (name, size) in [
            ("tcp_rx_buffer", self.tcp_rx_buffer),
            ("tcp_tx_buffer", self.tcp_tx_buffer),
        ] {
            if !(16 << 10..=1 << 30).contains(&size) {
                return Err(invalid(format!("{name}: {size} is outside 16 KiB..=1 GiB")));
            }
        }
        if !(64 << 10..=64 << 20).contains(&self.udp_buffer) {
            return Err(invalid(format!(
                "udp_buffer: {} is outside 64 KiB..=64 MiB",
                self.udp_buffer
            )));
        }
        if self.listen_backlog == 0 || self.inbound_queue == 0 {
            return Err(invalid(
                "listen_backlog and inbound_queue must be at least 1",
            ));
        }
        if self
            .tcp_keepalive
            .is_some_and(|d| d < Duration::from_secs(1))
        {
            return Err(invalid("tcp_keepalive: at least 1 s"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4() -> StackConfig {
        StackConfig::new(vec![("10.0.0.2".parse().unwrap(), 32)])
    }

    #[test]
    fn engines_parse_by_name() {
        assert_eq!(TcpEngine::parse("tcp2").unwrap(), TcpEngine::Tcp2);
        assert_eq!(TcpEngine::parse("smoltcp").unwrap(), TcpEngine::Smoltcp);
        let err = TcpEngine::parse("reno").unwrap_err().to_string();
        assert!(
            err.starts_with("tcp_engine:") && err.contains("tcp2"),
            "{err}"
        );
    }

    #[test]
    fn defaults_are_valid() {
        v4().validate().unwrap();
    }

    #[test]
    fn bad_fields_are_named() {
        let mut c = v4();
        c.mtu = 100;
        assert!(c.validate().unwrap_err().to_string().starts_with("mtu:"));
        let mut c = v4();
        c.addresses.push(("fd00::1".parse().unwrap(), 129));
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("addresses:"));
        let mut c = v4();
        c.tcp_rx_buffer = 2 << 30;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("tcp_rx_buffer:"));
        let mut c = StackConfig::new(vec![("fd00::2".parse().unwrap(), 128)]);
        c.mtu = 1000;
        assert!(c.validate().is_err(), "IPv6 needs an MTU of at least 1280");
    }
}
