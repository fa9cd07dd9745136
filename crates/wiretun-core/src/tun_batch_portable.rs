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

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[derive(Default)]
    struct Recorder(RefCell<Vec<Vec<u8>>>);

    impl TunSink for Recorder {
        fn write_packet(&self, packet: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().push(packet.to_vec());
            Ok(packet.len())
        }
    }

    #[test]
    fn each_commit_writes_one_packet_at_once() {
        let sink = Recorder::default();
        let mut batch = TunBatch::new();
        // Decryption gets a slot as large as the datagram and commits the shorter plaintext.
        batch.slot(200)[..3].copy_from_slice(b"one");
        batch.commit(&sink, 3);
        assert_eq!(*sink.0.borrow(), vec![b"one".to_vec()]);
        batch.slot(MAX_PACKET + 64)[..5].copy_from_slice(b"three");
        batch.commit(&sink, 5);
        batch.flush(&sink);
        assert_eq!(*sink.0.borrow(), vec![b"one".to_vec(), b"three".to_vec()]);
    }
}
