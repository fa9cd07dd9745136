// `wiretun syncconf IF FILE`: make the interface match a wg config file, like `wg syncconf`. Peers missing from
// the file are removed; peers it keeps get only what differs, so their sessions survive (a daemon may rebuild a
// peer's state on a key or PSK write even when the value is the same, so unchanged values are not sent at all).
import { promises as fs } from 'node:fs';
import { parseConfig } from '../config/parse';
import { canonicalCidr, parseCidr } from '../config/ip';
import { ConfigError, WgDevice, WgPeer, WgQuickConfig } from '../config/wgquick';
import { resolveEndpoint } from '../endpoint';
import { getDevice, uapiSet } from '../uapi/client';
import { DeviceState, PeerState } from '../uapi/codec';
import { errorText } from './wg-device';

const USAGE = 'Usage: wiretun syncconf <interface> <configuration filename>\n';

const hex = (b64: string) => Buffer.from(b64, 'base64').toString('hex');
const ZERO = '0'.repeat(64);

/** wg syncconf takes wg's format only: wg-quick keys there mean the user wanted `wiretun strip` first. */
function wgOnly(c: WgQuickConfig, file: string): WgDevice {
  const quick = [
    c.addresses.length && 'Address',
    (c.dns.length || c.dnsSearch.length) && 'DNS',
    c.mtu !== undefined && 'MTU',
    c.table !== undefined && 'Table',
    (c.preUp.length || c.postUp.length || c.preDown.length || c.postDown.length) && 'Pre/PostUp/Down',
    c.saveConfig && 'SaveConfig',
  ].filter(Boolean);
  if (quick.length) {
    throw new ConfigError(`${file} has wg-quick keys (${quick.join(', ')}); use: wiretun syncconf IF <(wiretun strip ${file})`);
  }
  return c.device;
}

function deviceLines(want: WgDevice, have: DeviceState): string[] {
  // As wg: what the file leaves out is reset (no key, port 0, no fwmark), but only a real change is sent.
  const out: string[] = [];
  const key = want.privateKey ? hex(want.privateKey) : ZERO;
  if (key !== (have.privateKey?.toString('hex') ?? ZERO)) out.push(`private_key=${key}`);
  if ((want.listenPort ?? 0) !== have.listenPort) out.push(`listen_port=${want.listenPort ?? 0}`);
  if ((want.fwmark ?? 0) !== have.fwmark) out.push(`fwmark=${want.fwmark ?? 0}`);
  return out;
}

const canonical = (ips: string[]) => ips.map((ip) => canonicalCidr(parseCidr(ip) ?? { family: 4, bytes: [0, 0, 0, 0], prefix: 0 }));
const sameSet = (a: string[], b: string[]) => a.length === b.length && [...a].sort().join() === [...b].sort().join();

async function peerLines(want: WgPeer, have: PeerState | undefined): Promise<string[]> {
  const out: string[] = [];
  const psk = want.presharedKey ? hex(want.presharedKey) : ZERO;
  if (psk !== (have?.presharedKey?.toString('hex') ?? ZERO)) out.push(`preshared_key=${psk}`);
  if (want.endpoint !== undefined) {
    const ep = await resolveEndpoint(want.endpoint);
    if (ep !== have?.endpoint) out.push(`endpoint=${ep}`);
  }
  const ka = want.persistentKeepalive ?? 0;
  if (ka !== (have?.persistentKeepalive ?? 0)) out.push(`persistent_keepalive_interval=${ka}`);
  const ips = canonical(want.allowedIps);
  if (!have || !sameSet(ips, have.allowedIps)) out.push('replace_allowed_ips=true', ...ips.map((ip) => `allowed_ip=${ip}`));
  if (!out.length && have) return [];
  return [`public_key=${hex(want.publicKey)}`, ...out];
}

/** The set body turning `have` into `want`: removals first (as wg), then new and changed peers. */
export async function syncBody(want: WgDevice, have: DeviceState): Promise<string> {
  const wanted = new Set(want.peers.map((p) => hex(p.publicKey)));
  const lines = deviceLines(want, have);
  for (const p of have.peers) {
    const k = p.publicKey.toString('hex');
    if (!wanted.has(k)) lines.push(`public_key=${k}`, 'remove=true');
  }
  const byKey = new Map(have.peers.map((p) => [p.publicKey.toString('hex'), p]));
  for (const p of want.peers) lines.push(...(await peerLines(p, byKey.get(hex(p.publicKey)))));
  return lines.map((l) => `${l}\n`).join('');
}

export async function run(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === '-h' || argv[0] === '--help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (argv.length !== 2) return fail(argv.length < 2 ? 'missing <interface> or <configuration filename>' : `unexpected \`${argv[2]}'`, true);
  const [iface, file] = argv;
  let want: WgDevice;
  try {
    const { config, warnings } = parseConfig(await fs.readFile(file, 'utf8'), { file });
    for (const w of warnings) process.stderr.write(`wiretun: warning: ${w}\n`);
    want = wgOnly(config, file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return fail(err instanceof ConfigError ? err.message : `cannot read ${file}: ${code ?? errorText(err)}`);
  }
  try {
    const body = await syncBody(want, await getDevice(iface));
    if (body) await uapiSet(iface, body);
    return 0;
  } catch (err) {
    return fail(`Unable to sync interface ${iface}: ${errorText(err)}`);
  }
}

function fail(message: string, usage = false): number {
  process.stderr.write(`wiretun syncconf: ${message}\n${usage ? USAGE : ''}`);
  return 1;
}
