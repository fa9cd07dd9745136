// A small DNS client (RFC 1035) for rootless tunnels: A and AAAA queries sent only to the tunnel's own DNS
// servers, through the tunnel, over UDP with a TCP retry for truncated answers. Nothing here ever asks the
// host's resolver, so a name never leaks outside the tunnel.
import { randomInt } from 'node:crypto';
import { WiretunError } from '../errors';

export const TYPE_A = 1;
export const TYPE_AAAA = 28;
const CLASS_IN = 1;
const FLAG_QR = 0x8000;
const FLAG_TC = 0x0200;
const FLAG_RD = 0x0100;
const RCODE_NXDOMAIN = 3;

/** How one query goes out: over UDP, resolving to the first reply from the server that `accept` takes
 * (rejecting with ETIMEDOUT when none comes), or over TCP. */
export interface DnsTransport {
  udp(server: string, query: Buffer, timeoutMs: number, accept: (reply: Buffer) => boolean): Promise<Buffer>;
  tcp(server: string, query: Buffer, timeoutMs: number): Promise<Buffer>;
}

/** Encodes a query for `name` (a host name, without or with the final dot). */
export function encodeQuery(name: string, type: number, id: number): Buffer {
  const labels = name.replace(/\.$/, '').split('.');
  if (name.length === 0 || name.length > 253 || labels.some((l) => l.length === 0 || l.length > 63)) {
    throw new WiretunError('ENOTFOUND', `${name}: not a valid host name`);
  }
  const parts = [Buffer.from([id >> 8, id & 0xff, FLAG_RD >> 8, 0, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'ascii');
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0, type >> 8, type & 0xff, 0, CLASS_IN]));
  return Buffer.concat(parts);
}

/** What an answer says: its id, whether it was truncated, its rcode and the addresses of `type` it holds. */
export interface DnsAnswer {
  id: number;
  truncated: boolean;
  rcode: number;
  addresses: string[];
}

function malformed(): WiretunError {
  return new WiretunError('EBADMSG', 'malformed DNS answer');
}

/** The offset just past the (possibly compressed) name at `offset`. */
function skipName(msg: Buffer, offset: number): number {
  for (let hops = 0; hops < 128; hops++) {
    if (offset >= msg.length) throw malformed();
    const len = msg[offset];
    if (len === 0) return offset + 1;
    if ((len & 0xc0) === 0xc0) {
      if (offset + 2 > msg.length) throw malformed();
      return offset + 2;
    }
    if (len & 0xc0) throw malformed();
    offset += 1 + len;
  }
  throw malformed();
}

function formatV6(b: Buffer): string {
  const words = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16));
  // The longest run of zero words (of two or more) becomes "::", as inet_ntop writes it.
  let best = [-1, 0];
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === '0') j++;
    if (j - i > best[1] && j - i > 1) best = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  if (best[0] < 0) return words.join(':');
  return `${words.slice(0, best[0]).join(':')}::${words.slice(best[0] + best[1]).join(':')}`;
}

/** Decodes an answer, collecting the A or AAAA records of its answer section (after any CNAMEs). */
export function decodeAnswer(msg: Buffer, type: number): DnsAnswer {
  if (msg.length < 12) throw malformed();
  const flags = msg.readUInt16BE(2);
  if (!(flags & FLAG_QR)) throw malformed();
  const questions = msg.readUInt16BE(4);
  const answers = msg.readUInt16BE(6);
  let offset = 12;
  for (let i = 0; i < questions; i++) offset = skipName(msg, offset) + 4;
  const addresses: string[] = [];
  for (let i = 0; i < answers; i++) {
    offset = skipName(msg, offset);
    if (offset + 10 > msg.length) throw malformed();
    const rtype = msg.readUInt16BE(offset);
    const rclass = msg.readUInt16BE(offset + 2);
    const length = msg.readUInt16BE(offset + 8);
    offset += 10;
    if (offset + length > msg.length) throw malformed();
    const data = msg.subarray(offset, offset + length);
    offset += length;
    if (rclass !== CLASS_IN || rtype !== type) continue;
    if (type === TYPE_A && length === 4) addresses.push(Array.from(data).join('.'));
    if (type === TYPE_AAAA && length === 16) addresses.push(formatV6(data));
  }
  return { id: msg.readUInt16BE(0), truncated: (flags & FLAG_TC) !== 0, rcode: flags & 0xf, addresses };
}

export interface ResolverOptions {
  /** Nameserver IP addresses, asked in order. */
  servers: string[];
  /** Search domains tried, in order, for a name without a dot. */
  search?: string[];
  /** Per attempt; default 2000 ms. */
  timeoutMs?: number;
  /** UDP attempts per server; default 2. */
  attempts?: number;
}

/**
 * Resolves `name` to its addresses of one family through `transport`. An NXDOMAIN or an answer without records
 * is final (ENOTFOUND); a server that fails or does not answer passes the question to the next one.
 */
export async function resolve(
  name: string,
  family: 4 | 6,
  transport: DnsTransport,
  opts: ResolverOptions,
): Promise<string[]> {
  if (opts.servers.length === 0) {
    throw new WiretunError('ENOTFOUND', `${name}: the tunnel has no DNS servers (give the dns option or DNS =)`);
  }
  const candidates = !name.includes('.') && opts.search?.length ? [...opts.search.map((d) => `${name}.${d}`), name] : [name];
  let lastError: WiretunError | undefined;
  for (const candidate of candidates) {
    try {
      return await resolveOne(candidate, family === 4 ? TYPE_A : TYPE_AAAA, transport, opts);
    } catch (err) {
      if (!(err instanceof WiretunError) || err.code !== 'ENOTFOUND') throw err;
      lastError = err;
    }
  }
  if (candidates.length === 1 && lastError) throw lastError;
  throw new WiretunError('ENOTFOUND', `${name}: not found (tried ${candidates.join(', ')})`);
}

async function resolveOne(name: string, type: number, transport: DnsTransport, opts: ResolverOptions): Promise<string[]> {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const failures: string[] = [];
  for (const server of opts.servers) {
    for (let attempt = 0; attempt < (opts.attempts ?? 2); attempt++) {
      const id = randomInt(0x10000);
      const query = encodeQuery(name, type, id);
      let answer: DnsAnswer | undefined;
      try {
        const reply = await transport.udp(server, query, timeoutMs, (r) => tryDecode(r, type)?.id === id);
        answer = tryDecode(reply, type);
        if (answer?.truncated) answer = tryDecode(await transport.tcp(server, query, timeoutMs), type);
      } catch (err) {
        if (!(err instanceof WiretunError) || err.code !== 'ETIMEDOUT') {
          failures.push(`${server}: ${err instanceof Error ? err.message : String(err)}`);
          break;
        }
        continue;
      }
      if (!answer) continue;
      if (answer.rcode === RCODE_NXDOMAIN) throw new WiretunError('ENOTFOUND', `${name}: no such name (${server})`);
      if (answer.rcode !== 0) {
        failures.push(`${server}: rcode ${answer.rcode}`);
        break;
      }
      if (answer.addresses.length === 0) throw new WiretunError('ENOTFOUND', `${name}: no ${type === TYPE_A ? 'A' : 'AAAA'} record (${server})`);
      return answer.addresses;
    }
    if (failures.length === 0 || !failures[failures.length - 1].startsWith(`${server}:`)) failures.push(`${server}: no answer`);
  }
  const code = failures.every((f) => f.endsWith('no answer')) ? 'ETIMEDOUT' : 'ESERVFAIL';
  throw new WiretunError(code, `${name}: DNS failed (${failures.join('; ')})`);
}

function tryDecode(msg: Buffer, type: number): DnsAnswer | undefined {
  try {
    return decodeAnswer(msg, type);
  } catch {
    return undefined;
  }
}
