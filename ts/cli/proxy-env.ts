// What a wireproxy-format file means beyond wg-quick's syntax, in its wg-quick part (inline, or the file a
// root `WGConfig =` names) and its listener sections:
// - a value that starts with `$` is read from the environment (`$$` at the start stands for a literal `$`),
//   for the keys wireproxy reads that way, so keys and passwords can stay out of the file;
// - a [Peer] without AllowedIPs routes everything (0.0.0.0/0 and ::/0), where wg-quick would give it nothing.
// A plain wg-quick file given to `wiretun proxy` keeps wg-quick's meaning: none of this applies to it.
import { ConfigError, ParseResult } from '../config/wgquick';
import { parseConfig } from '../config/parse';

export type Env = Record<string, string | undefined>;

/** The keys wireproxy reads through its `$VAR` lookup, by section (lowercase). PresharedKey is ours too: a
 * secret like PrivateKey, and a `$` there could never be a valid key in wireproxy either. */
const ENV_KEYS: Record<string, ReadonlySet<string>> = {
  interface: new Set(['address', 'privatekey', 'dns', 'checkalive']),
  peer: new Set(['publickey', 'allowedips', 'presharedkey']),
  listener: new Set(['bindaddress', 'target', 'username', 'password']),
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

/**
 * The wg-quick part with its `$VAR` values put in place, line for line (so errors keep their line numbers).
 * A variable's value may not hold what would change how the line is read (a line break or a `#`).
 */
export function expandWgText(text: string, file: string, env: Env): string {
  let section = '';
  return text.split('\n').map((raw, i) => {
    const line = i + 1;
    const code = raw.split('#')[0];
    const header = /^\s*\[([^\]]*)\]\s*$/.exec(code);
    if (header) {
      section = header[1].trim().toLowerCase();
      return raw;
    }
    const eq = code.indexOf('=');
    if (eq < 0 || (section !== 'interface' && section !== 'peer')) return raw;
    const key = code.slice(0, eq).replace(/\s+/g, '');
    const value = code.slice(eq + 1).trim();
    if (!value.startsWith('$') || !takesEnv(section, key)) return raw;
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
