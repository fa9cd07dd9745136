// The `wg set` grammar turned into a UAPI set body. Everything (key files, host names) is read and checked before
// the body exists, so a bad argument means nothing is applied. Values are checked as wg(8)'s config.c checks them;
// messages name the argument and never contain key material.
import { promises as fs } from 'node:fs';
import { resolveEndpoint } from '../endpoint';
import { canonicalCidr, maskCidr, parseCidr } from '../config/ip';
import { DeviceUpdate, emptyDeviceUpdate, emptyPeerUpdate, isZeroKey, PeerUpdate } from '../config/model';
import { formatSet } from '../uapi/codec';

export class ArgError extends Error {}

/** A 32-byte key in canonical base64 (wg's key_from_base64 refuses stray low bits in the last character). */
export function keyFromBase64(text: string): Buffer | undefined {
  return /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(text) ? Buffer.from(text, 'base64') : undefined;
}

/** A file name fit for a message: someone who pasted the key itself where the file name goes must not see it
 * echoed into a terminal or CI log (wg does not echo it either). */
function shownPath(path: string): string {
  return /^[A-Za-z0-9+/]{42,43}=?$|^[0-9a-fA-F]{64}$/.test(path) ? '(not a file name: a key? give a file holding the key)' : path;
}

/** A key file as wg reads it: empty means "remove the key" (all zeros), else 44 characters and only whitespace. */
export async function readKeyFile(path: string, what: string): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await fs.readFile(path);
  } catch (err) {
    throw new ArgError(`${what} ${shownPath(path)}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (data.length === 0) return Buffer.alloc(32);
  const text = data.toString('latin1');
  const file = shownPath(path);
  if (text.length < 44 || text.slice(44).trim() !== '') throw new ArgError(`${what} ${file}: expected one base64 key (44 characters) and nothing else`);
  const key = keyFromBase64(text.slice(0, 44));
  if (!key) throw new ArgError(`${what} ${file}: not a valid base64 WireGuard key`);
  return key;
}

export function parsePortArg(v: string): number {
  if (!/^[0-9]+$/.test(v) || Number(v) > 65535) throw new ArgError(`listen-port: expected a port number 0-65535, got \`${v}'`);
  return Number(v);
}

/** wg's parse_fwmark: off, decimal, or 0x-hex, at most 32 bits. */
export function parseFwmarkArg(v: string): number {
  if (v.toLowerCase() === 'off') return 0;
  const hex = /^0x[0-9a-fA-F]+$/.test(v);
  const n = hex ? parseInt(v.slice(2), 16) : /^[0-9]+$/.test(v) ? Number(v) : NaN;
  if (!(n <= 0xffffffff)) throw new ArgError(`fwmark: expected 0/off or 0-0xffffffff, got \`${v}'`);
  return n;
}

export function parseKeepaliveArg(v: string): number {
  if (v.toLowerCase() === 'off') return 0;
  if (!/^[0-9]+$/.test(v) || Number(v) > 65535) throw new ArgError(`persistent-keepalive: expected off or 0-65535 seconds, got \`${v}'`);
  return Number(v);
}

export interface AllowedIpsArg {
  /** false once any entry has a + or - prefix: the list is then a change, not a replacement. */
  replace: boolean;
  add: string[];
  remove: string[];
  warnings: string[];
}

/** `allowed-ips a/b,c/d` (spaces ignored); `+x` adds and `-x` removes without replacing the list. */
export function parseAllowedIpsArg(value: string): AllowedIpsArg {
  const out: AllowedIpsArg = { replace: true, add: [], remove: [], warnings: [] };
  const text = value.replace(/\s+/g, '');
  if (text === '') return out;
  for (const raw of text.split(',')) {
    const sign = raw[0] === '+' || raw[0] === '-' ? raw[0] : '';
    const entry = raw.slice(sign.length);
    const c = parseCidr(entry);
    if (!c) throw new ArgError(`allowed-ips: \`${raw}' is not an IPv4 or IPv6 address with an optional /prefix`);
    if (sign) out.replace = false;
    if (maskCidr(c).bytes.some((b, i) => b !== c.bytes[i])) {
      out.warnings.push(`Warning: AllowedIP has nonzero host part: ${entry}`);
    }
    (sign === '-' ? out.remove : out.add).push(canonicalCidr(c));
  }
  return out;
}

/** A later allowed-ips on the same peer appends, as wg's parser does; a plain list makes the whole set a replace. */
function addAllowed(peer: PeerUpdate, arg: AllowedIpsArg): void {
  peer.replaceAllowedIps = arg.replace;
  peer.allowedIps.push(...arg.add);
  peer.removeAllowedIps.push(...arg.remove);
}

/** An all-zero key (an empty key file) removes the key. */
const keyOrNull = (k: Buffer): Buffer | null => (isZeroKey(k) ? null : k);

/** Parses everything after `set IF`; resolves key files and host names. Throws ArgError. */
export async function parseSetArgs(argv: string[], warn: (w: string) => void): Promise<DeviceUpdate> {
  const out = emptyDeviceUpdate();
  let peer: PeerUpdate | undefined;
  for (let i = 0; i < argv.length; ) {
    const word = argv[i];
    const value = argv[i + 1];
    if (word === 'remove' && peer) {
      peer.remove = true;
      i += 1;
      continue;
    }
    if (value === undefined) throw new ArgError(`\`${word}' ${KNOWN.has(word) ? 'needs a value' : 'is not a valid argument here'}`);
    if (word === 'peer') {
      const publicKey = keyFromBase64(value);
      if (!publicKey) throw new ArgError(`peer: \`${value}' is not a base64 WireGuard public key`);
      peer = emptyPeerUpdate(publicKey);
      out.peers.push(peer);
    } else if (!peer && word === 'listen-port') out.listenPort = parsePortArg(value);
    else if (!peer && word === 'fwmark') out.fwmark = parseFwmarkArg(value);
    else if (!peer && word === 'private-key') out.privateKey = keyOrNull(await readKeyFile(value, 'private-key'));
    else if (peer && word === 'preshared-key') peer.presharedKey = keyOrNull(await readKeyFile(value, 'preshared-key'));
    else if (peer && word === 'endpoint') peer.endpoint = await endpointArg(value);
    else if (peer && word === 'persistent-keepalive') peer.persistentKeepalive = parseKeepaliveArg(value);
    else if (peer && word === 'allowed-ips') {
      const arg = parseAllowedIpsArg(value);
      arg.warnings.forEach(warn);
      addAllowed(peer, arg);
    } else throw new ArgError(misplaced(word, Boolean(peer)));
    i += 2;
  }
  return out;
}

const DEVICE_WORDS = new Set(['listen-port', 'fwmark', 'private-key']);
const PEER_WORDS = new Set(['remove', 'preshared-key', 'endpoint', 'persistent-keepalive', 'allowed-ips']);
const KNOWN = new Set([...DEVICE_WORDS, ...PEER_WORDS, 'peer']);

function misplaced(word: string, inPeer: boolean): string {
  if (inPeer && DEVICE_WORDS.has(word)) return `\`${word}' belongs to the interface: put it before the first \`peer'`;
  if (!inPeer && PEER_WORDS.has(word)) return `\`${word}' applies to a peer: put it after \`peer <public-key>'`;
  return `unknown argument \`${word}'`;
}

async function endpointArg(value: string): Promise<string> {
  try {
    return await resolveEndpoint(value);
  } catch (err) {
    throw new ArgError(`endpoint: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The UAPI set body for parsed arguments, in the order wg writes it. */
export function setBody(update: DeviceUpdate): string {
  return formatSet(update);
}
