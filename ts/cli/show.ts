// `wiretun show [IF | all | interfaces] [FIELD | dump | --json]`: wg show for userspace interfaces, same text.
// --json is ours: one object per interface (an array for `all`), with no private or preshared key material.
import { PeerState } from '../uapi/codec';
import { errorText, listInterfaces, loadDevice } from './wg-device';
import { Field, FIELDS, formatField, formatPretty, paintFor, ShownDevice } from './wg-format';

const USAGE =
  'Usage: wiretun show { <interface> | all | interfaces } [public-key | private-key | listen-port | fwmark | peers |\n' +
  '         preshared-keys | endpoints | allowed-ips | latest-handshakes | transfer | persistent-keepalive | dump | --json]\n';

const isField = (s: string): s is Field => (FIELDS as readonly string[]).includes(s);

function peerJson(p: PeerState) {
  return {
    publicKey: p.publicKey.toString('base64'),
    hasPresharedKey: Boolean(p.presharedKey),
    endpoint: p.endpoint || null,
    allowedIps: p.allowedIps,
    latestHandshake: p.lastHandshakeSec || null,
    rxBytes: p.rxBytes,
    txBytes: p.txBytes,
    persistentKeepalive: p.persistentKeepalive || null,
  };
}

/** The documented --json shape (README): keys base64, absent values null, handshake in Unix seconds. */
export function deviceJson(d: ShownDevice) {
  return {
    interface: d.name,
    publicKey: d.publicKey ? d.publicKey.toString('base64') : null,
    hasPrivateKey: Boolean(d.state.privateKey),
    listenPort: d.state.listenPort,
    fwmark: d.state.fwmark || null,
    peers: d.state.peers.map(peerJson),
  };
}

function render(d: ShownDevice, what: string | undefined, withName: boolean): string {
  if (what === undefined) return paintFor(process.env, Boolean(process.stdout.isTTY))(formatPretty(d, Math.floor(Date.now() / 1000), process.env));
  return formatField(d, what as Field, withName);
}

async function showAll(what: string | undefined): Promise<number> {
  const names = await listInterfaces();
  // In parallel, so one wedged daemon costs one timeout rather than one per interface.
  const results = await Promise.allSettled(names.map((name) => loadDevice(name)));
  const shown: ShownDevice[] = [];
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') shown.push(r.value);
    else process.stderr.write(`wiretun show: Unable to access interface: ${errorText(r.reason)}\n`);
  });
  if (what === '--json') {
    process.stdout.write(`${JSON.stringify(shown.map(deviceJson), null, 2)}\n`);
  } else {
    // wg separates pretty blocks with a blank line; script output has the name on every line instead.
    process.stdout.write(shown.map((d) => render(d, what, true)).join(what === undefined ? '\n' : ''));
  }
  return names.length > 0 && shown.length === 0 ? 1 : 0;
}

async function showOne(name: string, what: string | undefined): Promise<number> {
  let d: ShownDevice;
  try {
    d = await loadDevice(name);
  } catch (err) {
    process.stderr.write(`wiretun show: Unable to access interface: ${errorText(err)}\n`);
    return 1;
  }
  if (what === '--json') process.stdout.write(`${JSON.stringify(deviceJson(d), null, 2)}\n`);
  else process.stdout.write(render(d, what, false));
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  const [target, what, ...extra] = argv;
  if (target === '-h' || target === '--help' || target === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (extra.length) return fail(`unexpected argument \`${extra[0]}'`);
  if (what !== undefined && what !== '--json' && !isField(what)) return fail(`Invalid parameter: \`${what}'`);
  if (target === 'interfaces') {
    if (what !== undefined) return fail(`\`interfaces' takes no further argument, got \`${what}'`);
    const names = await listInterfaces();
    process.stdout.write(names.length ? `${names.join(' ')}\n` : '');
    return 0;
  }
  if (target === undefined || target === 'all') return showAll(what);
  return showOne(target, what);
}

function fail(message: string): number {
  process.stderr.write(`wiretun show: ${message}\n${USAGE}`);
  return 1;
}
