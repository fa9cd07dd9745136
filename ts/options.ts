// Runtime checks of the options objects the public API takes. TypeScript already refuses an unknown or mistyped
// key; JavaScript does not, and a misspelt key (`allowedIPs`, wg's spelling) or a wrong type (`uapi: 'false'`)
// would otherwise be dropped or misread without a word. Every public function taking an options object calls
// checkOptions once, first: before it decodes a key, reads a file or touches the native side, so a rejected call
// leaves nothing behind.
//
// Messages name the key by its path (`peers[0].allowedIPs`) and the type found, never the value: a value may be
// a private key.
import type { OpenTunOptions } from './tun/device';
import type { ParseOptions } from './config/parse';
import type { PeerUpdate } from './config/model';
import type { PeerChanges, PeerOptions, Tunnel, TunnelOptions } from './tunnel';
import type { NetstackFromConfigOptions, NetstackTunnelOptions } from './netstack/config';

type Kind = 'string' | 'integer' | 'boolean' | 'buffer' | 'string[]';
type Plain = Kind | `${Kind}|null`;

/** What one key may hold: a kind (`?` = may be absent, `|null` = may be null), one of some strings, or an array of
 * objects of a shape. An absent key and a key set to undefined are the same. */
export type Rule =
  | Plain
  | `${Plain}?`
  | { oneOf: readonly string[]; optional?: boolean }
  | { each: Shape<object>; optional?: boolean };

/** A rule for every key of T, and no other key: the compiler keeps a shape in step with its interface. */
export type Shape<T> = { readonly [K in keyof Required<T>]: Rule };

/**
 * Throws a TypeError when `options` is not an object, has a key `shape` does not know (suggesting the likely
 * spelling) or a value of the wrong type. `api` and `what` name the function and the argument in the message.
 */
export function checkOptions<T>(api: string, options: unknown, shape: Shape<T>, what = 'options'): void {
  if (!isObject(options)) throw new TypeError(`${api}: ${what} must be an object, got ${typeName(options)}`);
  checkShape(api, options, shape as Shape<object>, '');
}

function checkShape(api: string, obj: Record<string, unknown>, shape: Shape<object>, prefix: string): void {
  const known = Object.keys(shape);
  for (const key of Object.keys(obj)) {
    if (!Object.hasOwn(shape, key)) {
      const hint = suggest(key, known);
      throw new TypeError(`${api}: unknown option ${prefix}${key}${hint ? ` (did you mean ${hint}?)` : ''}`);
    }
  }
  for (const key of known) checkValue(api, obj[key], (shape as Record<string, Rule>)[key], `${prefix}${key}`);
}

function checkValue(api: string, value: unknown, rule: Rule, path: string): void {
  if (typeof rule === 'string') {
    const optional = rule.endsWith('?');
    const [kind, nullable] = rule.replace(/\?$/, '').split('|');
    if (value === undefined && optional) return;
    if (value === null && nullable) return;
    if (!isKind(kind as Kind, value, api, path)) throw typeError(api, path, describe(kind as Kind, !!nullable), value);
    return;
  }
  if (value === undefined && rule.optional) return;
  if ('oneOf' in rule) {
    if (typeof value === 'string' && rule.oneOf.includes(value)) return;
    const got = typeof value === 'string' ? `'${value.slice(0, 20)}'` : typeName(value);
    throw new TypeError(`${api}: option ${path} must be ${rule.oneOf.map((v) => `'${v}'`).join(' or ')}, got ${got}`);
  }
  if (!Array.isArray(value)) throw typeError(api, path, 'an array of objects', value);
  value.forEach((item, i) => {
    if (!isObject(item)) throw typeError(api, `${path}[${i}]`, 'an object', item);
    checkShape(api, item, rule.each, `${path}[${i}].`);
  });
}

function isKind(kind: Kind, value: unknown, api: string, path: string): boolean {
  switch (kind) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return Number.isInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'buffer':
      return Buffer.isBuffer(value);
    case 'string[]':
      if (!Array.isArray(value)) return false;
      value.forEach((item, i) => {
        if (typeof item !== 'string') throw typeError(api, `${path}[${i}]`, 'a string', item);
      });
      return true;
  }
}

function describe(kind: Kind, nullable: boolean): string {
  const names: Record<Kind, string> = {
    string: 'a string',
    integer: 'an integer',
    boolean: 'a boolean (true or false)',
    buffer: 'a Buffer',
    'string[]': 'an array of strings',
  };
  return nullable ? `${names[kind]} or null` : names[kind];
}

function typeError(api: string, path: string, expected: string, value: unknown): TypeError {
  return new TypeError(`${api}: option ${path} must be ${expected}, got ${typeName(value)}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number' && !Number.isInteger(v)) return Number.isFinite(v) ? 'a fractional number' : String(v);
  return typeof v;
}

const normalize = (s: string) => s.toLowerCase().replace(/[-_\s]/g, '');

/**
 * The known key `key` was most likely meant to be: the same word in another case or with `_`/`-` (distance 0),
 * a close spelling (one or two edits; one for short keys), or a key that contains it or is contained in it
 * (`keepalive`, `persistent`).
 */
export function suggest(key: string, known: readonly string[]): string | undefined {
  const k = normalize(key);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const c = normalize(candidate);
    let d = editDistance(k, c);
    if (d > 2 && Math.min(k.length, c.length) >= 4 && (c.includes(k) || k.includes(c))) d = 2;
    if (d <= (c.length <= 4 ? 1 : 2) && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Edits (insert, delete, substitute, swap two neighbours) between a and b: the optimal string alignment distance. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

// The public API's shapes. A key added to one of these interfaces fails to compile here until it has a rule.

export const PEER_OPTIONS: Shape<PeerOptions> = {
  publicKey: 'string',
  presharedKey: 'string|null?',
  endpoint: 'string|null?',
  allowedIps: 'string[]?',
  persistentKeepalive: 'integer?',
};

export const PEER_CHANGES: Shape<PeerChanges> = {
  presharedKey: PEER_OPTIONS.presharedKey,
  endpoint: PEER_OPTIONS.endpoint,
  allowedIps: PEER_OPTIONS.allowedIps,
  persistentKeepalive: PEER_OPTIONS.persistentKeepalive,
};

export const TUNNEL_OPTIONS: Shape<TunnelOptions> = {
  name: 'string',
  privateKey: 'string',
  listenPort: 'integer?',
  fwmark: 'integer?',
  mtu: 'integer?',
  addresses: 'string[]?',
  peers: { each: PEER_OPTIONS, optional: true },
  routing: 'boolean?',
  uapi: 'boolean?',
  netstack: 'boolean?',
};

export const FROM_CONFIG_OPTIONS: Shape<Exclude<NonNullable<Parameters<typeof Tunnel.fromConfig>[1]>, NetstackFromConfigOptions>> = {
  name: 'string?',
  routing: TUNNEL_OPTIONS.routing,
  uapi: TUNNEL_OPTIONS.uapi,
  netstack: 'boolean?',
};

/** A rootless tunnel's options: no routing, fwmark or uapi switch (uapiPath serves one where asked). */
export const NETSTACK_TUNNEL_OPTIONS: Shape<NetstackTunnelOptions> = {
  netstack: 'boolean',
  name: 'string?',
  privateKey: 'string',
  addresses: 'string[]',
  dns: 'string[]?',
  dnsSearch: 'string[]?',
  mtu: 'integer?',
  listenPort: 'integer?',
  peers: { each: PEER_OPTIONS, optional: true },
  connectTimeout: 'integer?',
  uapiPath: 'string?',
  tcpEngine: { oneOf: ['tcp2', 'smoltcp'], optional: true },
};

export const NETSTACK_FROM_CONFIG_OPTIONS: Shape<NetstackFromConfigOptions> = {
  netstack: 'boolean',
  name: 'string?',
  connectTimeout: 'integer?',
  uapiPath: 'string?',
  tcpEngine: NETSTACK_TUNNEL_OPTIONS.tcpEngine,
};

export const PARSE_OPTIONS: Shape<ParseOptions> = { file: 'string?', filename: 'string?' };

export const OPEN_TUN_OPTIONS: Shape<OpenTunOptions> = {
  name: 'string?',
  mode: { oneOf: ['tun', 'tap'] },
  mtu: 'integer?',
  persist: 'boolean?',
  owner: 'integer?',
  group: 'integer?',
  packetInfo: 'boolean?',
};

/** configPeer's fields: any part of a PeerUpdate. */
export const PEER_UPDATE_FIELDS: Shape<PeerUpdate> = {
  publicKey: 'buffer?',
  remove: 'boolean?',
  updateOnly: 'boolean?',
  presharedKey: 'buffer|null?',
  endpoint: 'string?',
  persistentKeepalive: 'integer?',
  replaceAllowedIps: 'boolean?',
  allowedIps: 'string[]?',
  removeAllowedIps: 'string[]?',
};
