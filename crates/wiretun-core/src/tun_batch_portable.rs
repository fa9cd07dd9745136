//! Decrypted packets waiting to be written together, where the TUN has no offloads (macOS utun) or there is
//! no TUN at all (Windows): nothing to merge, so a TUN gets one write per packet at the end of the batch,
//! and a sink the whole batch in one call. Same interface as tun_batch.rs, so receive.rs runs unchanged.

use crate::constants::MAX_PACKET;
use crate::device::{Inner, Shared};

/// Packets held before a write: what one receive batch yields on these platforms, and then some.
const BATCH: usize = 64;

/// Where a batch goes: the device's TUN or its sink.
pub(crate) trait TunSink {
    fn write_packets(&self, packets: &[Vec<u8>]);
}

impl TunSink for Shared {
    #[inline]
    fn write_packets(&self, packets: &[Vec<u8>]) {
        match &self.inner {
            Inner::Tun(tun) => {
                for p in packets {
                    if let Err(e) = tun.dev.send(p) {
                        log::debug!("TUN write failed: {e}");
                    }
                }
            }
            Inner::Sink(sink) => sink.deliver(&mut packets.iter().map(Vec::as_slice)),
        }
    }
}

pub(crate) struct TunBatch {
    bufs: Vec<Vec<u8>>,
    pending: usize,
}

impl TunBatch {
    pub fn new() -> Self {
        TunBatch {
            // Capacity up front, lengths per packet, as in tun_batch.rs: untouched capacity costs no memory.
            bufs: (0..BATCH).map(|_| Vec::with_capacity(MAX_PACKET)).collect(),
            pending: 0,
        }
    }

    /// The next free packet buffer, at least `len` bytes long.
    pub fn slot(&mut self, len: usize) -> &mut [u8] {
        let buf = &mut self.bufs[self.pending];
        buf.resize(len, 0);
        buf
    }

    /// Keeps the first `len` bytes of the current slot as a packet; writes the batch out when full.
    pub fn commit<T: TunSink>(&mut self, tun: &T, len: usize) {
        self.bufs[self.pending].truncate(len);
        self.pending += 1;
        if self.pending == self.bufs.len() {
            self.flush(tun);
        }
    }

    pub fn flush<T: TunSink>(&mut self, tun: &T) {
        if self.pending == 0 {
            return;
        }
        tun.write_packets(&self.bufs[..self.pending]);
        self.pending = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[derive(Default)]
    struct Recorder(RefCell<Vec<Vec<Vec<u8>>>>);

    impl TunSink for Recorder {
        fn write_packets(&self, packets: &[Vec<u8>]) {
            self.0.borrow_mut().push(packets.to_vec());
        }
    }

    #[test]
    fn commits_are_written_together_in_order_at_flush() {
        let sink = Recorder::default();
        let mut batch = TunBatch::new();
        // Decryption gets a slot as large as the datagram and commits the shorter plaintext.
        batch.slot(200)[..3].copy_from_slice(b"one");
        batch.commit(&sink, 3);
        batch.slot(MAX_PACKET + 64)[..5].copy_from_slice(b"three");
        batch.commit(&sink, 5);
        assert!(
            sink.0.borrow().is_empty(),
            "nothing is written before the flush"
        );
        batch.flush(&sink);
        batch.flush(&sink);
        assert_eq!(
            *sink.0.borrow(),
            vec![vec![b"one".to_vec(), b"three".to_vec()]]
        );
    }

    #[test]
    fn a_full_batch_is_written_at_once() {
        let sink = Recorder::default();
        let mut batch = TunBatch::new();
        for i in 0..BATCH + 1 {
            batch.slot(1)[0] = i as u8;
            batch.commit(&sink, 1);
        }
        assert_eq!(sink.0.borrow().len(), 1);
        assert_eq!(sink.0.borrow()[0].len(), BATCH);
        batch.flush(&sink);
        assert_eq!(sink.0.borrow()[1], vec![vec![BATCH as u8]]);
    }
}
