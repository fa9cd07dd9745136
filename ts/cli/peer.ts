// `wiretun peer add|list|remove`: manage a server's clients in its wg-quick file and, when the interface is
// up, on the running interface too (over UAPI). The file keeps every other byte; a failure changes nothing.
import { parseArgs } from 'node:util';
import { addLivePeer, liveDevice, removeLivePeer } from '../peers/live';
import { listPeers, planAdd, planRemove } from '../peers/manage';
import { configPath } from '../config/locate';
import { commitEdit, loadConfig, LoadedConfig, withConfigLock } from '../peers/store';
import { peerTable } from '../peers/table';
import { runAction, usageError } from './common';

const USAGE = `Usage: wiretun peer add IF_OR_CONF [--name NAME] [--endpoint HOST[:PORT]] [--allowed-ips CIDR[,CIDR...]] [--qr]
       wiretun peer list IF_OR_CONF
       wiretun peer remove IF_OR_CONF NAME|PUBLIC_KEY

  IF_OR_CONF is an interface name (wg0 = /etc/wireguard/wg0.conf) or a config file path.

  add     Makes keys and a preshared key for a new client, gives it the next free address in each subnet of the
          interface's Address lines, appends it to the config (as "# Name = NAME"), adds it to the interface if
          it is up, and prints the client's wg-quick config.
          --endpoint      where the client reaches this server (default: "# PublicEndpoint = ..." in
                          [Interface]); without a port, the server's ListenPort is used
          --allowed-ips   what the client sends through the tunnel (default: the server's subnets;
                          0.0.0.0/0,::/0 sends everything)
          --qr            also print the client config as a QR code (for the WireGuard mobile apps)
  list    The peers of the file, with endpoint, latest handshake and transfer when the interface is up.
  remove  Removes a peer, by name or public key, from the file and the running interface.
`;

function fail(message: string): number {
  process.stderr.write(`wiretun peer: ${message}\n`);
  return 1;
}

async function load(arg: string): Promise<LoadedConfig> {
  const loaded = await loadConfig(arg);
  for (const w of loaded.warnings) process.stderr.write(`${w}\n`);
  return loaded;
}

async function qrCode(text: string): Promise<string> {
  // Loaded only for --qr, so the other commands do not pay for it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const qrcode = require('qrcode') as typeof import('qrcode');
  return qrcode.toString(text, { type: 'terminal', small: true, errorCorrectionLevel: 'L' });
}

async function add(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      endpoint: { type: 'string' },
      'allowed-ips': { type: 'string', multiple: true },
      qr: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) return usageError('peer', 'add takes exactly one IF_OR_CONF', USAGE);
  const allowedIps = values['allowed-ips']?.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  // Locked from read to write, so a concurrent writer (`wiretun serve`, another `peer add`) waits its turn
  // instead of making this one fail with "changed while we were editing it".
  return withConfigLock(configPath(positionals[0]).file, async () => {
    const loaded = await load(positionals[0]);
    const iface = loaded.interfaceName;
    const live = await liveDevice(iface);
    const plan = planAdd(loaded, live, { name: values.name, endpoint: values.endpoint, allowedIps });
    // Made before anything is written, so a QR failure cannot leave a peer the user never saw.
    const qr = values.qr ? await qrCode(plan.client) : undefined;
    await commitEdit(loaded, plan.text, live ? () => addLivePeer(iface, plan.peer) : undefined, { locked: true });
    const where = live ? `${loaded.path} and the running ${iface}` : `${loaded.path} (${iface} is not up)`;
    process.stderr.write(`Added peer ${plan.peer.publicKey} (${plan.peer.allowedIps.join(', ')}) to ${where}\n`);
    process.stdout.write(plan.client);
    if (qr) process.stdout.write(`\n${qr}`);
    return 0;
  });
}

async function list(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  if (positionals.length !== 1) return usageError('peer', 'list takes exactly one IF_OR_CONF', USAGE);
  const loaded = await load(positionals[0]);
  const live = await liveDevice(loaded.interfaceName);
  process.stdout.write(peerTable(listPeers(loaded, live), live !== undefined));
  return 0;
}

async function remove(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  if (positionals.length !== 2) return usageError('peer', 'remove takes IF_OR_CONF and a NAME or PUBLIC_KEY', USAGE);
  return withConfigLock(configPath(positionals[0]).file, async () => {
    const loaded = await load(positionals[0]);
    const iface = loaded.interfaceName;
    const live = await liveDevice(iface);
    const plan = planRemove(loaded, live, positionals[1]);
    const running = plan.publicKeys.filter((k) => live?.peers.some((p) => p.publicKey.toString('base64') === k));
    const apply = running.length
      ? async () => {
          for (const k of running) await removeLivePeer(iface, k);
        }
      : undefined;
    if (plan.text !== loaded.text || apply) await commitEdit(loaded, plan.text, apply, { locked: true });
    process.stderr.write(`Removed peer ${plan.publicKeys.join(', ')}${running.length ? ` (also from the running ${iface})` : ''}\n`);
    return 0;
  });
}

const ACTIONS: Record<string, (argv: string[]) => Promise<number>> = { add, list, remove, rm: remove, ls: list };

export function run(argv: string[]): Promise<number> {
  return runAction('peer', ACTIONS, argv, USAGE, (err) => fail(err instanceof Error ? err.message : String(err)));
}
