//! Padding of data messages, as the WireGuard paper (section 5.4.6), the kernel and wireguard-go do it: the
//! plaintext of each data message is extended with zeros to a multiple of 16 bytes, but never beyond the
//! interface's MTU, so a datagram's size tells an observer a packet's length only to within 16 bytes, and a
//! packet of exactly the MTU still fits the path it was sized for. boringtun encrypts exactly what it is
//! given, so the padding is written after the packet in the buffer it already sits in, and boringtun gets
//! the longer slice: no copy. Receivers trim it by the IP header's length (boringtun does, the kernel and
//! wireguard-go do), so a peer of any of them reads the packet unchanged.

/// The WireGuard paper's padding multiple.
pub(crate) const MULTIPLE: usize = 16;

/// The length `len` bytes of plaintext are padded to under `mtu` (0: unknown, no cap). A packet longer than
/// the MTU (which the TUN should not give) pads its remainder modulo the MTU, as the kernel does, so the
/// cap never makes the padding negative.
pub(crate) fn padded_len(len: usize, mtu: usize) -> usize {
    if mtu == 0 {
        return len.next_multiple_of(MULTIPLE);
    }
    let last = if len > mtu { len % mtu } else { len };
    len + last.next_multiple_of(MULTIPLE).min(mtu) - last
}

/// The packet in `buf[..len]` with its padding written after it, as far as `buf` has room.
#[inline]
pub(crate) fn pad(buf: &mut [u8], len: usize, mtu: usize) -> &[u8] {
    let end = padded_len(len, mtu).min(buf.len());
    buf[len..end].fill(0);
    &buf[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_to_sixteen_capped_at_the_mtu() {
        for (len, mtu, want) in [
            (0, 1420, 0), // a keepalive stays empty
            (1, 1420, 16),
            (20, 1420, 32),
            (32, 1420, 32),
            (84, 1420, 96),
            (1408, 1420, 1408),
            (1409, 1420, 1420), // 1424 would not fit the MTU
            (1420, 1420, 1420),
            (1280, 1280, 1280),
            (1500, 1420, 1500), // beyond the MTU: 1500 % 1420 = 80, already a multiple of 16
            (1501, 1420, 1501 + 15),
            (1421, 0, 1424), // no MTU known: no cap
        ] {
            assert_eq!(padded_len(len, mtu), want, "len {len} mtu {mtu}");
        }
    }

    #[test]
    fn every_length_pads_to_a_multiple_or_the_mtu_and_by_less_than_sixteen() {
        for mtu in [576, 1280, 1420, 1500, 9000] {
            for len in 0..=mtu {
                let p = padded_len(len, mtu);
                assert!(p >= len && p - len < MULTIPLE && p <= mtu, "{len} {mtu}");
                assert!(p.is_multiple_of(MULTIPLE) || p == mtu, "{len} {mtu}");
            }
        }
    }

    #[test]
    fn padding_overwrites_what_was_in_the_buffer_and_stops_at_its_end() {
        let mut buf = [0xaau8; 40];
        assert_eq!(
            pad(&mut buf, 21, 1420),
            &[[0xaa; 21].as_slice(), &[0; 11]].concat()[..]
        );
        assert_eq!(buf[32], 0xaa, "nothing past the padding is touched");
        let mut short = [0xaau8; 24];
        assert_eq!(pad(&mut short, 21, 1420).len(), 24);
    }
}
