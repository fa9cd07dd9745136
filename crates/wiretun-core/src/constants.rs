//! Protocol and implementation constants, named as in the WireGuard paper where they come from it.

use std::time::Duration;

/// After this long without a handshake a session's keys are useless; we report the peer as stale.
pub const REJECT_AFTER_TIME: Duration = Duration::from_secs(180);

/// How often every peer's boringtun timers run. WireGuard's finest timer (REKEY_TIMEOUT jitter) is
/// about 1/3 s, so 100 ms keeps every timer within its tolerance.
pub const TIMER_TICK: Duration = Duration::from_millis(100);

/// boringtun's RateLimiter counts a handshake once in our pre-check and once inside `Tunn::decapsulate`,
/// so this is twice the handshakes per second we accept before answering with cookies.
pub const HANDSHAKE_RATE_LIMIT: u64 = 200;

/// Default inner MTU, as wireguard-go (1500 minus the IPv6 + UDP + WireGuard overhead).
pub const DEFAULT_MTU: u16 = 1420;

/// Largest IP packet a TUN read can return; packets of any MTU up to this fit one buffer.
pub const MAX_PACKET: usize = 65535;

/// WireGuard data overhead (header 16 + tag 16) plus the padding to a multiple of 16.
pub const MAX_DATAGRAM: usize = MAX_PACKET + 32 + 16;
