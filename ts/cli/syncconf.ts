// `wiretun syncconf IF FILE`: make the interface match a wg config file, like `wg syncconf`. Peers missing from
// the file are removed; peers it keeps get only what differs, so their sessions survive (a daemon may rebuild a
// peer's state on a key or PSK write even when the value is the same, so unchanged values are not sent at all).
import { promises as fs } from 'node:fs';
import { parseConfig } from '../config/parse';
import { canonicalCidr, parseCidr } from '../config/ip';
import { DeviceUpdate, emptyDeviceUpdate, emptyPeerUpdate, isZeroKey, PeerUpdate } from '../config/model';
import { ConfigError, WgQuickConfig } from '../config/wgquick';
import { resolveEndpoint } from '../endpoint';
import { getDevice, uapiSet } from '../uapi/client';
import { DeviceState, formatSet, PeerState } from '../uapi/codec';
import { errorText } from './wg-device';

const USAGE = 'Usage: wiretun syncconf <interface> <configuration filename>\n';

/** wg syncconf takes wg's format only: wg-quick keys there mean the user wanted `wiretun strip` first. */
function wgOnly(c: WgQuickConfig, file: string): DeviceUpdate {
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

/** Both say "no key" (absent, null or all zeros) or hold the same key. */
function sameKey(a: Buffer | null | undefined, b: Buffer | null | undefined): boolean {
  const norm = (k: Buffer | null | undefined) => (k && !isZeroKey(k) ? k : undefined);
  const [x, y] = [norm(a), norm(b)];
  return x === undefined || y === undefined ? x === y : x.equals(y);
}

function deviceChange(want: DeviceUpdate, have: DeviceState): DeviceUpdate {
  // As wg: what the file leaves out is reset (no key, port 0, no fwmark), but only a real change is sent.
  const u = emptyDeviceUpdate();
  if (!sameKey(want.privateKey, have.privateKey)) u.privateKey = want.privateKey ?? null;
  if ((want.listenPort ?? 0) !== have.listenPort) u.listenPort = want.listenPort ?? 0;
  if ((want.fwmark ?? 0) !== have.fwmark) u.fwmark = want.fwmark ?? 0;
  return u;
}

const canonical = (ips: string[]) => ips.map((ip) => canonicalCidr(parseCidr(ip) ?? { family: 4, bytes: [0, 0, 0, 0], prefix: 0 }));
const sameSet = (a: string[], b: string[]) => a.length === b.length && [...a].sort().join() === [...b].sort().join();

/** What must change for the running peer `have` (absent = new) to match `want`; undefined when nothing. */
async function peerChange(want: PeerUpdate, have: PeerState | undefined): Promise<PeerUpdate | undefined> {
  const u = emptyPeerUpdate(want.publicKey);
  if (!sameKey(want.presharedKey, have?.presharedKey)) u.presharedKey = want.presharedKey ?? null;
  if (want.endpoint !== undefined) {
    const ep = await resolveEndpoint(want.endpoint);
    if (ep !== have?.endpoint) u.endpoint = ep;
  }
  const ka = want.persistentKeepalive ?? 0;
  if (ka !== (have?.persistentKeepalive ?? 0)) u.persistentKeepalive = ka;
  const ips = canonical(want.allowedIps);
  if (!have || !sameSet(ips, have.allowedIps)) Object.assign(u, { replaceAllowedIps: true, allowedIps: ips });
  const changed = u.presharedKey !== undefined || u.endpoint !== undefined || u.persistentKeepalive !== undefined;
  return changed || u.replaceAllowedIps ? u : undefined;
}

/** The change turning `have` into `want`: removals first (as wg), then new and changed peers. */
export async function syncUpdate(want: DeviceUpdate, have: DeviceState): Promise<DeviceUpdate> {
  const u = deviceChange(want, have);
  const wanted = new Set(want.peers.map((p) => p.publicKey.toString('hex')));
  for (const p of have.peers) {
    if (!wanted.has(p.publicKey.toString('hex'))) u.peers.push({ ...emptyPeerUpdate(p.publicKey), remove: true });
  }
  const byKey = new Map(have.peers.map((p) => [p.publicKey.toString('hex'), p]));
  for (const p of want.peers) {
    const change = await peerChange(p, byKey.get(p.publicKey.toString('hex')));
    if (change) u.peers.push(change);
  }
  return u;
}

/** The set request body for syncUpdate; empty when the device already matches. */
export async function syncBody(want: DeviceUpdate, have: DeviceState): Promise<string> {
  return formatSet(await syncUpdate(want, have));
}

export async function run(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === '-h' || argv[0] === '--help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (argv.length !== 2) return fail(argv.length < 2 ? 'missing <interface> or <configuration filename>' : `unexpected \`${argv[2]}'`, true);
  const [iface, file] = argv;
  let want: DeviceUpdate;
  try {
    const config = parseConfig(await fs.readFile(file, 'utf8'), { file });
    for (const w of config.warnings) process.stderr.write(`wiretun: warning: ${w}\n`);
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
