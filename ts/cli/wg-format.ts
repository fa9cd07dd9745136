// Text output of `wiretun show` / `showconf`, byte for byte what wg(8) prints for the same device (wireguard-tools
// show.c / showconf.c behaviour). Pure: the caller supplies the device, its public key and the clock, so unit tests
// need neither a daemon nor the native addon.
import { DeviceState, PeerState } from '../uapi/codec';

/** A device as `show` sees it: the UAPI state plus what wg derives from it. */
export interface ShownDevice {
  name: string;
  state: DeviceState;
  /** Derived from the private key (wg does the same); undefined when there is no private key. */
  publicKey?: Buffer;
}

const ESC = {
  reset: '\x1b[0m',
  bold: '\x1b[1m',
  red: '\x1b[31m',
  green: '\x1b[32m',
  yellow: '\x1b[33m',
  cyan: '\x1b[36m',
};

/** wg's terminal_printf: the coloured text, or the same text with every escape sequence removed. */
export type Paint = (text: string) => string;
export const withColour: Paint = (t) => t;
export const noColour: Paint = (t) => t.replace(/\x1b\[[^A-Za-z]*[A-Za-z]?/g, '');

/** WG_COLOR_MODE: always | never | anything else = colour only on a TTY. */
export function paintFor(env: NodeJS.ProcessEnv, isTty: boolean): Paint {
  const mode = env.WG_COLOR_MODE;
  if (mode === 'always') return withColour;
  if (mode === 'never') return noColour;
  return isTty ? withColour : noColour;
}

const b64 = (key: Buffer) => key.toString('base64');
const maybeKey = (key: Buffer | null | undefined) => (key ? b64(key) : '(none)');
const plural = (n: number) => (n === 1 ? '' : 's');

/** "1 day, 2 hours, 3 seconds"; units that are zero are skipped, and zero seconds give "". */
export function prettyTime(seconds: number): string {
  const units: [string, number][] = [
    ['year', 365 * 24 * 3600],
    ['day', 24 * 3600],
    ['hour', 3600],
    ['minute', 60],
    ['second', 1],
  ];
  let left = seconds;
  const parts: string[] = [];
  for (const [name, size] of units) {
    const n = Math.floor(left / size);
    left %= size;
    if (n) parts.push(`${n} ${ESC.cyan}${name}${plural(n)}${ESC.reset}`);
  }
  return parts.join(', ');
}

function ago(sec: number, nowSec: number): string {
  if (nowSec === sec) return 'Now';
  if (nowSec < sec) return `(${ESC.red}System clock wound backward; connection problems may ensue.${ESC.reset})`;
  return `${prettyTime(nowSec - sec)} ago`;
}

/**
 * printf("%.2f", n / 2^shift) exactly: glibc rounds the exact binary value half to even, where toFixed would
 * round half up (1152 bytes is 1.125 KiB, which wg prints as 1.12).
 */
export function fixed2(n: bigint, shift: bigint): string {
  const denom = 1n << shift;
  const scaled = n * 100n;
  let q = scaled / denom;
  const twice = (scaled % denom) * 2n;
  if (twice > denom || (twice === denom && q % 2n === 1n)) q += 1n;
  const s = q.toString().padStart(3, '0');
  return `${s.slice(0, -2)}.${s.slice(-2)}`;
}

export function bytes(b: number): string {
  const n = BigInt(b);
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  if (n < 1024n) return `${n} ${ESC.cyan}B${ESC.reset}`;
  for (let i = 0; i < 3; i++) {
    if (n < 1n << BigInt(20 + 10 * i)) return `${fixed2(n, BigInt(10 + 10 * i))} ${ESC.cyan}${units[i]}${ESC.reset}`;
  }
  return `${fixed2(n, 40n)} ${ESC.cyan}TiB${ESC.reset}`;
}

/** Private and preshared keys stay "(hidden)" in the pretty output unless WG_HIDE_KEYS=never. */
function masked(key: Buffer, env: NodeJS.ProcessEnv): string {
  return env.WG_HIDE_KEYS === 'never' ? b64(key) : '(hidden)';
}

const hasHandshake = (p: PeerState) => p.lastHandshakeSec !== 0 || p.lastHandshakeNsec !== 0;

/** wg's peer order for the pretty output: most recent handshake first, peers without one last (stable). */
export function sortPeers(peers: PeerState[]): PeerState[] {
  return [...peers].sort((a, b) => {
    if (hasHandshake(a) !== hasHandshake(b)) return hasHandshake(a) ? -1 : 1;
    return b.lastHandshakeSec - a.lastHandshakeSec || b.lastHandshakeNsec - a.lastHandshakeNsec;
  });
}

const field = (name: string, value: string) => `  ${ESC.bold}${name}${ESC.reset}: ${value}\n`;

function allowedIpsPretty(ips: string[]): string {
  if (ips.length === 0) return '(none)';
  return ips.map((ip) => ip.replace('/', `${ESC.cyan}/${ESC.reset}`)).join(', ');
}

function peerPretty(p: PeerState, nowSec: number, env: NodeJS.ProcessEnv): string {
  let out = `${ESC.yellow}${ESC.bold}peer${ESC.reset}: ${ESC.yellow}${b64(p.publicKey)}${ESC.reset}\n`;
  if (p.presharedKey) out += field('preshared key', masked(p.presharedKey, env));
  if (p.endpoint) out += field('endpoint', p.endpoint);
  out += field('allowed ips', allowedIpsPretty(p.allowedIps));
  if (p.lastHandshakeSec) out += field('latest handshake', ago(p.lastHandshakeSec, nowSec));
  if (p.rxBytes || p.txBytes) out += field('transfer', `${bytes(p.rxBytes)} received, ${bytes(p.txBytes)} sent`);
  if (p.persistentKeepalive) out += field('persistent keepalive', `every ${prettyTime(p.persistentKeepalive)}`);
  return out;
}

/** `wg show IF` (coloured; pass the result through a Paint). */
export function formatPretty(d: ShownDevice, nowSec: number, env: NodeJS.ProcessEnv = {}): string {
  const s = d.state;
  let out = `${ESC.reset}${ESC.green}${ESC.bold}interface${ESC.reset}: ${ESC.green}${d.name}${ESC.reset}\n`;
  if (d.publicKey) out += field('public key', b64(d.publicKey));
  if (s.privateKey) out += field('private key', masked(s.privateKey, env));
  if (s.listenPort) out += field('listening port', String(s.listenPort));
  if (s.fwmark) out += field('fwmark', `0x${s.fwmark.toString(16)}`);
  if (s.peers.length) out += '\n';
  out += sortPeers(s.peers)
    .map((p) => peerPretty(p, nowSec, env))
    .join('\n');
  return out;
}

const fwmarkText = (m: number) => (m ? `0x${m.toString(16)}` : 'off');

function dumpPeer(p: PeerState): string {
  return [
    b64(p.publicKey),
    maybeKey(p.presharedKey),
    p.endpoint || '(none)',
    p.allowedIps.length ? p.allowedIps.join(',') : '(none)',
    p.lastHandshakeSec,
    p.rxBytes,
    p.txBytes,
    p.persistentKeepalive || 'off',
  ].join('\t');
}

/** The script-friendly fields of `wg show IF FIELD`; undefined for an unknown field. */
export const FIELDS = [
  'public-key',
  'private-key',
  'listen-port',
  'fwmark',
  'peers',
  'preshared-keys',
  'endpoints',
  'allowed-ips',
  'latest-handshakes',
  'persistent-keepalive',
  'transfer',
  'dump',
] as const;
export type Field = (typeof FIELDS)[number];

function deviceLines(d: ShownDevice, f: Field): string[] | undefined {
  const s = d.state;
  if (f === 'public-key') return [maybeKey(d.publicKey)];
  if (f === 'private-key') return [maybeKey(s.privateKey)];
  if (f === 'listen-port') return [String(s.listenPort)];
  if (f === 'fwmark') return [fwmarkText(s.fwmark)];
  if (f === 'dump') return [[maybeKey(s.privateKey), maybeKey(d.publicKey), s.listenPort, fwmarkText(s.fwmark)].join('\t')];
  return undefined;
}

function peerLine(p: PeerState, f: Field): string {
  const key = b64(p.publicKey);
  if (f === 'peers') return key;
  if (f === 'preshared-keys') return `${key}\t${maybeKey(p.presharedKey)}`;
  if (f === 'endpoints') return `${key}\t${p.endpoint || '(none)'}`;
  if (f === 'allowed-ips') return `${key}\t${p.allowedIps.length ? p.allowedIps.join(' ') : '(none)'}`;
  if (f === 'latest-handshakes') return `${key}\t${p.lastHandshakeSec}`;
  if (f === 'transfer') return `${key}\t${p.rxBytes}\t${p.txBytes}`;
  if (f === 'persistent-keepalive') return `${key}\t${p.persistentKeepalive || 'off'}`;
  return dumpPeer(p);
}

/** `wg show IF FIELD`, or with `withName` (`wg show all FIELD`) each line prefixed by the interface name. */
export function formatField(d: ShownDevice, f: Field, withName: boolean): string {
  const head = deviceLines(d, f);
  const lines = head && f !== 'dump' ? head : [...(head ?? []), ...d.state.peers.map((p) => peerLine(p, f))];
  const prefix = withName ? `${d.name}\t` : '';
  return lines.map((l) => `${prefix}${l}\n`).join('');
}

/** `wg showconf IF`. */
export function formatShowconf(d: ShownDevice): string {
  const s = d.state;
  let out = '[Interface]\n';
  if (s.listenPort) out += `ListenPort = ${s.listenPort}\n`;
  if (s.fwmark) out += `FwMark = 0x${s.fwmark.toString(16)}\n`;
  if (s.privateKey) out += `PrivateKey = ${b64(s.privateKey)}\n`;
  // wg ends [Interface] with a blank line even when no peer follows, and separates peers by one.
  const peers = s.peers.map((p) => {
    let text = `[Peer]\nPublicKey = ${b64(p.publicKey)}\n`;
    if (p.presharedKey) text += `PresharedKey = ${b64(p.presharedKey)}\n`;
    if (p.allowedIps.length) text += `AllowedIPs = ${p.allowedIps.join(', ')}\n`;
    if (p.endpoint) text += `Endpoint = ${p.endpoint}\n`;
    if (p.persistentKeepalive) text += `PersistentKeepalive = ${p.persistentKeepalive}\n`;
    return text;
  });
  return `${out}\n${peers.join('\n')}`;
}
