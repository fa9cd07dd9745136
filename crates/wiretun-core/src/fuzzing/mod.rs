//! Entry points for the cargo-fuzz targets in fuzz/ (feature `fuzzing`), also compiled for unit tests so
//! every crash the fuzzer found stays a regression test (regressions.rs).
//!
//! The targets drive the real receive path (receive.rs, tun_batch.rs, the peer table, boringtun) through
//! fakes of the sockets and the TUN (host.rs), so they need neither root nor a network. A fuzz input is not
//! a datagram but a script (inbound.rs): real boringtun peers handshake with us and send data, and the
//! fuzzer interleaves raw, mutated and replayed datagrams, roaming and configuration changes, so it gets
//! past the cryptography to the TUN write path instead of stopping at the size checks. The UAPI targets
//! (uapi.rs) feed text to the set parser and byte streams to the socket server.

mod host;
mod inbound;
mod packets;
#[cfg(test)]
mod regressions;
mod uapi;

pub use inbound::run as inbound;
pub use packets::run_gro as gro;
pub use uapi::{run as uapi, server as uapi_server};

/// Reads a fuzz input front to back; past the end every read gives zeros, so any input is a valid script.
pub(crate) struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input { data, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// Up to `n` bytes, fewer at the end of the input.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos = start + n;
        &self.data[start..end]
    }
}
