// What a wireproxy-format file means beyond wg-quick's syntax, in its wg-quick part (inline, or the file a
// root `WGConfig =` names) and its listener sections:
// - a value that starts with `$` is read from the environment (`$$` at the start stands for a literal `$`),
//   for the keys wireproxy reads that way, so keys and passwords can stay out of the file;
// - a [Peer] without AllowedIPs routes everything (0.0.0.0/0 and ::/0), where wg-quick would give it nothing;
// - the values wireproxy reads are read as its INI library reads them: an inline comment starts at the first
//   `#` or `;`, and one pair of surrounding quotes is dropped.
// A plain wg-quick file given to `wiretun proxy` keeps wg-quick's meaning: none of this applies to it.
import { ConfigError, ParseResult } from '../config/wgquick';
import { parseConfig } from '../config/parse';

export type Env = Record<string, string | undefined>;

/** The keys wireproxy reads through its `$VAR` lookup, by section (lowercase). PresharedKey is ours too: a
 * secret like PrivateKey, and a `$` there could never be a valid key in wireproxy either. */
const ENV_KEYS: Record<string, ReadonlySet<string>> = {
  interface: new Set(['address', 'privatekey', 'dns', 'checkalive']),
  peer: new Set(['publickey', 'allowedips', 'presharedkey']),
  // [Resolve]'s one key is read the same way, so it is listed with the listener sections' keys.
  listener: new Set(['bindaddress', 'target', 'username', 'password', 'certfile', 'keyfile', 'resolvestrategy']),
};

/** Whether `key` (any case) of `section` ('interface', 'peer', or a listener section) takes `$VAR`. */
export function takesEnv(section: string, key: string): boolean {
  const set = ENV_KEYS[section === 'interface' || section === 'peer' ? section : 'listener'];
  return set.has(key.toLowerCase());
}

/**
 * `value`, or what its `$NAME` refers to: `$$rest` is `$rest`; an unset variable is an error naming the
 * file:line, the key and the variable, never a value.
 */
export function expandValue(value: string, where: { file: string; line: number; key: string }, env: Env): string {
  if (!value.startsWith('$')) return value;
  if (value.startsWith('$$')) return value.slice(1);
  const name = value.slice(1);
  const found = Object.hasOwn(env, name) ? env[name] : undefined;
  if (found === undefined) throw new ConfigError(`${where.key}: environment variable ${JSON.stringify(name)} is not set`, where);
  return found;
}

/** The [Interface] and [Peer] keys wireproxy reads (lowercase), in the inline part or a WGConfig file alike;
 * the rest of a wg-quick file (PostUp, Table...) it ignores, and they keep wg-quick's syntax here. */
const WIREPROXY_WG_KEYS: Record<string, ReadonlySet<string>> = {
  interface: new Set(['address', 'privatekey', 'dns', 'mtu', 'listenport', 'checkalive', 'checkaliveinterval']),
  peer: new Set(['publickey', 'presharedkey', 'endpoint', 'persistentkeepalive', 'allowedips']),
};

/** Whether wireproxy reads `key` (any case) in `section` ('interface' or 'peer'). */
export function wireproxyReads(section: string, key: string): boolean {
  return Object.hasOwn(WIREPROXY_WG_KEYS, section) && WIREPROXY_WG_KEYS[section].has(key.toLowerCase());
}

/**
 * A value as wireproxy's INI library (go-ini) reads it: whole when quoted with backticks or triple double
 * quotes; otherwise cut at the first `#` or `;` (an inline comment, as in its README's own samples) and
 * trimmed, then one pair of surrounding `"` or `'` dropped.
 */
export function iniValue(raw: string): string {
  const v = raw.trim();
  for (const q of ['"""', '`']) {
    const end = v.startsWith(q) ? v.indexOf(q, q.length) : -1;
    if (end > 0) return v.slice(q.length, end);
  }
  const cut = v.search(/[#;]/);
  const bare = (cut < 0 ? v : v.slice(0, cut)).trim();
  const quoted = bare.length >= 2 && (bare[0] === '"' || bare[0] === "'") && bare.endsWith(bare[0]);
  return quoted ? bare.slice(1, -1) : bare;
}

/**
 * The wg-quick part with the values wireproxy reads read as it reads them (iniValue, `$VAR`), line for line
 * (so errors keep their line numbers); `;` comment lines are blank. A variable's value may not hold what
 * would change how the line is read (a line break or a `#`).
 */
export function expandWgText(text: string, file: string, env: Env): string {
  let section = '';
  return text.split('\n').map((raw, i) => {
    const line = i + 1;
    if (raw.trimStart().startsWith(';')) return '';
    const header = /^\s*\[([^\]]*)\]\s*(?:[#;].*)?$/.exec(raw);
    if (header) {
      section = header[1].trim().toLowerCase();
      return `[${header[1].trim()}]`;
    }
    const eq = raw.indexOf('=');
    const key = raw.slice(0, Math.max(eq, 0)).replace(/\s+/g, '');
    if (eq < 0 || !wireproxyReads(section, key)) return raw;
    const value = iniValue(raw.slice(eq + 1));
    if (!value.startsWith('$') || !takesEnv(section, key)) return `${key} = ${value}`;
    const expanded = expandValue(value, { file, line, key }, env);
    if (/[\r\n#\0]/.test(expanded)) {
      throw new ConfigError(`${key}: environment variable ${value.slice(1)} holds a line break or "#", which a config value cannot`, { file, line, key });
    }
    return `${key} = ${expanded}`;
  }).join('\n');
}

/** What wireproxy gives a [Peer] that names no AllowedIPs: every address. */
export const DEFAULT_ALLOWED_IPS = ['0.0.0.0/0', '::/0'];

/** Parses the wg-quick part of a wireproxy config: `$VAR` values read from `env`, and a peer without
 * AllowedIPs given everything. */
export function parseWireproxyWg(text: string, file: string, env: Env = process.env): ParseResult {
  const config = parseConfig(expandWgText(text, file, env), { file });
  for (const peer of config.device.peers) {
    if (peer.allowedIps.length === 0) peer.allowedIps = [...DEFAULT_ALLOWED_IPS];
  }
  return config;
}
