// Packet captures with the real dumpcap (Wireshark's capture engine) inside a namespace, read back as UDP
// datagrams with their sizes and payload starts, for tests that check what WireGuard put on the wire. Only the
// headers and the first bytes of each payload are kept: the message type, receiver index and counter are all
// in the first 16 bytes, and the UDP header still gives each datagram's full length.
import { spawn, ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { waitFor } from './wait';

export interface Datagram {
  /** Capture time, seconds since the epoch (same clock as Date.now()). */
  time: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** Full UDP payload length, even though only its start was captured. */
  length: number;
  /** The captured start of the payload. */
  head: Buffer;
}

const SNAPLEN = 128;
const ETH_HEADER = 14;

export class WireCapture {
  private exited = false;
  private stderr = '';

  private constructor(
    readonly file: string,
    private readonly child: ChildProcess,
  ) {
    child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    child.on('exit', () => (this.exited = true));
  }

  /** Starts capturing on `dev` in `ns` with a BPF `filter`; resolves once dumpcap reports it is capturing. */
  static async start(ns: string, dev: string, filter: string, file: string): Promise<WireCapture> {
    const args = ['netns', 'exec', ns, 'dumpcap', '-q', '-P', '-i', dev, '-s', String(SNAPLEN), '-B', '16', '-f', filter, '-w', file];
    const cap = new WireCapture(file, spawn('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] }));
    try {
      await waitFor(`dumpcap on ${dev} in ${ns}`, () => cap.exited || /Capturing on/.test(cap.stderr), { timeoutMs: 10_000, intervalMs: 50 });
    } catch (e) {
      await cap.stop();
      throw e;
    }
    if (cap.exited) throw new Error(`dumpcap on ${dev} in ${ns} failed: ${cap.stderr.trim()}`);
    return cap;
  }

  /** Everything captured so far (dumpcap writes each packet out at once). */
  datagrams(): Datagram[] {
    return existsSync(this.file) ? parsePcap(readFileSync(this.file)) : [];
  }

  /** Packets the kernel dropped before dumpcap saw them, as dumpcap reports on exit (after stop()). */
  dropped(): number {
    const m = /received\/dropped on interface [^:]*: \d+\/(\d+)/.exec(this.stderr);
    return m ? Number(m[1]) : 0;
  }

  /** Stops dumpcap (SIGINT lets it finish the file; SIGKILL if it does not exit) and returns the capture. */
  async stop(): Promise<Datagram[]> {
    if (!this.exited) {
      this.child.kill('SIGINT');
      await waitFor('dumpcap to exit', () => this.exited, { timeoutMs: 5_000, intervalMs: 50 }).catch(() => this.child.kill('SIGKILL'));
    }
    return this.datagrams();
  }
}

/** Classic pcap (dumpcap -P) of Ethernet frames: the UDP datagrams in it, fragments and other protocols skipped. */
export function parsePcap(buf: Buffer): Datagram[] {
  if (buf.length < 24) return [];
  const magic = buf.readUInt32LE(0);
  const nanos = magic === 0xa1b23c4d;
  if (magic !== 0xa1b2c3d4 && !nanos) throw new Error(`not a little-endian pcap file (magic ${magic.toString(16)})`);
  if (buf.readUInt32LE(20) !== 1) throw new Error('pcap link type is not Ethernet');
  const out: Datagram[] = [];
  for (let off = 24; off + 16 <= buf.length; ) {
    const caplen = buf.readUInt32LE(off + 8);
    const frameStart = off + 16;
    if (frameStart + caplen > buf.length) break; // a record dumpcap is still writing
    const time = buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) / (nanos ? 1e9 : 1e6);
    const d = parseFrame(buf.subarray(frameStart, frameStart + caplen), time);
    if (d) out.push(d);
    off = frameStart + caplen;
  }
  return out;
}

function parseFrame(frame: Buffer, time: number): Datagram | undefined {
  if (frame.length < ETH_HEADER + 28) return undefined;
  const type = frame.readUInt16BE(12);
  const ip = frame.subarray(ETH_HEADER);
  let src: string;
  let dst: string;
  let udp: Buffer;
  if (type === 0x0800) {
    const fragmentOffset = ip.readUInt16BE(6) & 0x1fff;
    if (ip[9] !== 17 || fragmentOffset !== 0) return undefined;
    src = [...ip.subarray(12, 16)].join('.');
    dst = [...ip.subarray(16, 20)].join('.');
    udp = ip.subarray((ip[0] & 0x0f) * 4);
  } else if (type === 0x86dd) {
    if (ip.length < 48 || ip[6] !== 17) return undefined;
    src = ipv6String(ip.subarray(8, 24));
    dst = ipv6String(ip.subarray(24, 40));
    udp = ip.subarray(40);
  } else {
    return undefined;
  }
  if (udp.length < 8) return undefined;
  return { time, src, dst, sport: udp.readUInt16BE(0), dport: udp.readUInt16BE(2), length: udp.readUInt16BE(4) - 8, head: Buffer.from(udp.subarray(8)) };
}

/** Compressed form as `ip` prints it (longest run of two or more zero groups as ::). */
export function ipv6String(b: Buffer): string {
  const groups = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2));
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len && j - i > 1) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`;
}

/** WireGuard message types (first byte of the UDP payload). */
export const WG = { initiation: 1, response: 2, cookie: 3, data: 4 } as const;

export const wgType = (d: Datagram) => (d.head.length > 0 ? d.head[0] : -1);
/** A data message's receiver index (the recipient's session), in clear at bytes 4..8. */
export const receiverIndex = (d: Datagram) => d.head.readUInt32LE(4);
/** A data message's nonce counter, in clear at bytes 8..16. */
export const dataCounter = (d: Datagram) => d.head.readBigUInt64LE(8);

/** Why captures cannot run here (dumpcap missing), or undefined; said loudly, as env.ts does for other tools. */
export const captureSkipReason = ['/usr/bin/dumpcap', '/usr/sbin/dumpcap', '/usr/local/bin/dumpcap'].some((p) => existsSync(p))
  ? undefined
  : 'capture tests need dumpcap (Debian: tshark or wireshark-common)';
if (captureSkipReason && process.getuid?.() === 0) console.warn(`\n*** SKIPPED: ${captureSkipReason} ***\n`);
