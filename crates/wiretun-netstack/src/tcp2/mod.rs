//! A TCP connection core of our own (issue 21), written to repair every loss in one round trip: a SACK
//! scoreboard with D-SACK, RACK-TLP loss detection, a 200 ms minimum RTO that resends only what was lost,
//! proportional rate reduction, pacing, and congestion control behind a small trait (a BBR-style
//! rate-based controller by default, CUBIC as the alternative).
//!
//! Sans-I/O, in the manner of boringtun's `noise`: a [`Connection`] never reads a clock or touches a
//! socket. Segments go in with [`Connection::on_segment`], the time with every call, and segments come out
//! of [`Connection::poll_transmit`] (header plus payload copied into the caller's buffer) until it returns
//! `None`; [`Connection::poll_at`] says when to call again. One file per mechanism, as gVisor's
//! `pkg/tcpip/transport/tcp` is laid out; `segment.rs` converts to and from the wire with smoltcp's `wire`
//! module.
//!
//! Status: the engine runs it (`tcp2_table.rs`) when `StackConfig::tcp_engine` asks; smoltcp's TCP stays
//! the default until this matches it on lossless paths. See README.md, "The new TCP sender (tcp2): status".

pub mod cc;
mod conn;
pub mod fuzz;
mod handshake;
pub mod ip;
mod output;
pub mod pacing;
pub mod prr;
pub mod rack;
pub mod rate;
pub mod receiver;
pub mod ring;
pub mod rto;
pub mod sack_scoreboard;
pub mod segment;
pub mod send_queue;
pub mod sender;
pub mod seq;

use std::time::Duration;

pub use conn::{Connection, State};
pub use segment::{Segment, FIN, PSH, RST, SYN};
pub use seq::Seq;

/// How a connection is set up.
#[derive(Clone, Debug)]
pub struct Config {
    /// Largest payload this end receives (advertised in its SYN) and sends (capped by the peer's).
    pub mss: u16,
    pub rx_buffer: usize,
    pub tx_buffer: usize,
    pub cc: cc::Kind,
    /// Space segments at the controller's pacing rate (when it has one).
    pub pacing: bool,
    /// Acknowledge every second full segment at once, others after this; `None` acknowledges every segment.
    pub delayed_ack: Option<Duration>,
    /// Probe an idle connection this often; three unanswered probes abort it.
    pub keepalive: Option<Duration>,
    /// How long TIME-WAIT lasts.
    pub time_wait: Duration,
    /// Initial sequence number (random in real use).
    pub iss: u32,
    /// Added to the millisecond timestamp clock (random in real use, RFC 7323 5.4).
    pub ts_offset: u32,
}

impl Config {
    pub fn new(mss: u16, iss: u32) -> Config {
        Config {
            mss,
            rx_buffer: 4 << 20,
            tx_buffer: 4 << 20,
            cc: cc::Kind::default(),
            pacing: true,
            delayed_ack: Some(Duration::from_millis(40)),
            keepalive: None,
            time_wait: Duration::from_secs(60),
            iss,
            ts_offset: 0,
        }
    }
}
