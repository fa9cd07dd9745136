// The TypeScript fuzz targets and what each must never do. (The UAPI server half, the set parser and the socket
// server, is native: cargo-fuzz targets uapi and uapi-server, crates/wiretun-core/src/fuzzing/uapi.rs.)
// - uapi-client: parseGet on any text returns a model or throws a UapiError (EPROTO, or the reply's own errno if
//   it is a non-zero int32), never anything else, never a key value in the message.
// - config: parseConfig returns a config or throws a ConfigError naming the file and a line of it, never a
//   key value; an accepted config formats and re-parses to the same model.
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { formatConfig } from '../../ts/config/format';
import { parseConfig } from '../../ts/config/parse';
import { DeviceState } from '../../ts/config/model';
import { ConfigError, WG_INTERFACE_KEYS, WG_PEER_KEYS, WG_QUICK_KEYS } from '../../ts/config/wgquick';
import { formatSet, parseGet, UapiError } from '../../ts/uapi/codec';
import { Target } from './engine';
import { cidrText, deviceState, deviceUpdate, key, uapiEndpoint, wgQuickConfig } from './models';

class Finding extends Error {}

function fail(what: string, cause?: unknown): never {
  throw new Finding(what, { cause });
}

const junk = fc.string({ unit: 'binary', maxLength: 24 });
const number = fc.oneof(fc.nat(70000).map(String), fc.constantFrom('-1', '4294967296', '0x10', '00', ''));

/** Secret values in `key<sep>value` lines that appear nowhere else in the input (a message may quote a line
 * the user pasted a key into; that line is not a key field). */
function secrets(input: string, secretKey: RegExp, sep: string): string[] {
  const lines = input.split('\n');
  const field = (l: string) => {
    const i = l.indexOf(sep);
    return i < 0 ? undefined : { key: l.slice(0, i).replace(/\s+/g, ''), value: l.slice(i + 1).replace(/\s+/g, '') };
  };
  const isSecret = (l: string) => {
    const f = field(l);
    return f !== undefined && secretKey.test(f.key);
  };
  const rest = lines.filter((l) => !isSecret(l)).join('\n');
  return lines
    .filter(isSecret)
    .map((l) => field(l)!.value)
    .filter((v) => v.length >= 16 && !rest.includes(v));
}

function noSecrets(text: string, values: string[], where: string): void {
  for (const v of values) if (text.includes(v)) fail(`${where} contains a secret key value: ${text.slice(0, 200)}`);
}

/** A get reply's errno is the other side's, passed on as any non-zero int32 (ours, EPROTO, is negative). */
const theirs = (errno: number) => Number.isInteger(errno) && errno !== 0 && Math.abs(errno) <= 0x7fffffff;

/** Runs a parser that may only fail with a UapiError whose errno passes `valid`. */
function cleanUapi<T>(parse: () => T, secretValues: string[], valid: (errno: number) => boolean): T | undefined {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof UapiError)) fail('not a UapiError', err);
    if (!valid(err.errno)) fail(`a UapiError with errno ${err.errno}`, err);
    noSecrets(err.message, secretValues, 'a UapiError message');
    return undefined;
  }
}

/** A get reply as wireguard-go writes one, to start the fuzzer from replies that get deep into parseGet (the
 * server's own writer is native; props-uapi checks parseGet against it). */
function getReply(s: DeviceState): string {
  const hex = (k: Buffer | null | undefined) => (k ?? Buffer.alloc(32)).toString('hex');
  const lines = [s.privateKey ? `private_key=${hex(s.privateKey)}` : '', s.listenPort ? `listen_port=${s.listenPort}` : ''];
  if (s.fwmark) lines.push(`fwmark=${s.fwmark}`);
  for (const p of s.peers) {
    lines.push(`public_key=${hex(p.publicKey)}`, `preshared_key=${hex(p.presharedKey)}`, 'protocol_version=1');
    if (p.endpoint) lines.push(`endpoint=${p.endpoint}`);
    lines.push(`last_handshake_time_sec=${p.lastHandshakeSec}`, `last_handshake_time_nsec=${p.lastHandshakeNsec}`);
    lines.push(`tx_bytes=${p.txBytes}`, `rx_bytes=${p.rxBytes}`, `persistent_keepalive_interval=${p.persistentKeepalive}`);
    lines.push(...p.allowedIps.map((ip) => `allowed_ip=${ip}`));
  }
  return `${lines.filter(Boolean).join('\n')}\nerrno=0\n\n`;
}

const UAPI_KEYS = [
  'private_key', 'listen_port', 'fwmark', 'replace_peers', 'public_key', 'remove', 'update_only', 'preshared_key',
  'endpoint', 'persistent_keepalive_interval', 'replace_allowed_ips', 'allowed_ip', 'protocol_version',
  'last_handshake_time_sec', 'last_handshake_time_nsec', 'rx_bytes', 'tx_bytes', 'errno', 'get', 'set',
];

const uapiValue = fc.oneof(
  key().map((k) => k.toString('hex')),
  fc.constantFrom('0'.repeat(64), 'true', 'false', '1', ''),
  number,
  uapiEndpoint(),
  cidrText(),
  cidrText().map((c) => `-${c}`),
  junk,
);
const uapiLine = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.constantFrom(...UAPI_KEYS), uapiValue).map(([k, v]) => `${k}=${v}`) },
  { weight: 1, arbitrary: junk },
);
const uapiRequest = fc
  .tuple(fc.constantFrom('set=1', 'get=1', 'set=1', 'get=2', ''), fc.array(uapiLine, { maxLength: 12 }))
  .map(([op, lines]) => `${[op, ...lines].join('\n')}\n\n`);
const uapiText = fc.oneof(
  uapiRequest,
  deviceUpdate().map((u) => `set=1\n${formatSet(u)}\n`),
  deviceState().map(getReply),
  fc.array(uapiRequest, { minLength: 2, maxLength: 4 }).map((r) => r.join('')),
);
const uapiDictionary = [...UAPI_KEYS.map((k) => `${k}=`), '\n\n', 'set=1\n', 'get=1\n', '=true', '=-', '[::1]:', '/32'];
const uapiSecret = /^(private_key|preshared_key)$/;

export const uapiClient: Target = {
  name: 'uapi-client',
  generate: uapiText,
  dictionary: uapiDictionary,
  run(input) {
    cleanUapi(() => parseGet(input), secrets(input, uapiSecret, '='), theirs);
  },
};

const CONFIG_KEYS = [...WG_QUICK_KEYS, ...WG_INTERFACE_KEYS, ...WG_PEER_KEYS];
const configValue = fc.oneof(
  key().map((k) => k.toString('base64')),
  fc.array(cidrText(), { maxLength: 3 }).map((a) => a.join(', ')),
  uapiEndpoint(),
  fc.domain().map((d) => `${d}:51820`),
  fc.constantFrom('off', 'auto', 'true', 'false', 'main', '0x1', '[fe80::1%eth0]:1', 'echo %i'),
  number,
  junk,
);
const configLine = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...CONFIG_KEYS), fc.constantFrom(' = ', '=', '\t=  '), configValue).map((p) => p.join('')) },
  { weight: 2, arbitrary: fc.constantFrom('[Interface]', '[Peer]', '[peer]', ' [Interface] # x', '', '# c', '[Other]') },
  { weight: 1, arbitrary: junk },
);
const configText = fc.oneof(
  fc.array(configLine, { maxLength: 20 }).map((l) => l.join('\n')),
  wgQuickConfig().map(formatConfig),
);
const configSecret = /^(privatekey|presharedkey)$/i;

export const config: Target = {
  name: 'config',
  generate: configText,
  dictionary: [...CONFIG_KEYS.map((k) => `${k} = `), '[Peer]\n', '[Interface]\n', '#', ', ', '/0', ':51820', 'off'],
  run(input) {
    const hidden = secrets(input.replace(/\0/g, ''), configSecret, '=');
    let parsed;
    try {
      parsed = parseConfig(input, { file: 'fz.conf' });
    } catch (err) {
      if (!(err instanceof ConfigError)) fail('not a ConfigError', err);
      const lines = input.split('\n').length;
      if (err.file !== 'fz.conf' || !Number.isInteger(err.line) || err.line! < 1 || err.line! > lines) {
        fail(`a ConfigError without its file and line (${err.file}:${err.line}): ${err.message}`);
      }
      noSecrets(err.message, hidden, 'a ConfigError message');
      return;
    }
    for (const w of parsed.warnings) noSecrets(w, hidden, 'a warning');
    const text = formatConfig(parsed);
    const again = parseConfig(text, { file: 'fz.conf' });
    if (!isDeepStrictEqual(again, parsed)) fail('an accepted config does not read back the same after formatConfig');
    if (formatConfig(again) !== text) fail('formatConfig is not stable');
  },
};

export const TARGETS: Record<string, Target> = { 'uapi-client': uapiClient, config };
