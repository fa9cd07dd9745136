// One-line, tcpdump-like text for decoded packets and Ethernet frames (what `wiretun tun watch` prints).
import { decodePacket, DecodedPacket, ipv4ToString, PacketDecodeError } from './decode';

export interface DecodedFrame {
  destinationMac: string;
  sourceMac: string;
  /** After any 802.1Q tag. */
  etherType: number;
  vlan?: number;
  /** IPv4/IPv6 payloads. */
  packet?: DecodedPacket;
  /** ARP over Ethernet/IPv4. */
  arp?: { operation: 'request' | 'reply' | number; senderIp: string; targetIp: string; senderMac: string };
}

function mac(b: Buffer, at: number): string {
  return [...b.subarray(at, at + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

function decodeArp(b: Buffer): DecodedFrame['arp'] {
  // Only Ethernet (1) hardware with IPv4 (0x0800) addresses: the only kind a TAP device sees in practice.
  if (b.length < 28 || b.readUInt16BE(0) !== 1 || b.readUInt16BE(2) !== 0x0800) return undefined;
  const op = b.readUInt16BE(6);
  return {
    operation: op === 1 ? 'request' : op === 2 ? 'reply' : op,
    senderMac: mac(b, 8),
    senderIp: ipv4ToString(b, 14),
    targetIp: ipv4ToString(b, 24),
  };
}

/** Decodes an Ethernet frame as a TAP device delivers it. Throws PacketDecodeError below 14 bytes. */
export function decodeFrame(frame: Buffer): DecodedFrame {
  if (frame.length < 14) throw new PacketDecodeError(`Ethernet frame of ${frame.length} bytes is shorter than its header`);
  let etherType = frame.readUInt16BE(12);
  let at = 14;
  const f: DecodedFrame = { destinationMac: mac(frame, 0), sourceMac: mac(frame, 6), etherType };
  if (etherType === 0x8100 && frame.length >= 18) {
    f.vlan = frame.readUInt16BE(14) & 0x0fff;
    etherType = f.etherType = frame.readUInt16BE(16);
    at = 18;
  }
  const payload = frame.subarray(at);
  if (etherType === 0x0800 || etherType === 0x86dd) f.packet = decodePacket(payload);
  else if (etherType === 0x0806) f.arp = decodeArp(payload);
  return f;
}

function endpoint(p: DecodedPacket, address: string, port?: number): string {
  if (port === undefined) return address;
  return p.version === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

function transportText(p: DecodedPacket): string {
  if (p.tcp) {
    const t = p.tcp;
    const ack = t.flags.includes('ACK') ? ` ack ${t.ack}` : '';
    return `tcp [${t.flags.join(',') || 'none'}] seq ${t.seq}${ack} win ${t.window} payload ${t.payloadLength}`;
  }
  if (p.udp) return `udp payload ${Math.max(0, p.udp.length - 8)}`;
  if (p.icmp) {
    const i = p.icmp;
    const echo = i.id !== undefined ? ` id ${i.id} seq ${i.sequence}` : '';
    return `${p.protocolName} ${i.typeName ?? `type ${i.type}`}${i.code ? ` code ${i.code}` : ''}${echo}`;
  }
  return p.protocolName;
}

/** e.g. `IPv4 10.0.0.1 > 10.0.0.2 icmp echo-request id 7 seq 1, ttl 64, length 84`. */
export function formatPacket(p: DecodedPacket): string {
  const ports = p.tcp ?? p.udp;
  const from = endpoint(p, p.source, ports?.sourcePort);
  const to = endpoint(p, p.destination, ports?.destinationPort);
  const frag = p.fragment ? `, fragment offset ${p.fragment.offset}${p.fragment.moreFragments ? '+' : ''}` : '';
  const cut = p.truncated ? ', truncated' : '';
  return `IPv${p.version} ${from} > ${to} ${transportText(p)}, ttl ${p.ttl}, length ${p.totalLength}${frag}${cut}`;
}

/** e.g. `52:54:00:12:34:56 > ff:ff:ff:ff:ff:ff ARP request who-has 10.0.0.2 tell 10.0.0.1`. */
export function formatFrame(f: DecodedFrame): string {
  const head = `${f.sourceMac} > ${f.destinationMac}${f.vlan !== undefined ? ` vlan ${f.vlan}` : ''}`;
  if (f.packet) return `${head} ${formatPacket(f.packet)}`;
  if (f.arp) {
    const a = f.arp;
    if (a.operation === 'request') return `${head} ARP request who-has ${a.targetIp} tell ${a.senderIp}`;
    if (a.operation === 'reply') return `${head} ARP reply ${a.senderIp} is-at ${a.senderMac}`;
    return `${head} ARP operation ${a.operation}`;
  }
  return `${head} ethertype 0x${f.etherType.toString(16).padStart(4, '0')}`;
}

/** Never throws: undecodable input becomes a line saying so, so a watcher keeps going. */
export function describePacket(buffer: Buffer, mode: 'tun' | 'tap'): string {
  try {
    return mode === 'tap' ? formatFrame(decodeFrame(buffer)) : formatPacket(decodePacket(buffer));
  } catch (err) {
    if (err instanceof PacketDecodeError) return `${buffer.length} bytes: ${err.message}`;
    throw err;
  }
}
