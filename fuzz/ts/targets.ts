// The TypeScript fuzz targets and what each must never do.
// - uapi: parseSetRequest / parseGet on any text return a model or throw a UapiError with a negative errno (for
//   parseGet: the reply's own errno if it is a non-zero int32),
//   never anything else, never a key value in the message; an accepted set request formats and re-parses to
//   the same model.
// - uapi-server: the real UAPI server on a socket in a temp dir (fake device) answers any byte stream with
//   well-formed `errno=N` replies or closes the connection, and keeps serving.
// - config: parseConfig returns a config or throws a ConfigError naming the file and a line of it, never a
//   key value; an accepted config formats and re-parses to the same model.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { formatConfig } from '../../ts/config/format';
import { parseConfig } from '../../ts/config/parse';
import { DeviceUpdate, emptyPeerUpdate } from '../../ts/config/model';
import { ConfigError, WG_INTERFACE_KEYS, WG_PEER_KEYS, WG_QUICK_KEYS } from '../../ts/config/wgquick';
import { DeviceState, formatGet, formatSet, parseGet, parseSetRequest, UapiError } from '../../ts/uapi/codec';
import { serveUapi, UapiServer } from '../../ts/uapi/server';
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

/** Our own errnos are negative, as wireguard-go's; a get reply's errno is the other side's, passed on as
 * any non-zero int32. */
const ours = (errno: number) => Number.isInteger(errno) && errno < 0;
const theirs = (errno: number) => Number.isInteger(errno) && errno !== 0 && Math.abs(errno) <= 0x7fffffff;

/** Runs a parser that may only fail with a UapiError whose errno passes `valid`. */
function cleanUapi<T>(parse: () => T, secretValues: string[], valid = ours): T | undefined {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof UapiError)) fail('not a UapiError', err);
    if (!valid(err.errno)) fail(`a UapiError with errno ${err.errno}`, err);
    noSecrets(err.message, secretValues, 'a UapiError message');
    return undefined;
  }
}

/** A removed peer's other fields mean nothing, and formatSet writes `remove=true` alone. */
function withoutRemovedFields(u: DeviceUpdate): DeviceUpdate {
  return { ...u, peers: u.peers.map((p) => (p.remove ? { ...emptyPeerUpdate(p.publicKey), remove: true } : p)) };
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
  deviceState().map((s) => `${formatGet(s)}errno=0\n\n`),
  fc.array(uapiRequest, { minLength: 2, maxLength: 4 }).map((r) => r.join('')),
);
const uapiDictionary = [...UAPI_KEYS.map((k) => `${k}=`), '\n\n', 'set=1\n', 'get=1\n', '=true', '=-', '[::1]:', '/32'];
const uapiSecret = /^(private_key|preshared_key)$/;

export const uapi: Target = {
  name: 'uapi',
  generate: uapiText,
  dictionary: uapiDictionary,
  run(input) {
    const hidden = secrets(input, uapiSecret, '=');
    const update = cleanUapi(() => parseSetRequest(input), hidden);
    if (update) {
      const again = cleanUapi(() => parseSetRequest(`set=1\n${formatSet(update)}\n`), []);
      if (!isDeepStrictEqual(again, withoutRemovedFields(update))) {
        fail('an accepted set request does not read back the same after formatSet');
      }
    }
    cleanUapi(() => parseGet(input), hidden, theirs);
  },
};

const STATE: DeviceState = {
  privateKey: Buffer.alloc(32, 7),
  listenPort: 51820,
  fwmark: 0,
  peers: [
    {
      publicKey: Buffer.alloc(32, 9),
      presharedKey: null,
      endpoint: '192.0.2.1:51820',
      lastHandshakeSec: 0,
      lastHandshakeNsec: 0,
      txBytes: 1,
      rxBytes: 2,
      persistentKeepalive: 0,
      allowedIps: ['10.0.0.0/24'],
    },
  ],
};
/** Whole replies: get bodies and errno lines, each ending in a blank line. */
const REPLIES = /^(?:(?:[a-z_]+=[^\n]*\n)*errno=-?[0-9]+\n\n)*$/;

function exchange(sock: string, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const c = net.connect(sock, () => c.end(input));
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Finding('the server did not answer within 5 s'));
    }, 5000);
    c.on('data', (d) => chunks.push(d));
    c.on('error', () => {}); // the server may close first: what it said so far is checked
    c.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

let server: UapiServer | undefined;
let dir = '';

export const uapiServer: Target = {
  name: 'uapi-server',
  generate: uapiText,
  dictionary: uapiDictionary,
  async setup() {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wiretun-fuzz-'));
    server = await serveUapi('fz0', { state: () => STATE, apply: () => {} }, { dir });
  },
  async teardown() {
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  },
  async run(input) {
    const reply = await exchange(server!.path, input);
    if (!REPLIES.test(reply)) fail(`malformed reply ${JSON.stringify(reply.slice(0, 300))}`);
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

export const TARGETS: Record<string, Target> = { uapi, 'uapi-server': uapiServer, config };
