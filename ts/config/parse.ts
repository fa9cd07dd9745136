// Parses a wg-quick config file into a WgQuickConfig. Pure: no I/O, nothing applied. Every line is checked
// before the caller acts on any of it.
//
// Line handling follows the two readers a file goes through:
// - wg-quick (bash `read -r`): cuts at the first `#`, splits at the first `=`, trims the key and the value; it
//   takes Address/DNS/MTU/... from [Interface] by exact (case-insensitive) key and passes every other line on;
// - wg (config.c): cuts at `#`, deletes ALL whitespace from the line, then matches `Key=` case-insensitively.
// So `Listen Port = 1` is fine (wg) but `Pre Up = x` is not (wg-quick passes it to wg, which refuses it).
import {
  ConfigError,
  emptyConfig,
  ParseResult,
  WG_INTERFACE_KEYS,
  WG_PEER_KEYS,
  WG_QUICK_KEYS,
  WgQuickConfig,
  configPeer,
} from './wgquick';
import { PeerUpdate } from './model';
import * as v from './values';
import { checkOptions, PARSE_OPTIONS } from '../options';

type Section = 'none' | 'interface' | 'peer';

/** The fields a [Peer] section may set (everything else in a PeerUpdate is fixed by setconf semantics). */
type PeerFields = Pick<PeerUpdate, 'presharedKey' | 'endpoint' | 'persistentKeepalive' | 'allowedIps'>;

interface PendingPeer {
  line: number;
  publicKey?: Buffer;
  fields: PeerFields;
}

interface State {
  file?: string;
  config: WgQuickConfig;
  warnings: string[];
  section: Section;
  peer?: PendingPeer;
  /** Public key (base64) → the peer and the line of the [Peer] section that first named it. */
  seen: Map<string, { peer: PeerUpdate; line: number }>;
}

export interface ParseOptions {
  /** Named in errors and warnings. */
  file?: string;
  /** The same as `file` (the name the public API documents). */
  filename?: string;
}

/**
 * Parses the text of a wg-quick file. Throws ConfigError at the first problem; otherwise returns the config,
 * carrying the non-fatal findings as its (non-enumerable) `warnings`.
 * @throws TypeError for an option it does not know or of the wrong type.
 */
export function parseConfig(text: string, options: ParseOptions = {}): ParseResult {
  checkOptions('parseConfig', options, PARSE_OPTIONS);
  const st: State = { file: options.file ?? options.filename, config: emptyConfig(), warnings: [], section: 'none', seen: new Map() };
  // bash `read` drops NUL bytes; so do we, so that line numbers and values agree with wg-quick.
  const lines = text.replace(/\0/g, '').split('\n');
  lines.forEach((raw, i) => parseLine(st, raw, i + 1));
  finishPeer(st);
  return withWarnings(st.config, st.warnings);
}

/** Attached out of sight of comparisons, spreads and JSON (see ParseResult); `config` is a self-alias, kept
 * for callers of the old `{ config, warnings }` shape. */
function withWarnings(config: WgQuickConfig, warnings: string[]): ParseResult {
  return Object.defineProperties(config, { warnings: { value: warnings }, config: { value: config } }) as ParseResult;
}

const SPACE = /^[\s]+|[\s]+$/g;

function parseLine(st: State, raw: string, line: number): void {
  const stripped = raw.split('#')[0];
  const trimmed = stripped.replace(SPACE, '');
  if (trimmed === '') return;
  if (trimmed.startsWith('[')) return enterSection(st, trimmed, line);
  const eq = stripped.indexOf('=');
  if (eq < 0) {
    throw new ConfigError(`line ${line} has no "=": expected "Key = Value" or a [Section] header`, { file: st.file, line });
  }
  const key = stripped.slice(0, eq).replace(SPACE, '');
  const value = stripped.slice(eq + 1).replace(SPACE, '');
  if (st.section === 'none') {
    throw new ConfigError(`${key} on line ${line} is outside a section: put it under [Interface] or [Peer]`, {
      file: st.file,
      line,
      key,
    });
  }
  const quickKey = match(WG_QUICK_KEYS, key);
  if (quickKey && st.section === 'interface') return setQuickKey(st, quickKey, value, line);
  // Everything else goes to wg, which ignores all whitespace inside the line.
  const wgKey = key.replace(/\s+/g, '');
  const wgValue = value.replace(/\s+/g, '');
  if (st.section === 'interface') {
    const k = match(WG_INTERFACE_KEYS, wgKey);
    if (k) return setInterfaceKey(st, k, wgValue, line);
  } else {
    const k = match(WG_PEER_KEYS, wgKey);
    if (k) return setPeerKey(st, k, wgValue, line);
  }
  throw unknownKey(st, key, quickKey, line);
}

function match(keys: string[], key: string): string | undefined {
  return keys.find((k) => k.toLowerCase() === key.toLowerCase());
}

/**
 * What of an unknown key may be shown. A base64 key ends in `=`, so `PrivateKey <key>` (a forgotten `=`)
 * arrives here with the secret inside the "key": show the first word only, and never anything key-like.
 */
function displayKey(key: string): string {
  const word = key.split(/\s+/)[0];
  return /[A-Za-z0-9+/]{20,}/.test(word) ? '(a value that looks like a key)' : word;
}

function unknownKey(st: State, rawKey: string, quickKey: string | undefined, line: number): ConfigError {
  const key = displayKey(rawKey);
  const where = { file: st.file, line, key };
  if (key !== rawKey && (match(WG_QUICK_KEYS, key) || match(WG_INTERFACE_KEYS, key) || match(WG_PEER_KEYS, key))) {
    return new ConfigError(`line ${line} has no "=" after ${key}: expected "${key} = value"`, where);
  }
  if (quickKey) return new ConfigError(`${quickKey} on line ${line} belongs in [Interface], not [Peer]`, where);
  if (st.section === 'peer' && match(WG_INTERFACE_KEYS, key)) {
    return new ConfigError(`${key} on line ${line} belongs in [Interface], not [Peer]`, where);
  }
  if (st.section === 'interface' && match(WG_PEER_KEYS, key)) {
    return new ConfigError(`${key} on line ${line} belongs in [Peer], not [Interface]`, where);
  }
  const known = st.section === 'interface' ? [...WG_INTERFACE_KEYS, ...WG_QUICK_KEYS] : WG_PEER_KEYS;
  const section = st.section === 'interface' ? '[Interface]' : '[Peer]';
  return new ConfigError(`unknown key "${key}" on line ${line} in ${section}; expected one of ${known.join(', ')}`, where);
}

function enterSection(st: State, header: string, line: number): void {
  finishPeer(st);
  const lower = header.toLowerCase();
  if (lower === '[interface]') {
    st.section = 'interface';
  } else if (lower === '[peer]') {
    st.section = 'peer';
    st.peer = { line, fields: { allowedIps: [] } };
  } else {
    throw new ConfigError(`unknown section ${header} on line ${line}; expected [Interface] or [Peer]`, {
      file: st.file,
      line,
      key: header,
    });
  }
}

function setQuickKey(st: State, key: string, value: string, line: number): void {
  const c = st.config;
  const where = { file: st.file, line, key };
  switch (key) {
    case 'Address':
      c.addresses.push(...v.parseAddresses(value, where));
      return;
    case 'DNS': {
      const { servers, search } = v.parseDns(value, where);
      c.dns.push(...servers);
      c.dnsSearch.push(...search);
      return;
    }
    case 'MTU':
      c.mtu = v.parseMtu(value, where);
      return;
    case 'Table':
      c.table = v.parseTable(value, where);
      return;
    case 'SaveConfig':
      c.saveConfig = v.parseBool(value, where);
      return;
    default:
      hooksOf(c, key).push(value);
  }
}

function hooksOf(c: WgQuickConfig, key: string): string[] {
  if (key === 'PreUp') return c.preUp;
  if (key === 'PostUp') return c.postUp;
  if (key === 'PreDown') return c.preDown;
  return c.postDown;
}

function setInterfaceKey(st: State, key: string, value: string, line: number): void {
  const d = st.config.device;
  const where = { file: st.file, line, key };
  if (key === 'PrivateKey') d.privateKey = v.parseKey(value, where);
  else if (key === 'ListenPort') d.listenPort = v.parsePort(value, where);
  else d.fwmark = v.parseFwmark(value, where);
}

function setPeerKey(st: State, key: string, value: string, line: number): void {
  const p = st.peer as PendingPeer;
  const where = { file: st.file, line, key };
  switch (key) {
    case 'PublicKey':
      p.publicKey = v.parseKey(value, where);
      return;
    case 'PresharedKey':
      p.fields.presharedKey = v.parseKey(value, where);
      return;
    case 'AllowedIPs':
      p.fields.allowedIps.push(...v.parseAllowedIps(value, where));
      return;
    case 'Endpoint':
      p.fields.endpoint = v.parseEndpoint(value, where);
      return;
    default:
      p.fields.persistentKeepalive = v.parseKeepalive(value, where);
  }
}

/**
 * Ends the current [Peer] section. A public key seen before updates that peer as `wg setconf` would: the
 * fields given here override, and this section's AllowedIPs replace the earlier list (wg sends every [Peer]
 * with replace-allowed-ips).
 */
function finishPeer(st: State): void {
  const p = st.peer;
  st.peer = undefined;
  if (!p) return;
  if (!p.publicKey) {
    throw new ConfigError(`the [Peer] section on line ${p.line} has no PublicKey`, {
      file: st.file,
      line: p.line,
      key: 'PublicKey',
    });
  }
  const name = p.publicKey.toString('base64');
  const first = st.seen.get(name);
  if (first === undefined) {
    const peer = configPeer(p.publicKey, p.fields);
    st.seen.set(name, { peer, line: p.line });
    st.config.device.peers.push(peer);
    return;
  }
  const prefix = st.file ? `${st.file}:${p.line}` : `line ${p.line}`;
  st.warnings.push(
    `${prefix}: peer ${name} was already defined on line ${first.line}; this section updates it ` +
      `(its AllowedIPs replace the earlier ones), as wg setconf does`,
  );
  const { allowedIps, ...given } = p.fields;
  for (const [k, val] of Object.entries(given)) {
    if (val !== undefined) (first.peer as unknown as Record<string, unknown>)[k] = val;
  }
  first.peer.allowedIps = allowedIps;
}
