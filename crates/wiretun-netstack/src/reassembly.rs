//! Reassembly of fragmented TCP datagrams, IPv4 and IPv6, for our own TCP (`tcp2_table.rs`), which takes
//! whole packets only. smoltcp reassembles IPv4 for its own sockets (and not IPv6 on an IP medium), but it
//! would hand the result to its TCP, which knows none of tcp2's connections and answers with an RST.
//!
//! Fragments are rare here (TCP sets DF and picks its segment size from the MTU; a peer behind a smaller
//! path MTU, or a middlebox, may still fragment), so this is kept small and bounded rather than fast: at
//! most `SLOTS` datagrams at once of at most 64 KiB each, each dropped `TIMEOUT` after its first fragment
//! (RFC 8200 4.5, RFC 791), and no memory held between datagrams. Overlapping fragments discard their
//! datagram (RFC 5722; Linux does the same for IPv4); an exact duplicate is ignored.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{IpAddress, IpProtocol, IpRepr, Ipv4Packet, Ipv6Packet};

/// Datagrams being reassembled at once; a new one beyond this evicts the oldest.
const SLOTS: usize = 4;
/// Pieces one datagram may arrive in (a 64 KiB datagram over a 1280-byte path is about 50).
const MAX_PIECES: usize = 64;
const MAX_DATAGRAM: usize = 65535;
const TIMEOUT: Duration = Duration::from_secs(30);

const TCP: u8 = 6;
const IPV6_FRAG: u8 = 44;
/// IPv6 extension headers that may come before the fragment header (RFC 8200 4.1).
const IPV6_BEFORE_FRAG: [u8; 3] = [0, 43, 60];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
}

/// One fragment of a TCP datagram.
#[derive(Debug)]
pub(crate) struct Fragment<'a> {
    key: Key,
    /// Byte offset of `data` in the datagram's payload.
    offset: usize,
    more: bool,
    data: &'a [u8],
}

/// The fragment `packet` is, if it is one of a TCP datagram (of either IP version).
pub(crate) fn tcp_fragment(packet: &[u8]) -> Option<Fragment<'_>> {
    match packet.first()? >> 4 {
        4 => {
            let ip = Ipv4Packet::new_checked(packet).ok()?;
            let fragment = ip.more_frags() || ip.frag_offset() != 0;
            if !fragment || u8::from(ip.next_header()) != TCP || !ip.verify_checksum() {
                return None;
            }
            let end = usize::from(ip.total_len()).min(packet.len());
            Some(Fragment {
                key: Key {
                    src: ip.src_addr().into(),
                    dst: ip.dst_addr().into(),
                    id: u32::from(ip.ident()),
                },
                offset: usize::from(ip.frag_offset()),
                more: ip.more_frags(),
                data: packet.get(usize::from(ip.header_len())..end)?,
            })
        }
        6 => {
            let ip = Ipv6Packet::new_checked(packet).ok()?;
            let end = (40 + usize::from(ip.payload_len())).min(packet.len());
            let (mut next, mut at) = (u8::from(ip.next_header()), 40);
            while IPV6_BEFORE_FRAG.contains(&next) {
                next = *packet.get(at)?;
                at += 8 + 8 * usize::from(*packet.get(at + 1)?);
            }
            let frag = packet.get(at..at + 8)?;
            if next != IPV6_FRAG || frag[0] != TCP {
                return None;
            }
            let field = u16::from_be_bytes([frag[2], frag[3]]);
            Some(Fragment {
                key: Key {
                    src: ip.src_addr().into(),
                    dst: ip.dst_addr().into(),
                    id: u32::from_be_bytes([frag[4], frag[5], frag[6], frag[7]]),
                },
                offset: usize::from(field >> 3) * 8,
                more: field & 1 == 1,
                data: packet.get(at + 8..end)?,
            })
        }
        _ => None,
    }
}

struct Slot {
    key: Key,
    deadline: Instant,
    data: Vec<u8>,
    /// Byte ranges received, sorted and disjoint.
    pieces: Vec<(usize, usize)>,
    /// The payload's length, once the last fragment came.
    total: Option<usize>,
}

/// What adding a fragment to a slot did.
enum Added {
    Pending,
    Complete,
    /// The datagram is invalid (overlap, too large, inconsistent lengths): discard it.
    Bad,
}

impl Slot {
    fn add(&mut self, f: &Fragment<'_>) -> Added {
        let (start, end) = (f.offset, f.offset + f.data.len());
        if f.data.is_empty() || end > MAX_DATAGRAM || (f.more && !f.data.len().is_multiple_of(8)) {
            return Added::Bad;
        }
        if self.pieces.contains(&(start, end)) {
            return Added::Pending;
        }
        let last_end = self.pieces.last().map_or(0, |p| p.1);
        let total_ok = match (self.total, f.more) {
            (Some(t), true) => end <= t,
            (Some(t), false) => end == t,
            (None, true) => true,
            (None, false) => last_end <= end,
        };
        let at = self.pieces.partition_point(|p| p.1 <= start);
        let overlaps = self.pieces.get(at).is_some_and(|p| p.0 < end);
        if !total_ok || overlaps || self.pieces.len() == MAX_PIECES {
            return Added::Bad;
        }
        if !f.more {
            self.total = Some(end);
        }
        self.pieces.insert(at, (start, end));
        if self.data.len() < end {
            self.data.resize(end, 0);
        }
        self.data[start..end].copy_from_slice(f.data);
        let held: usize = self.pieces.iter().map(|p| p.1 - p.0).sum();
        match self.total {
            Some(t) if held == t => Added::Complete,
            _ => Added::Pending,
        }
    }

    /// The whole datagram as one unfragmented IP packet (a fresh header, no extension headers).
    fn packet(self) -> Vec<u8> {
        let (src, dst): (IpAddress, IpAddress) = (self.key.src.into(), self.key.dst.into());
        let ip = IpRepr::new(src, dst, IpProtocol::Tcp, self.data.len(), 64);
        let hl = ip.header_len();
        let mut out = vec![0; hl + self.data.len()];
        ip.emit(&mut out[..hl], &ChecksumCapabilities::default());
        out[hl..].copy_from_slice(&self.data);
        out
    }
}

#[derive(Default)]
pub(crate) struct Reassembler {
    slots: Vec<Slot>,
}

impl Reassembler {
    /// Takes one fragment; returns the whole packet once its last missing piece arrives.
    pub fn add(&mut self, f: &Fragment<'_>, now: Instant) -> Option<Vec<u8>> {
        self.slots.retain(|s| s.deadline > now);
        let i = match self.slots.iter().position(|s| s.key == f.key) {
            Some(i) => i,
            None => {
                if self.slots.len() == SLOTS {
                    let oldest = (0..SLOTS).min_by_key(|&i| self.slots[i].deadline)?;
                    self.slots.swap_remove(oldest);
                }
                self.slots.push(Slot {
                    key: f.key,
                    deadline: now + TIMEOUT,
                    data: Vec::new(),
                    pieces: Vec::new(),
                    total: None,
                });
                self.slots.len() - 1
            }
        };
        match self.slots[i].add(f) {
            Added::Pending => None,
            Added::Complete => Some(self.slots.swap_remove(i).packet()),
            Added::Bad => {
                self.slots.swap_remove(i);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(id: u32, offset: usize, more: bool, data: &[u8]) -> Fragment<'_> {
        let key = Key {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            id,
        };
        Fragment {
            key,
            offset,
            more,
            data,
        }
    }

    #[test]
    fn pieces_in_any_order_make_one_packet() {
        let (mut r, now) = (Reassembler::default(), Instant::now());
        let data: Vec<u8> = (0..40).collect();
        assert!(r.add(&frag(1, 32, false, &data[32..]), now).is_none());
        assert!(r.add(&frag(1, 0, true, &data[..16]), now).is_none());
        assert!(
            r.add(&frag(1, 0, true, &data[..16]), now).is_none(),
            "a duplicate"
        );
        let whole = r.add(&frag(1, 16, true, &data[16..32]), now).unwrap();
        let ip = Ipv4Packet::new_checked(&whole[..]).unwrap();
        assert!(ip.verify_checksum() && !ip.more_frags() && ip.frag_offset() == 0);
        assert_eq!(ip.payload(), &data[..]);
        assert!(r.slots.is_empty(), "nothing held after");
    }

    #[test]
    fn overlaps_discard_the_datagram() {
        let (mut r, now) = (Reassembler::default(), Instant::now());
        let data = [7u8; 48];
        r.add(&frag(1, 0, true, &data[..24]), now);
        assert!(r.add(&frag(1, 16, true, &data[..16]), now).is_none());
        assert!(r.slots.is_empty());
        r.add(&frag(2, 0, true, &data[..7]), now);
        assert!(r.slots.is_empty(), "a middle piece not a multiple of 8");
    }

    #[test]
    fn memory_is_bounded_in_datagrams_and_time() {
        let (mut r, now) = (Reassembler::default(), Instant::now());
        let data = [1u8; 8];
        for id in 0..10 {
            r.add(
                &frag(id, 0, true, &data),
                now + Duration::from_millis(u64::from(id)),
            );
        }
        let ids: Vec<u32> = r.slots.iter().map(|s| s.key.id).collect();
        assert_eq!(ids.len(), SLOTS);
        assert!(ids.iter().all(|&id| id >= 6), "the oldest evicted: {ids:?}");
        r.add(
            &frag(99, 0, true, &data),
            now + TIMEOUT + Duration::from_secs(1),
        );
        assert_eq!(r.slots.len(), 1, "the others timed out");
        assert!(r.add(&frag(5, 65528, true, &data), now).is_none());
        assert!(r.slots.iter().all(|s| s.key.id != 5), "past 64 KiB");
    }
}
