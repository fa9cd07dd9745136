//! Socket ring buffers that cost memory only where data has been.
//!
//! A TCP connection gets several MiB of buffer so a long, fast path can fill its window, but most connections
//! never use more than a page of it. smoltcp's rings are fixed-size slices, so the only way to have both is
//! memory the OS hands out lazily: an anonymous private mapping (Unix) is zero-filled on first touch, and
//! untouched pages are never resident. The heap is no substitute: glibc serves a freed-and-reused chunk from
//! its arena and `calloc` then clears it, committing every page (after the first multi-MiB free raises its
//! mmap threshold, every later ring would be committed in full). On Windows the system heap hands blocks this
//! large to VirtualAlloc, which is demand-zero as well, so a zeroed boxed slice does the same there.

use std::io;
use std::ptr::NonNull;

const PAGE: usize = 4096;

/// One allocation holding a TCP socket's receive ring followed by its send ring.
pub(crate) struct Rings {
    ptr: NonNull<u8>,
    len: usize,
    rx_len: usize,
}

// The memory is plain bytes owned by this value; nothing about it is tied to a thread.
unsafe impl Send for Rings {}

impl Rings {
    pub(crate) fn new(rx_len: usize, tx_len: usize) -> io::Result<Rings> {
        let rx_len = rx_len.div_ceil(PAGE) * PAGE;
        let len = rx_len + tx_len;
        Ok(Rings {
            ptr: map(len)?,
            len,
            rx_len,
        })
    }

    /// The two rings, as slices smoltcp's socket buffers can own.
    ///
    /// # Safety
    /// The slices claim `'static` but live only as long as `self`: the caller must drop whatever holds them
    /// (the smoltcp socket, once removed from its set) before dropping this value, and call this only once.
    pub(crate) unsafe fn split(&mut self) -> (&'static mut [u8], &'static mut [u8]) {
        let all = unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) };
        all.split_at_mut(self.rx_len)
    }
}

impl Drop for Rings {
    fn drop(&mut self) {
        unsafe { unmap(self.ptr, self.len) }
    }
}

/// One buffer of the same lazily committed memory, owned as a slice (the rings of `tcp2`'s connections).
pub(crate) struct Region {
    ptr: NonNull<u8>,
    len: usize,
}

// Plain bytes owned by this value, as `Rings`.
unsafe impl Send for Region {}

impl Region {
    pub(crate) fn new(len: usize) -> io::Result<Region> {
        let len = len.max(1);
        Ok(Region {
            ptr: map(len)?,
            len,
        })
    }

    pub(crate) fn get(&self) -> &[u8] {
        // SAFETY: the mapping is `len` bytes, zero-filled, owned by `self` and unmapped only on drop.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    pub(crate) fn get_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `get`; `&mut self` makes this the only access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        unsafe { unmap(self.ptr, self.len) }
    }
}

#[cfg(unix)]
fn map(len: usize) -> io::Result<NonNull<u8>> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let flags = libc::MAP_PRIVATE | libc::MAP_ANON;
    let prot = libc::PROT_READ | libc::PROT_WRITE;
    // SAFETY: a fresh anonymous mapping aliases nothing.
    let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, -1, 0) };
    if ptr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(NonNull::new(ptr.cast()).expect("mmap returned null"))
}

#[cfg(unix)]
unsafe fn unmap(ptr: NonNull<u8>, len: usize) {
    unsafe { libc::munmap(ptr.as_ptr().cast(), len) };
}

#[cfg(not(unix))]
fn map(len: usize) -> io::Result<NonNull<u8>> {
    // alloc_zeroed: HeapAlloc(HEAP_ZERO_MEMORY), which for blocks this size is a fresh VirtualAlloc.
    let boxed: Box<[u8]> = vec![0u8; len].into_boxed_slice();
    Ok(NonNull::new(Box::into_raw(boxed).cast()).expect("box is never null"))
}

#[cfg(not(unix))]
unsafe fn unmap(ptr: NonNull<u8>, len: usize) {
    drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr.as_ptr(), len)) });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_are_zeroed_and_disjoint() {
        let mut r = Rings::new(5000, 3000).unwrap();
        let (rx, tx) = unsafe { r.split() };
        assert_eq!((rx.len(), tx.len()), (8192, 3000));
        assert!(rx.iter().chain(tx.iter()).all(|&b| b == 0));
        rx.fill(1);
        tx.fill(2);
        assert!(rx.iter().all(|&b| b == 1) && tx.iter().all(|&b| b == 2));
    }
}
