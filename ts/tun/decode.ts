// Header decoding for the TUN/TAP toolkit: enough to print one line per packet and to answer pings. Pure
// functions over Buffers, no native code, so it can be unit-tested with hand-built packets.

/** A buffer that is not an IP packet, or is cut short before its IP header ends. */
export class PacketDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PacketDecodeError';
  }
}

export interface TcpSummary {
  sourcePort: number;
  destinationPort: number;
  seq: number;
  ack: number;
  /** Set flags in tcpdump's order: SYN FIN RST PSH ACK URG ECE CWR. */
  flags: string[];
  window: number;
  /** Bytes after the TCP header. */
  payloadLength: number;
}

export interface UdpSummary {
  sourcePort: number;
  destinationPort: number;
  /** The UDP length field: header plus payload. */
  length: number;
}

export interface IcmpSummary {
  type: number;
  code: number;
  /** e.g. echo-request, time-exceeded, neighbor-solicitation; absent for types we do not name. */
  typeName?: string;
  /** Echo request/reply only. */
  id?: number;
  sequence?: number;
}

export interface DecodedPacket {
  version: 4 | 6;
  /** Bytes of IP header, IPv6 extension headers included. */
  headerLength: number;
  /** The length the IP header claims (IPv6: 40 + payload length). */
  totalLength: number;
  /** TTL (IPv4) or hop limit (IPv6). */
  ttl: number;
  /** Transport protocol number after any IPv6 extension headers (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6). */
  protocol: number;
  /** tcp, udp, icmp, icmpv6, or `proto-N`. */
  protocolName: string;
  source: string;
  destination: string;
  /** Set when this is a fragment; only the first fragment (offset 0) carries the transport header. */
  fragment?: { offset: number; moreFragments: boolean };
  /** IPv4 DF bit. */
  dontFragment?: boolean;
  tcp?: TcpSummary;
  udp?: UdpSummary;
  icmp?: IcmpSummary;
  /** The buffer ends before the length the header claims, or before the transport header ends. */
  truncated: boolean;
}

const PROTOCOL_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6' };

const ICMP4_TYPES: Record<number, string> = {
  0: 'echo-reply',
  3: 'unreachable',
  5: 'redirect',
  8: 'echo-request',
  11: 'time-exceeded',
  12: 'parameter-problem',
};

const ICMP6_TYPES: Record<number, string> = {
  1: 'unreachable',
  2: 'packet-too-big',
  3: 'time-exceeded',
  4: 'parameter-problem',
  128: 'echo-request',
  129: 'echo-reply',
  130: 'mld-query',
  131: 'mld-report',
  133: 'router-solicitation',
  134: 'router-advertisement',
  135: 'neighbor-solicitation',
  136: 'neighbor-advertisement',
  143: 'mldv2-report',
};

const TCP_FLAGS: Array<[number, string]> = [
  [0x02, 'SYN'],
  [0x01, 'FIN'],
  [0x04, 'RST'],
  [0x08, 'PSH'],
  [0x10, 'ACK'],
  [0x20, 'URG'],
  [0x40, 'ECE'],
  [0x80, 'CWR'],
];

export function ipv4ToString(b: Buffer, offset: number): string {
  return `${b[offset]}.${b[offset + 1]}.${b[offset + 2]}.${b[offset + 3]}`;
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run of two or more zero groups as `::`. */
export function ipv6ToString(b: Buffer, offset: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(offset + 2 * i));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestLen < 2) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

function header(version: 4 | 6, fields: Omit<DecodedPacket, 'version' | 'protocolName' | 'truncated'>): DecodedPacket {
  return { version, ...fields, protocolName: PROTOCOL_NAMES[fields.protocol] ?? `proto-${fields.protocol}`, truncated: false };
}

function decodeIpv4(b: Buffer): DecodedPacket {
  if (b.length < 20) throw new PacketDecodeError(`IPv4 packet of ${b.length} bytes is shorter than its header`);
  const headerLength = (b[0] & 0x0f) * 4;
  if (headerLength < 20 || b.length < headerLength) {
    throw new PacketDecodeError(`IPv4 header length ${headerLength} does not fit a ${b.length}-byte packet`);
  }
  const fragWord = b.readUInt16BE(6);
  const offset = (fragWord & 0x1fff) * 8;
  const moreFragments = (fragWord & 0x2000) !== 0;
  const p = header(4, {
    headerLength,
    totalLength: b.readUInt16BE(2),
    ttl: b[8],
    protocol: b[9],
    source: ipv4ToString(b, 12),
    destination: ipv4ToString(b, 16),
    dontFragment: (fragWord & 0x4000) !== 0,
  });
  if (offset !== 0 || moreFragments) p.fragment = { offset, moreFragments };
  return p;
}

/** Extension headers we step over to reach the transport header; anything else ends the chain. */
const IPV6_EXTENSIONS = new Set([0, 43, 44, 51, 60]);

function decodeIpv6(b: Buffer): DecodedPacket {
  if (b.length < 40) throw new PacketDecodeError(`IPv6 packet of ${b.length} bytes is shorter than its header`);
  let next = b[6];
  let at = 40;
  let fragment: DecodedPacket['fragment'];
  while (IPV6_EXTENSIONS.has(next) && at + 8 <= b.length) {
    const len = next === 44 ? 8 : next === 51 ? (b[at + 1] + 2) * 4 : (b[at + 1] + 1) * 8;
    if (next === 44) {
      const word = b.readUInt16BE(at + 2);
      fragment = { offset: word & 0xfff8, moreFragments: (word & 1) !== 0 };
    }
    next = b[at];
    at += len;
  }
  const p = header(6, {
    headerLength: at,
    totalLength: 40 + b.readUInt16BE(4),
    ttl: b[7],
    protocol: next,
    source: ipv6ToString(b, 8),
    destination: ipv6ToString(b, 24),
  });
  if (fragment && (fragment.offset !== 0 || fragment.moreFragments)) p.fragment = fragment;
  if (at > b.length) p.truncated = true;
  return p;
}

function decodeTcp(t: Buffer): TcpSummary | undefined {
  if (t.length < 20) return undefined;
  const flagByte = t[13];
  const dataOffset = (t[12] >> 4) * 4;
  return {
    sourcePort: t.readUInt16BE(0),
    destinationPort: t.readUInt16BE(2),
    seq: t.readUInt32BE(4),
    ack: t.readUInt32BE(8),
    flags: TCP_FLAGS.filter(([bit]) => (flagByte & bit) !== 0).map(([, name]) => name),
    window: t.readUInt16BE(14),
    payloadLength: Math.max(0, t.length - dataOffset),
  };
}

function decodeUdp(t: Buffer): UdpSummary | undefined {
  if (t.length < 8) return undefined;
  return { sourcePort: t.readUInt16BE(0), destinationPort: t.readUInt16BE(2), length: t.readUInt16BE(4) };
}

function decodeIcmp(t: Buffer, names: Record<number, string>, echoTypes: number[]): IcmpSummary | undefined {
  if (t.length < 4) return undefined;
  const s: IcmpSummary = { type: t[0], code: t[1] };
  if (names[t[0]]) s.typeName = names[t[0]];
  if (echoTypes.includes(t[0]) && t.length >= 8) {
    s.id = t.readUInt16BE(4);
    s.sequence = t.readUInt16BE(6);
  }
  return s;
}

function addTransport(p: DecodedPacket, b: Buffer): void {
  if (p.fragment && p.fragment.offset !== 0) return;
  // Trust the header's length over the buffer's when the buffer carries padding after the packet.
  const end = Math.min(b.length, p.totalLength);
  const t = b.subarray(Math.min(p.headerLength, end), end);
  if (p.protocol === 6) p.tcp = decodeTcp(t);
  else if (p.protocol === 17) p.udp = decodeUdp(t);
  else if (p.protocol === 1 && p.version === 4) p.icmp = decodeIcmp(t, ICMP4_TYPES, [0, 8]);
  else if (p.protocol === 58 && p.version === 6) p.icmp = decodeIcmp(t, ICMP6_TYPES, [128, 129]);
  else return;
  if (!p.tcp && !p.udp && !p.icmp) p.truncated = true;
}

/**
 * Decodes the IP header of a packet as a TUN device delivers it (no packet-information prefix) and summarises
 * TCP, UDP, ICMP and ICMPv6. Throws PacketDecodeError when the buffer is not IPv4/IPv6 or its IP header is cut.
 */
export function decodePacket(buffer: Buffer): DecodedPacket {
  if (buffer.length === 0) throw new PacketDecodeError('empty packet');
  const version = buffer[0] >> 4;
  if (version !== 4 && version !== 6) throw new PacketDecodeError(`not an IP packet (version nibble ${version})`);
  const p = version === 4 ? decodeIpv4(buffer) : decodeIpv6(buffer);
  if (buffer.length < p.totalLength) p.truncated = true;
  addTransport(p, buffer);
  return p;
}
