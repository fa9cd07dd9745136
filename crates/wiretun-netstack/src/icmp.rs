//! ICMP echo ("ping") from the stack: one smoltcp ICMP socket bound to an identifier of its own, requests
//! numbered by sequence, replies matched back to the waiting caller. Echo requests to the stack's own
//! addresses are answered by smoltcp itself (the `auto-icmp-echo-reply` feature).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::socket::icmp;
use smoltcp::wire::{Icmpv4Packet, Icmpv4Repr, Icmpv6Packet, Icmpv6Repr, IpAddress};

use crate::api::Reply;
use crate::error;

const PAYLOAD: &[u8; 16] = b"wiretun-netstack";
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REPLY_V6: u8 = 129;

struct Wait {
    dst: IpAddr,
    sent: Instant,
    deadline: Instant,
    reply: Reply<Duration>,
}

pub(crate) struct Pinger {
    handle: SocketHandle,
    ident: u16,
    seq: u16,
    waits: HashMap<u16, Wait>,
}

impl Pinger {
    pub fn new(sockets: &mut SocketSet<'static>, ident: u16) -> Pinger {
        let buf =
            || icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 64], vec![0u8; 16 << 10]);
        let mut sock = icmp::Socket::new(buf(), buf());
        sock.bind(icmp::Endpoint::Ident(ident))
            .expect("a nonzero ident binds");
        Pinger {
            handle: sockets.add(sock),
            ident,
            seq: 0,
            waits: HashMap::new(),
        }
    }

    pub fn ping(
        &mut self,
        sockets: &mut SocketSet<'static>,
        iface: &Interface,
        dst: IpAddr,
        timeout: Duration,
        reply: Reply<Duration>,
    ) {
        if dst.is_unspecified() || dst.is_multicast() {
            return reply(Err(error::invalid(format!(
                "ping {dst}: not a unicast address"
            ))));
        }
        let addr = IpAddress::from(dst);
        let Some(src) = iface.get_source_address(&addr) else {
            return reply(Err(error::no_source(dst)));
        };
        self.seq = self.seq.wrapping_add(1);
        let seq_no = self.seq;
        let sock = sockets.get_mut::<icmp::Socket>(self.handle);
        let caps = ChecksumCapabilities::default();
        let sent = match (addr, src) {
            (IpAddress::Ipv4(_), _) => {
                let repr = Icmpv4Repr::EchoRequest {
                    ident: self.ident,
                    seq_no,
                    data: PAYLOAD,
                };
                sock.send(repr.buffer_len(), addr)
                    .map(|buf| repr.emit(&mut Icmpv4Packet::new_unchecked(buf), &caps))
            }
            (IpAddress::Ipv6(d), IpAddress::Ipv6(s)) => {
                let repr = Icmpv6Repr::EchoRequest {
                    ident: self.ident,
                    seq_no,
                    data: PAYLOAD,
                };
                let emit = |buf: &mut [u8]| {
                    repr.emit(&s, &d, &mut Icmpv6Packet::new_unchecked(buf), &caps)
                };
                sock.send(repr.buffer_len(), addr).map(emit)
            }
            _ => return reply(Err(error::no_source(dst))),
        };
        if let Err(e) = sent {
            return reply(Err(error::invalid(format!("ping {dst}: {e}"))));
        }
        let now = Instant::now();
        self.waits.insert(
            seq_no,
            Wait {
                dst,
                sent: now,
                deadline: now + timeout,
                reply,
            },
        );
    }

    /// Matches replies to waiting pings and fails the ones past their deadline. Returns the next deadline.
    pub fn service(&mut self, sockets: &mut SocketSet<'static>) -> Option<Instant> {
        let sock = sockets.get_mut::<icmp::Socket>(self.handle);
        let now = Instant::now();
        while let Ok((data, from)) = sock.recv() {
            let reply_type = if matches!(from, IpAddress::Ipv4(_)) {
                ECHO_REPLY_V4
            } else {
                ECHO_REPLY_V6
            };
            if data.len() < 8 || data[0] != reply_type || data[4..6] != self.ident.to_be_bytes() {
                continue;
            }
            let seq = u16::from_be_bytes([data[6], data[7]]);
            let from = IpAddr::from(from);
            if self.waits.get(&seq).is_some_and(|w| w.dst == from) {
                let w = self.waits.remove(&seq).expect("just found");
                (w.reply)(Ok(now - w.sent));
            }
        }
        let expired: Vec<u16> = self
            .waits
            .iter()
            .filter(|(_, w)| w.deadline <= now)
            .map(|(&s, _)| s)
            .collect();
        for seq in expired {
            let w = self.waits.remove(&seq).expect("just found");
            (w.reply)(Err(error::timed_out(&format!("ping {}", w.dst))));
        }
        self.waits.values().map(|w| w.deadline).min()
    }

    pub fn fail_all(&mut self) {
        for (_, w) in self.waits.drain() {
            (w.reply)(Err(error::stopped()));
        }
    }
}
