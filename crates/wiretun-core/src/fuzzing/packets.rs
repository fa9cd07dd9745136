//! Inner IP packets built from fuzz input, shaped so that GRO has something to merge (consecutive
//! segments of a few TCP/UDP flows, valid checksums) with room for every oddity (raw bytes, IP options,
//! wrong length fields, bad checksums, odd TCP flags); and the `gro` target, which writes batches of them
//! through the TUN batch without any cryptography in the way.

use super::host::GroSink;
use super::Input;
use crate::tun_batch::TunBatch;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const FLOWS: usize = 4;
const MAX_PAYLOAD: u16 = 1500;
const MAX_RAW: u16 = 2048;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

/// Where each flow's next in-order segment starts, so the fuzzer can ask for "the next segment".
#[derive(Default)]
pub(crate) struct Flows {
    next_seq: [u32; FLOWS],
}

/// Writes one packet from `src` to `dst` (their families decide v4 or v6) into `out`.
pub(crate) fn build(
    input: &mut Input,
    src: IpAddr,
    dst: IpAddr,
    flows: &mut Flows,
    out: &mut Vec<u8>,
) {
    out.clear();
    let shape = input.u8();
    let flow = (shape >> 6) as usize;
    let kind = shape & 7;
    if kind == 0 {
        let len = input.u16() % MAX_RAW;
        out.extend_from_slice(input.bytes(len as usize));
        return;
    }
    let proto = if kind & 1 == 1 { PROTO_TCP } else { PROTO_UDP };
    let options = if kind >= 6 { 4 } else { 0 };
    let payload_len = input.u16() % MAX_PAYLOAD;
    let seed = input.u8();
    let mut l4 = Vec::with_capacity(60 + payload_len as usize);
    if proto == PROTO_TCP {
        let continues = shape & 8 != 0;
        let seq = if continues {
            flows.next_seq[flow]
        } else {
            input.u32()
        };
        flows.next_seq[flow] = seq.wrapping_add(u32::from(payload_len));
        tcp_header(&mut l4, flow, seq, input.u8());
    } else {
        udp_header(&mut l4, flow, payload_len);
    }
    l4.extend((0..payload_len).map(|i| seed.wrapping_add(i as u8)));
    let sum = l4_checksum(src, dst, proto, &l4);
    let at = if proto == PROTO_TCP { 16 } else { 6 };
    let sum = if shape & 16 != 0 { !sum } else { sum };
    l4[at..at + 2].copy_from_slice(&sum.to_be_bytes());
    let length_field = (shape & 32 != 0).then(|| input.u16());
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ipv4(out, s, d, proto, options, &l4, length_field),
        (IpAddr::V6(s), IpAddr::V6(d)) => ipv6(out, s, d, proto, &l4, length_field),
        _ => unreachable!("the caller picks one family"),
    }
}

fn tcp_header(out: &mut Vec<u8>, flow: usize, seq: u32, flags: u8) {
    out.extend_from_slice(&(40000 + flow as u16).to_be_bytes());
    out.extend_from_slice(&5201u16.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&1u32.to_be_bytes()); // ack
    out.push(5 << 4);
    // Mostly ACK (what GRO merges); the fuzzer picks any other combination through the low bits.
    out.push(if flags & 0x80 != 0 {
        flags & 0x3f
    } else {
        0x10 | (flags & 0x08)
    });
    out.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]); // window, checksum, urgent
}

fn udp_header(out: &mut Vec<u8>, flow: usize, payload_len: u16) {
    out.extend_from_slice(&(40000 + flow as u16).to_be_bytes());
    out.extend_from_slice(&5201u16.to_be_bytes());
    out.extend_from_slice(&(payload_len + 8).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
}

fn ipv4(
    out: &mut Vec<u8>,
    s: Ipv4Addr,
    d: Ipv4Addr,
    proto: u8,
    options: usize,
    l4: &[u8],
    len: Option<u16>,
) {
    let header = 20 + options;
    let total = len.unwrap_or((header + l4.len()) as u16);
    out.push(0x40 | (header / 4) as u8);
    out.push(0);
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0x40, 0, 64, proto, 0, 0]);
    out.extend_from_slice(&s.octets());
    out.extend_from_slice(&d.octets());
    out.resize(header, 1); // NOP options
    let sum = checksum(0, &out[..header]);
    out[10..12].copy_from_slice(&sum.to_be_bytes());
    out.extend_from_slice(l4);
}

fn ipv6(out: &mut Vec<u8>, s: Ipv6Addr, d: Ipv6Addr, proto: u8, l4: &[u8], len: Option<u16>) {
    out.extend_from_slice(&[0x60, 0, 0, 0]);
    out.extend_from_slice(&len.unwrap_or(l4.len() as u16).to_be_bytes());
    out.extend_from_slice(&[proto, 64]);
    out.extend_from_slice(&s.octets());
    out.extend_from_slice(&d.octets());
    out.extend_from_slice(l4);
}

fn checksum(mut sum: u32, data: &[u8]) -> u16 {
    for pair in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn l4_checksum(src: IpAddr, dst: IpAddr, proto: u8, l4: &[u8]) -> u16 {
    let mut pseudo = Vec::with_capacity(40);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            pseudo.extend_from_slice(&s.octets());
            pseudo.extend_from_slice(&d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            pseudo.extend_from_slice(&s.octets());
            pseudo.extend_from_slice(&d.octets());
        }
        _ => {}
    }
    pseudo.extend_from_slice(&[0, proto]);
    pseudo.extend_from_slice(&(l4.len() as u32).to_be_bytes()[2..]);
    let partial = !checksum(0, &pseudo);
    checksum(u32::from(partial), l4)
}

/// What boringtun hands over after decrypting `packet`: trimmed to its IP length field, with the source
/// address read from the header; None for what it refuses (see its validate_decapsulated_packet).
pub(crate) fn decrypted_form(packet: &[u8]) -> Option<(&[u8], IpAddr)> {
    let (len, src) = match packet.first()? >> 4 {
        4 if packet.len() >= 20 => {
            let src: [u8; 4] = packet[12..16].try_into().ok()?;
            (
                usize::from(u16::from_be_bytes([packet[2], packet[3]])),
                IpAddr::from(src),
            )
        }
        6 if packet.len() >= 40 => {
            let src: [u8; 16] = packet[8..24].try_into().ok()?;
            (
                usize::from(u16::from_be_bytes([packet[4], packet[5]])) + 40,
                IpAddr::from(src),
            )
        }
        _ => return None,
    };
    (len <= packet.len()).then(|| (&packet[..len], src))
}

/// The `gro` target: batches of inner packets, as boringtun would hand them over, through TunBatch into a
/// fake TUN that runs tun-rs's GRO exactly as `send_multiple` does.
pub fn run_gro(data: &[u8]) {
    let mut input = Input::new(data);
    let sink = GroSink::new(input.u8() & 1 == 1);
    let mut batch = TunBatch::new();
    let mut flows = Flows::default();
    let mut packet = Vec::new();
    let v4 = (IpAddr::from([10, 0, 0, 2]), IpAddr::from([10, 0, 9, 1]));
    let v6 = (
        IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, 2]),
        IpAddr::from([0xfd00, 9, 0, 0, 0, 0, 0, 1]),
    );
    for _ in 0..512 {
        if input.is_empty() {
            break;
        }
        let control = input.u8();
        if control == 0xff {
            batch.flush(&sink);
            continue;
        }
        let (src, dst) = if control & 1 == 0 { v4 } else { v6 };
        build(&mut input, src, dst, &mut flows, &mut packet);
        let Some((inner, _)) = decrypted_form(&packet) else {
            continue;
        };
        if inner.len() < crate::receive::MIN_TUN_PACKET {
            continue;
        }
        batch.slot(inner.len()).copy_from_slice(inner);
        batch.commit(&sink, inner.len());
    }
    batch.flush(&sink);
}
