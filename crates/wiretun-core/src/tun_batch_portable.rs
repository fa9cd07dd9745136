//! Decrypted packets to the TUN one at a time: without offloads there is nothing to merge, so each is
//! written as it is committed. Same interface as tun_batch.rs, so receive.rs runs unchanged.

use crate::constants::MAX_PACKET;
use crate::device::Shared;
use std::io;

/// Where a packet goes: the device's TUN.
pub(crate) trait TunSink {
    fn write_packet(&self, packet: &[u8]) -> io::Result<usize>;
}

impl TunSink for Shared {
    #[inline]
    fn write_packet(&self, packet: &[u8]) -> io::Result<usize> {
        self.tun.send(packet)
    }
}

pub(crate) struct TunBatch {
    buf: Vec<u8>,
}

impl TunBatch {
    pub fn new() -> Self {
        TunBatch {
            buf: Vec::with_capacity(MAX_PACKET),
        }
    }

    /// The packet buffer, at least `len` bytes long.
    pub fn slot(&mut self, len: usize) -> &mut [u8] {
        self.buf.resize(len, 0);
        &mut self.buf
    }

    /// Writes the first `len` bytes of the slot as one packet.
    pub fn commit<T: TunSink>(&mut self, tun: &T, len: usize) {
        if let Err(e) = tun.write_packet(&self.buf[..len]) {
            log::debug!("TUN write failed: {e}");
        }
    }

    /// Nothing is ever pending: commit wrote it.
    pub fn flush<T: TunSink>(&mut self, _tun: &T) {}
}
