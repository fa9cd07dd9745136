import { describe, expect, it } from 'vitest';
import { decodePacket, PacketDecodeError } from '../../ts/tun/decode';
import { buildEchoReply, internetChecksum, ipv6PseudoHeader } from '../../ts/tun/echo';
import { decodeFrame, describePacket, formatFrame, formatPacket } from '../../ts/tun/format';
import { resolveId } from '../../ts/cli/tun';

// Hand-built packets. Checksums are filled in with internetChecksum, whose own vector is tested first.

function ipv4(protocol: number, src: number[], dst: number[], payload: Buffer, opts: { ttl?: number; frag?: number } = {}): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h.writeUInt16BE(0x1234, 4);
  h.writeUInt16BE(opts.frag ?? 0x4000, 6);
  h[8] = opts.ttl ?? 64;
  h[9] = protocol;
  Buffer.from(src).copy(h, 12);
  Buffer.from(dst).copy(h, 16);
  h.writeUInt16BE(internetChecksum(h), 10);
  return Buffer.concat([h, payload]);
}

function v6addr(text: string): Buffer {
  const [head, tail] = text.split('::');
  const hs = head ? head.split(':') : [];
  const ts = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), 2 * i));
  return b;
}

function ipv6(nextHeader: number, src: string, dst: string, payload: Buffer, hopLimit = 64): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(payload.length, 4);
  h[6] = nextHeader;
  h[7] = hopLimit;
  v6addr(src).copy(h, 8);
  v6addr(dst).copy(h, 24);
  return Buffer.concat([h, payload]);
}

function echo(type: number, id: number, seq: number, data: string): Buffer {
  const b = Buffer.concat([Buffer.alloc(8), Buffer.from(data)]);
  b[0] = type;
  b.writeUInt16BE(id, 4);
  b.writeUInt16BE(seq, 6);
  return b;
}

function tcp(sport: number, dport: number, flags: number, payload = Buffer.alloc(0)): Buffer {
  const t = Buffer.alloc(20);
  t.writeUInt16BE(sport, 0);
  t.writeUInt16BE(dport, 2);
  t.writeUInt32BE(1000, 4);
  t.writeUInt32BE(2000, 8);
  t[12] = 5 << 4;
  t[13] = flags;
  t.writeUInt16BE(65535, 14);
  return Buffer.concat([t, payload]);
}

function udp(sport: number, dport: number, payload: Buffer): Buffer {
  const u = Buffer.alloc(8);
  u.writeUInt16BE(sport, 0);
  u.writeUInt16BE(dport, 2);
  u.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([u, payload]);
}

describe('internetChecksum', () => {
  it('matches the textbook IPv4 header vector', () => {
    const header = Buffer.from('450000730000400040110000c0a80001c0a800c7', 'hex');
    expect(internetChecksum(header)).toBe(0xb861);
  });

  it('pads an odd length and treats split parts as one buffer', () => {
    const whole = Buffer.from([1, 2, 3, 4, 5]);
    expect(internetChecksum(whole.subarray(0, 3), whole.subarray(3))).toBe(internetChecksum(whole));
    expect(internetChecksum(Buffer.from([1]))).toBe(internetChecksum(Buffer.from([1, 0])));
  });
});

describe('decodePacket', () => {
  it('decodes an IPv4 ICMP echo request', () => {
    const p = decodePacket(ipv4(1, [10, 0, 0, 1], [10, 0, 0, 2], echo(8, 7, 3, 'hi')));
    expect(p).toMatchObject({ version: 4, headerLength: 20, totalLength: 30, ttl: 64, protocol: 1, protocolName: 'icmp' });
    expect(p).toMatchObject({ source: '10.0.0.1', destination: '10.0.0.2', dontFragment: true, truncated: false });
    expect(p.icmp).toEqual({ type: 8, code: 0, typeName: 'echo-request', id: 7, sequence: 3 });
    expect(formatPacket(p)).toBe('IPv4 10.0.0.1 > 10.0.0.2 icmp echo-request id 7 seq 3, ttl 64, length 30');
  });

  it('decodes IPv4 TCP ports and flags', () => {
    const p = decodePacket(ipv4(6, [192, 168, 1, 5], [1, 2, 3, 4], tcp(40000, 443, 0x12, Buffer.from('abc'))));
    expect(p.tcp).toEqual({ sourcePort: 40000, destinationPort: 443, seq: 1000, ack: 2000, flags: ['SYN', 'ACK'], window: 65535, payloadLength: 3 });
    expect(formatPacket(p)).toBe('IPv4 192.168.1.5:40000 > 1.2.3.4:443 tcp [SYN,ACK] seq 1000 ack 2000 win 65535 payload 3, ttl 64, length 43');
  });

  it('decodes IPv6 UDP with compressed addresses', () => {
    const p = decodePacket(ipv6(17, 'fd00:0:0:1::1', '2001:db8::53', udp(5353, 53, Buffer.from('query'))));
    expect(p).toMatchObject({ version: 6, headerLength: 40, totalLength: 53, protocolName: 'udp', source: 'fd00:0:0:1::1', destination: '2001:db8::53' });
    expect(p.udp).toEqual({ sourcePort: 5353, destinationPort: 53, length: 13 });
    expect(formatPacket(p)).toBe('IPv6 [fd00:0:0:1::1]:5353 > [2001:db8::53]:53 udp payload 5, ttl 64, length 53');
  });

  it('follows RFC 5952: the longest zero run, never a single group', () => {
    expect(decodePacket(ipv6(59, '2001:db8:0:1:0:0:0:1', '::', Buffer.alloc(0))).source).toBe('2001:db8:0:1::1');
    expect(decodePacket(ipv6(59, '2001:0:0:1:0:0:0:1', '::1', Buffer.alloc(0))).source).toBe('2001:0:0:1::1');
    expect(decodePacket(ipv6(59, '2001:db8:1:1:1:1:0:1', 'ff02::1', Buffer.alloc(0))).source).toBe('2001:db8:1:1:1:1:0:1');
    expect(decodePacket(ipv6(59, '::', '::1', Buffer.alloc(0))).destination).toBe('::1');
  });

  it('decodes ICMPv6 after a hop-by-hop header (an MLDv2 report)', () => {
    const hbh = Buffer.from([58, 0, 5, 2, 0, 0, 1, 0]);
    const mld = Buffer.from([143, 0, 0, 0, 0, 0, 0, 0]);
    const p = decodePacket(ipv6(0, 'fe80::1', 'ff02::16', Buffer.concat([hbh, mld]), 1));
    expect(p).toMatchObject({ headerLength: 48, protocol: 58, protocolName: 'icmpv6', ttl: 1 });
    expect(p.icmp).toEqual({ type: 143, code: 0, typeName: 'mldv2-report' });
  });

  it('marks IPv4 fragments and only reads ports from the first', () => {
    const first = decodePacket(ipv4(17, [10, 0, 0, 1], [10, 0, 0, 2], udp(1, 2, Buffer.alloc(16)), { frag: 0x2000 }));
    expect(first.fragment).toEqual({ offset: 0, moreFragments: true });
    expect(first.udp?.destinationPort).toBe(2);
    const later = decodePacket(ipv4(17, [10, 0, 0, 1], [10, 0, 0, 2], Buffer.alloc(16), { frag: 185 }));
    expect(later.fragment).toEqual({ offset: 1480, moreFragments: false });
    expect(later.udp).toBeUndefined();
    expect(formatPacket(later)).toContain('fragment offset 1480');
  });

  it('flags truncation instead of throwing when only the transport part is cut', () => {
    const whole = ipv4(6, [10, 0, 0, 1], [10, 0, 0, 2], tcp(1, 2, 0x02));
    const p = decodePacket(whole.subarray(0, 30));
    expect(p.truncated).toBe(true);
    expect(p.tcp).toBeUndefined();
    expect(formatPacket(p)).toMatch(/truncated$/);
  });

  it('rejects what is not an IP packet', () => {
    expect(() => decodePacket(Buffer.alloc(0))).toThrow(PacketDecodeError);
    expect(() => decodePacket(Buffer.from([0x00, 1, 2]))).toThrow(/version nibble 0/);
    expect(() => decodePacket(Buffer.from([0x45, 0, 0]))).toThrow(/shorter than its header/);
    expect(() => decodePacket(Buffer.alloc(30, 0x60))).toThrow(PacketDecodeError);
    expect(describePacket(Buffer.from([0x12, 0x34]), 'tun')).toBe('2 bytes: not an IP packet (version nibble 1)');
  });
});

describe('decodeFrame', () => {
  const macs = Buffer.from('ffffffffffff525400123456', 'hex');

  it('decodes ARP requests', () => {
    const arp = Buffer.from('0001080006040001525400123456' + '0a000001' + '000000000000' + '0a000002', 'hex');
    const f = decodeFrame(Buffer.concat([macs, Buffer.from([0x08, 0x06]), arp]));
    expect(f.arp).toEqual({ operation: 'request', senderMac: '52:54:00:12:34:56', senderIp: '10.0.0.1', targetIp: '10.0.0.2' });
    expect(formatFrame(f)).toBe('52:54:00:12:34:56 > ff:ff:ff:ff:ff:ff ARP request who-has 10.0.0.2 tell 10.0.0.1');
  });

  it('decodes IPv6 inside a VLAN tag', () => {
    const pkt = ipv6(58, 'fe80::1', 'fe80::2', echo(128, 1, 1, ''));
    const f = decodeFrame(Buffer.concat([macs, Buffer.from([0x81, 0x00, 0x00, 0x2a, 0x86, 0xdd]), pkt]));
    expect(f).toMatchObject({ vlan: 42, etherType: 0x86dd });
    expect(f.packet?.icmp?.typeName).toBe('echo-request');
  });
});

describe('buildEchoReply', () => {
  it('answers an IPv4 echo request with swapped addresses and valid checksums', () => {
    const request = ipv4(1, [10, 9, 0, 1], [10, 9, 0, 2], echo(8, 0xbeef, 5, 'payload!'), { ttl: 3 });
    const reply = buildEchoReply(request)!;
    expect(internetChecksum(reply.subarray(0, 20))).toBe(0);
    expect(internetChecksum(reply.subarray(20))).toBe(0);
    const p = decodePacket(reply);
    expect(p).toMatchObject({ source: '10.9.0.2', destination: '10.9.0.1', ttl: 64, totalLength: request.length });
    expect(p.icmp).toEqual({ type: 0, code: 0, typeName: 'echo-reply', id: 0xbeef, sequence: 5 });
    expect(reply.subarray(28).toString()).toBe('payload!');
  });

  it('answers an ICMPv6 echo request with the pseudo-header checksum', () => {
    const request = ipv6(58, 'fd00:99::1', 'fd00:99::2', echo(128, 42, 9, 'odd-length'));
    const reply = buildEchoReply(request)!;
    const p = decodePacket(reply);
    expect(p).toMatchObject({ source: 'fd00:99::2', destination: 'fd00:99::1', ttl: 64, protocol: 58 });
    expect(p.icmp).toEqual({ type: 129, code: 0, typeName: 'echo-reply', id: 42, sequence: 9 });
    const icmp = reply.subarray(40);
    const pseudo = ipv6PseudoHeader(reply.subarray(8, 24), reply.subarray(24, 40), icmp.length, 58);
    expect(internetChecksum(pseudo, icmp)).toBe(0);
    // The same message without the pseudo-header would not verify: the checksum really covers the addresses.
    expect(internetChecksum(icmp)).not.toBe(0);
  });

  it('matches an ICMPv6 checksum computed independently', () => {
    // echo reply fd00::2 -> fd00::1, id 1, seq 1, no data: sum of pseudo-header and message words, folded.
    const reply = buildEchoReply(ipv6(58, 'fd00::1', 'fd00::2', echo(128, 1, 1, '')))!;
    const words = [0xfd00, 0x0002, 0xfd00, 0x0001, 0x0000, 0x0008, 0x0000, 0x003a, 0x8100, 0x0001, 0x0001];
    let sum = words.reduce((a, b) => a + b, 0);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    expect(reply.readUInt16BE(42)).toBe(~sum & 0xffff);
  });

  it('ignores what is not a unicast echo request', () => {
    expect(buildEchoReply(ipv4(1, [10, 0, 0, 1], [10, 0, 0, 2], echo(0, 1, 1, '')))).toBeUndefined();
    expect(buildEchoReply(ipv4(1, [10, 0, 0, 1], [224, 0, 0, 1], echo(8, 1, 1, '')))).toBeUndefined();
    expect(buildEchoReply(ipv6(58, 'fe80::1', 'ff02::1', echo(128, 1, 1, '')))).toBeUndefined();
    expect(buildEchoReply(ipv4(17, [10, 0, 0, 1], [10, 0, 0, 2], udp(1, 2, Buffer.alloc(4))))).toBeUndefined();
    expect(buildEchoReply(Buffer.from([1, 2, 3]))).toBeUndefined();
  });
});

describe('wiretun tun --user/--group', () => {
  const passwd = 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n';

  it('takes numbers as they are and looks names up', () => {
    expect(resolveId('1000', '/etc/passwd', '')).toBe(1000);
    expect(resolveId('nobody', '/etc/passwd', passwd)).toBe(65534);
    expect(resolveId('root', '/etc/group', 'root:x:0:\n')).toBe(0);
  });

  it('names a missing user', () => {
    expect(() => resolveId('nosuch', '/etc/passwd', passwd)).toThrow(/no user named nosuch in \/etc\/passwd/);
  });
});
