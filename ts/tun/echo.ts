// An ICMP/ICMPv6 echo responder for TUN devices: given an echo request the kernel routed into the device, build
// the reply a host at the destination address would send, so `ping` to any address behind the device answers.
import { decodePacket, PacketDecodeError } from './decode';

/** The Internet checksum (RFC 1071) over `parts`, as if they were one buffer. */
export function internetChecksum(...parts: Buffer[]): number {
  let sum = 0;
  let odd: number | undefined;
  for (const part of parts) {
    for (const byte of part) {
      if (odd === undefined) odd = byte;
      else {
        sum += (odd << 8) | byte;
        odd = undefined;
      }
    }
  }
  if (odd !== undefined) sum += odd << 8;
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** The IPv6 pseudo-header ICMPv6, TCP and UDP checksums cover (RFC 8200 §8.1). */
export function ipv6PseudoHeader(source: Buffer, destination: Buffer, length: number, nextHeader: number): Buffer {
  const h = Buffer.alloc(40);
  source.copy(h, 0, 0, 16);
  destination.copy(h, 16, 0, 16);
  h.writeUInt32BE(length, 32);
  h[39] = nextHeader;
  return h;
}

const REPLY_TTL = 64;

function isMulticastOrBroadcastV4(b: Buffer, at: number): boolean {
  return b[at] >= 224;
}

function replyV4(request: Buffer, headerLength: number, totalLength: number): Buffer | undefined {
  if (isMulticastOrBroadcastV4(request, 16)) return undefined;
  const icmp = request.subarray(headerLength, totalLength);
  // Options (record route and the like) are dropped: the reply gets a plain 20-byte header.
  const reply = Buffer.alloc(20 + icmp.length);
  reply[0] = 0x45;
  reply.writeUInt16BE(reply.length, 2);
  reply.writeUInt16BE(request.readUInt16BE(4), 4);
  reply[8] = REPLY_TTL;
  reply[9] = 1;
  request.copy(reply, 12, 16, 20);
  request.copy(reply, 16, 12, 16);
  reply.writeUInt16BE(internetChecksum(reply.subarray(0, 20)), 10);
  icmp.copy(reply, 20);
  reply[20] = 0;
  reply[21] = 0;
  reply.writeUInt16BE(0, 22);
  reply.writeUInt16BE(internetChecksum(reply.subarray(20)), 22);
  return reply;
}

function replyV6(request: Buffer, headerLength: number, totalLength: number): Buffer | undefined {
  // A multicast destination (ff00::/8) is not an address a reply may come from.
  if (request[24] === 0xff) return undefined;
  const icmp = request.subarray(headerLength, totalLength);
  const reply = Buffer.alloc(40 + icmp.length);
  reply[0] = 0x60;
  reply.writeUInt16BE(icmp.length, 4);
  reply[6] = 58;
  reply[7] = REPLY_TTL;
  request.copy(reply, 8, 24, 40);
  request.copy(reply, 24, 8, 24);
  icmp.copy(reply, 40);
  reply[40] = 129;
  reply[41] = 0;
  reply.writeUInt16BE(0, 42);
  const pseudo = ipv6PseudoHeader(reply.subarray(8, 24), reply.subarray(24, 40), icmp.length, 58);
  reply.writeUInt16BE(internetChecksum(pseudo, reply.subarray(40)), 42);
  return reply;
}

/**
 * The echo reply to `packet` when it is an ICMP echo request (IPv4) or ICMPv6 echo request (IPv6) to a unicast
 * address, whole (not a fragment, not truncated); otherwise undefined. Addresses swap, the identifier,
 * sequence number and data are echoed, TTL/hop limit is 64, and both checksums (ICMPv6's over the
 * pseudo-header) are computed afresh.
 */
export function buildEchoReply(packet: Buffer): Buffer | undefined {
  let p;
  try {
    p = decodePacket(packet);
  } catch (err) {
    if (err instanceof PacketDecodeError) return undefined;
    throw err;
  }
  if (p.truncated || p.fragment || !p.icmp || p.icmp.code !== 0) return undefined;
  if (p.version === 4 && p.icmp.type === 8) return replyV4(packet, p.headerLength, p.totalLength);
  if (p.version === 6 && p.icmp.type === 128) return replyV6(packet, p.headerLength, p.totalLength);
  return undefined;
}
