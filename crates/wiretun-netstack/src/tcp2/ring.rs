//! A fixed-capacity byte ring: the send buffer (bytes from the oldest unacknowledged one on) and the receive
//! buffer (bytes from the next one the application reads, with out-of-order data placed ahead of the
//! contiguous part). Allocated once, when the connection is made; never grows. The memory is mapped lazily
//! (`pages.rs`): an idle connection's rings cost the pages data has passed through, not their size.

use crate::pages::Region;

/// Where a ring's bytes live: a lazily committed mapping, or the heap if mapping failed (then it is
/// committed as it is zeroed, which costs memory but works).
enum Store {
    Mapped(Region),
    Heap(Box<[u8]>),
}

pub struct Ring {
    buf: Store,
    /// Index of the first byte.
    head: usize,
    /// Contiguous bytes held from `head`.
    len: usize,
}

impl Ring {
    pub fn new(capacity: usize) -> Ring {
        let buf = match Region::new(capacity) {
            Ok(r) => Store::Mapped(r),
            Err(_) => Store::Heap(vec![0; capacity.max(1)].into_boxed_slice()),
        };
        Ring {
            buf,
            head: 0,
            len: 0,
        }
    }

    fn bytes(&self) -> &[u8] {
        match &self.buf {
            Store::Mapped(r) => r.get(),
            Store::Heap(b) => b,
        }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        match &mut self.buf {
            Store::Mapped(r) => r.get_mut(),
            Store::Heap(b) => b,
        }
    }

    pub fn capacity(&self) -> usize {
        self.bytes().len()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn free(&self) -> usize {
        self.capacity() - self.len
    }

    /// Appends as much of `data` as fits; returns how much did.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        self.write_at(self.len, &data[..n]);
        self.len += n;
        n
    }

    /// Writes `data` at `offset` from the head, which may be beyond the contiguous part (out-of-order data);
    /// whatever would not fit in the capacity is cut off. Does not change the length.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) {
        let cap = self.capacity();
        if offset >= cap {
            return;
        }
        let data = &data[..data.len().min(cap - offset)];
        let start = (self.head + offset) % cap;
        let first = data.len().min(cap - start);
        let buf = self.bytes_mut();
        buf[start..start + first].copy_from_slice(&data[..first]);
        buf[..data.len() - first].copy_from_slice(&data[first..]);
    }

    /// Marks `n` more bytes past the contiguous part as held (they were written with `write_at`).
    pub fn extend(&mut self, n: usize) {
        self.len = (self.len + n).min(self.capacity());
    }

    /// Copies bytes from `offset` into `out` (as many as are held and fit); returns how many.
    pub fn read_at(&self, offset: usize, out: &mut [u8]) -> usize {
        if offset >= self.len {
            return 0;
        }
        let n = out.len().min(self.len - offset);
        let cap = self.capacity();
        let start = (self.head + offset) % cap;
        let first = n.min(cap - start);
        let buf = self.bytes();
        out[..first].copy_from_slice(&buf[start..start + first]);
        out[first..n].copy_from_slice(&buf[..n - first]);
        n
    }

    /// The held bytes from the head up to the end of the buffer or of the held part (a wrapped ring
    /// offers the rest on the next call).
    pub fn front_mut(&mut self) -> &mut [u8] {
        let end = (self.head + self.len).min(self.capacity());
        let head = self.head;
        &mut self.bytes_mut()[head..end]
    }

    /// Free space right after the held bytes, up to the end of the buffer (the rest, if it wraps, comes
    /// after `extend`).
    pub fn free_mut(&mut self) -> &mut [u8] {
        let cap = self.capacity();
        let start = (self.head + self.len) % cap;
        let n = self.free().min(cap - start);
        &mut self.bytes_mut()[start..start + n]
    }

    /// Drops `n` bytes from the head.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.head = (self.head + n) % self.capacity();
        self.len -= n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_and_places_out_of_order() {
        let mut r = Ring::new(8);
        assert_eq!(r.push(b"abcdef"), 6);
        r.consume(4);
        assert_eq!(r.push(b"ghijklmn"), 6, "only the free space");
        let mut out = [0u8; 8];
        assert_eq!(r.read_at(0, &mut out), 8);
        assert_eq!(&out, b"efghijkl");
        r.consume(8);
        r.write_at(3, b"XY");
        assert_eq!(r.read_at(0, &mut out), 0, "not contiguous yet");
        r.write_at(0, b"abc");
        r.extend(5);
        assert_eq!(r.read_at(0, &mut out), 5);
        assert_eq!(&out[..5], b"abcXY");
    }

    #[test]
    fn in_place_slices_stop_at_the_wrap() {
        let mut r = Ring::new(8);
        r.push(b"abcdef");
        r.consume(5);
        assert_eq!(r.free_mut().len(), 2, "to the end of the buffer");
        r.free_mut().copy_from_slice(b"gh");
        r.extend(2);
        assert_eq!(r.free_mut().len(), 5, "then from the start");
        r.push(b"ijk");
        assert_eq!(r.front_mut(), b"fgh");
        r.consume(3);
        assert_eq!(r.front_mut(), b"ijk");
    }
}
