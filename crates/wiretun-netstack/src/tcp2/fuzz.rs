//! The fuzz driver over a connection's input path (`fuzz/fuzz_targets/tcp-input.rs`; also run on
//! generated inputs by `cargo test`, so it stays correct without nightly). The input is a script: the
//! first byte picks an active or a passive open, then each record is one of: a segment from the peer (its
//! TCP header and payload as bytes, parsed with smoltcp's `wire` without a checksum so the fuzzer reaches
//! the state machine), time passing, the application writing, reading, closing or aborting.
//!
//! Checked after every step: no panic; the sender's marks never exceed what is outstanding; every segment
//! the connection sends parses back to itself, carries at most an MSS (options included), stays within
//! what was sent plus one MSS, and its SACK blocks are well formed.

use std::time::{Duration, Instant};

use smoltcp::wire::IpAddress;

use super::{Config, Connection, Segment, State};

const MSS: u16 = 536;

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.byte()?, self.byte()?]))
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }
}

/// Runs one script; returns whether the connection got to ESTABLISHED. Panics when an invariant breaks.
pub fn drive(data: &[u8]) -> bool {
    let mut input = Input(data);
    let Some(mode) = input.byte() else {
        return false;
    };
    let mut established = false;
    let t0 = Instant::now();
    let mut now = t0;
    let mut cfg = Config::new(MSS, 0x1000_0000);
    cfg.rx_buffer = 64 << 10;
    cfg.tx_buffer = 64 << 10;
    cfg.cc = if mode & 2 == 0 {
        super::cc::Kind::Bbr
    } else {
        super::cc::Kind::Cubic
    };
    cfg.pacing = mode & 4 != 0;
    cfg.keepalive = (mode & 8 != 0).then_some(Duration::from_secs(1));
    let (src, dst) = (IpAddress::v4(10, 0, 0, 1), IpAddress::v4(10, 0, 0, 2));
    let mut conn = if mode & 1 == 0 {
        Some(Connection::connect(cfg.clone(), now))
    } else {
        None
    };
    let mut out = vec![0u8; 2048];
    let mut wire = vec![0u8; 4096];
    let app = [0x42u8; 4096];
    while let Some(op) = input.byte() {
        match op % 6 {
            0 => {
                let len = usize::from(input.u16().unwrap_or(0) % 2048);
                let bytes = input.bytes(len);
                let Some((_, _, seg, payload)) = Segment::parse(bytes, src, dst, false) else {
                    continue;
                };
                match conn.as_mut() {
                    Some(c) => c.on_segment(now, &seg, payload),
                    None => conn = Connection::accept(cfg.clone(), &seg, now),
                }
            }
            1 => now += Duration::from_millis(u64::from(input.u16().unwrap_or(0))),
            2 => {
                let n = usize::from(input.u16().unwrap_or(0)) % app.len();
                if let Some(c) = conn.as_mut() {
                    c.send(&app[..n]);
                }
            }
            3 => {
                if let Some(c) = conn.as_mut() {
                    c.recv(&mut out);
                }
            }
            4 => conn.iter_mut().for_each(|c| c.close()),
            _ => conn.iter_mut().for_each(|c| c.abort()),
        }
        if let Some(c) = conn.as_mut() {
            transmit(c, now, &mut out, &mut wire, (src, dst));
            established |= c.state() == State::Established;
        }
    }
    established
}

/// Drains what the connection sends now and checks each segment and the sender's books.
fn transmit(
    c: &mut Connection,
    now: Instant,
    out: &mut [u8],
    wire: &mut [u8],
    (src, dst): (IpAddress, IpAddress),
) {
    for _ in 0..10_000 {
        let q = &c.sender().q;
        let outstanding = q.outstanding();
        assert!(q.sacked <= outstanding && q.lost <= outstanding && q.retrans <= outstanding);
        let Some(seg) = c.poll_transmit(now, out) else {
            return;
        };
        assert!(seg.len <= u32::from(MSS), "{seg:?}");
        // Options and payload together within the MSS agreed (RFC 6691).
        if seg.len > 0 {
            let options = seg.header_len() as u32 - 20;
            assert!(
                options + seg.len <= c.opts.mss,
                "{seg:?} over {}",
                c.opts.mss
            );
        }
        let q = &c.sender().q;
        if c.state() != State::Closed && seg.len > 0 {
            assert!(
                seg.seq.plus(seg.len).at_or_before(q.nxt),
                "{seg:?} beyond {:?}",
                q.nxt
            );
        }
        for &(s, e) in seg.sack_blocks() {
            assert!(s.before(e), "empty SACK block in {seg:?}");
        }
        let n = seg.emit((80, 1234), (dst, src), &out[..seg.len as usize], wire);
        let (_, _, back, _) =
            Segment::parse(&wire[..n], dst, src, true).expect("our segment parses");
        assert_eq!(back, seg);
    }
    panic!("a connection that never stops sending at one instant");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scripts from a seeded generator: mostly well-formed segments near the connection's sequence
    /// numbers, so the state machine is reached (the fuzzer does better; this keeps the driver honest).
    #[test]
    fn generated_scripts_keep_the_invariants() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for _ in 0..300 {
            let mode = (next() % 16) as u8;
            let mut script = vec![mode];
            for k in 0..60 {
                let r = next();
                match if k == 0 { 0 } else { r % 4 } {
                    0 => {
                        let seq = 0x2000_0000u32.wrapping_add((r >> 8) as u32 % 20_000);
                        let ack = 0x1000_0001u32.wrapping_add((r >> 24) as u32 % 20_000);
                        let mut seg = Segment {
                            seq: super::super::Seq(seq),
                            ack: (r & 16 != 0).then_some(super::super::Seq(ack)),
                            flags: ((r >> 40) % 8) as u8 & if r & 32 != 0 { 7 } else { 0 },
                            window: (r >> 44) as u16,
                            wscale: (r & 64 != 0).then_some(7),
                            sack_permitted: true,
                            ts: Some(((r >> 20) as u32, 0)),
                            ..Segment::default()
                        };
                        if seg.flags & 1 != 0 {
                            seg.flags = 1;
                        }
                        // The handshake first, so most of the script runs on an open connection.
                        if k == 0 {
                            seg.flags = 1;
                            seg.seq = super::super::Seq(0x1fff_ffff);
                            seg.ack = (mode & 1 == 0).then_some(super::super::Seq(0x1000_0001));
                        }
                        seg.push_sack((
                            super::super::Seq(ack + 536),
                            super::super::Seq(ack + 1072),
                        ));
                        let payload = vec![7u8; (r >> 50) as usize % 600];
                        let mut buf = vec![0u8; 2048];
                        let n = seg.emit(
                            (1234, 80),
                            (IpAddress::v4(10, 0, 0, 1), IpAddress::v4(10, 0, 0, 2)),
                            &payload,
                            &mut buf,
                        );
                        script.push(0);
                        script.extend_from_slice(&(n as u16).to_be_bytes());
                        script.extend_from_slice(&buf[..n]);
                    }
                    1 => script.extend_from_slice(&[1, 0, (r >> 8) as u8]),
                    2 => script.extend_from_slice(&[2, (r >> 8) as u8 % 16, (r >> 16) as u8]),
                    _ => script.push(if r % 97 == 0 {
                        5
                    } else {
                        3 + (r >> 8) as u8 % 2
                    }),
                }
            }
            drive(&script);
        }
    }

    /// The committed seeds of the fuzz target run here too, and each gets the connection open.
    #[test]
    fn fuzz_seeds_open_a_connection() {
        for (name, seed) in [
            (
                "active-sack",
                &include_bytes!("../../../../fuzz/seeds/tcp-input/active-sack")[..],
            ),
            (
                "passive-data-fin",
                &include_bytes!("../../../../fuzz/seeds/tcp-input/passive-data-fin")[..],
            ),
            (
                "zero-window-rst",
                &include_bytes!("../../../../fuzz/seeds/tcp-input/zero-window-rst")[..],
            ),
        ] {
            assert!(drive(seed), "{name}");
        }
    }
}
