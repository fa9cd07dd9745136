// `wiretun tun add|del|list|watch`: persistent TUN/TAP devices like `ip tuntap`, and a packet watcher that prints
// one decoded line per packet and can answer pings. A learning and debugging tool; WireGuard does not use it.
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { WiretunError } from '../errors';
import { CommandError, must } from '../proc';
import { UnsupportedPlatformError } from '../platform';
import { deletePersistentTun, listTuns, openTun, TunDevice, TunMode } from '../tun/device';
import { buildEchoReply } from '../tun/echo';
import { describePacket } from '../tun/format';
import { runAction, usageError } from './common';

const USAGE = `Usage: wiretun tun add NAME [--tap] [--user USER] [--group GROUP] [--mtu N]
       wiretun tun del NAME
       wiretun tun list
       wiretun tun watch NAME [--tap] [--address CIDR]... [--echo] [--count N]

  add    Creates a persistent TUN (or, with --tap, TAP) interface, like \`ip tuntap add\`. --user and --group
         (names or numbers) may then attach to it without CAP_NET_ADMIN.
  del    Removes a persistent interface, like \`ip tuntap del\`.
  list   The TUN/TAP interfaces in this network namespace: mode, persist, owner and group.
  watch  Attaches to NAME (creating it if it does not exist; it then goes away on exit) and prints one line per
         packet the kernel sends into it, until Ctrl-C.
         --address  assign CIDR with \`ip address add\` (repeatable; IPv6 without DAD) and bring the link up
         --echo     answer ICMP and ICMPv6 echo requests, so \`ping\` to another address of the subnet replies
         --count    stop after N packets
`;

function fail(message: string): number {
  process.stderr.write(`wiretun tun: ${message}\n`);
  return 1;
}

/** A user or group given by name (looked up in /etc/passwd or /etc/group) or by number. */
export function resolveId(value: string, database: '/etc/passwd' | '/etc/group', text = readIfExists(database)): number {
  if (/^\d+$/.test(value)) return Number(value);
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    if (name === value && id !== undefined && /^\d+$/.test(id)) return Number(id);
  }
  const what = database === '/etc/passwd' ? 'user' : 'group';
  throw new WiretunError('EINVAL', `no ${what} named ${value} in ${database}`);
}

function readIfExists(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

function oneName(positionals: string[]): string | undefined {
  return positionals.length === 1 ? positionals[0] : undefined;
}

async function add(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { tap: { type: 'boolean' }, user: { type: 'string' }, group: { type: 'string' }, mtu: { type: 'string' } },
  });
  const name = oneName(positionals);
  if (!name) return usageError('tun', 'add takes exactly one NAME', USAGE);
  if (values.mtu !== undefined && !/^\d+$/.test(values.mtu)) return usageError('tun', `bad MTU ${values.mtu}`, USAGE);
  // TUNSETIFF would quietly attach to an existing device and re-own it; `ip tuntap add` semantics are "new".
  if (existsSync(`/sys/class/net/${name}`)) return fail(`an interface named ${name} already exists`);
  const dev = openTun({
    name,
    mode: values.tap ? 'tap' : 'tun',
    persist: true,
    mtu: values.mtu === undefined ? undefined : Number(values.mtu),
    owner: values.user === undefined ? undefined : resolveId(values.user, '/etc/passwd'),
    group: values.group === undefined ? undefined : resolveId(values.group, '/etc/group'),
  });
  dev.close();
  return 0;
}

async function del(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  const name = oneName(positionals);
  if (!name) return usageError('tun', 'del takes exactly one NAME', USAGE);
  deletePersistentTun(name);
  return 0;
}

async function list(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  if (positionals.length) return usageError('tun', `unexpected argument ${positionals[0]}`, USAGE);
  for (const t of listTuns()) {
    const parts = [t.mode, t.persist ? 'persist' : '', t.multiQueue ? 'multi_queue' : ''];
    if (t.owner !== undefined) parts.push(`user ${t.owner}`);
    if (t.group !== undefined) parts.push(`group ${t.group}`);
    process.stdout.write(`${t.name}: ${parts.filter(Boolean).join(' ')}\n`);
  }
  return 0;
}

async function ip(args: string[]): Promise<void> {
  try {
    await must('ip', args);
  } catch (err) {
    const stderr = err instanceof CommandError ? err.result.stderr.trim() : '';
    throw new WiretunError('EIO', `ip ${args.join(' ')}: ${stderr || (err as Error).message}`);
  }
}

async function configureLink(name: string, addresses: string[]): Promise<void> {
  if (addresses.length === 0) return;
  // nodad: a TUN link has no neighbours to collide with, and a tentative address would make the first pings fail.
  for (const cidr of addresses) await ip(['address', 'add', cidr, 'dev', name, ...(cidr.includes(':') ? ['nodad'] : [])]);
  await ip(['link', 'set', name, 'up']);
}

function timestamp(): string {
  return new Date().toISOString().slice(11, 23);
}

async function printPackets(dev: TunDevice, echo: boolean, count: number | undefined): Promise<void> {
  let seen = 0;
  for await (const packet of dev) {
    process.stdout.write(`${timestamp()} ${describePacket(packet, dev.mode)}\n`);
    const reply = echo ? buildEchoReply(packet) : undefined;
    if (reply) {
      dev.write(reply);
      process.stdout.write(`${timestamp()} reply: ${describePacket(reply, dev.mode)}\n`);
    }
    if (count !== undefined && ++seen >= count) return;
  }
}

async function watch(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      tap: { type: 'boolean' },
      address: { type: 'string', multiple: true },
      echo: { type: 'boolean' },
      count: { type: 'string' },
    },
  });
  const name = oneName(positionals);
  if (!name) return usageError('tun', 'watch takes exactly one NAME', USAGE);
  if (values.count !== undefined && !/^[1-9]\d*$/.test(values.count)) return usageError('tun', `bad count ${values.count}`, USAGE);
  // An existing persistent device must be opened in its own mode.
  const existing = listTuns().find((t) => t.name === name);
  const mode: TunMode = values.tap || existing?.mode === 'tap' ? 'tap' : 'tun';
  if (values.echo && mode === 'tap') return usageError('tun', '--echo answers pings on TUN devices only', USAGE);
  const dev = openTun({ name, mode });
  const stop = () => dev.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await configureLink(dev.name, values.address ?? []);
    process.stderr.write(`watching ${dev.name} (${mode})${values.echo ? ', answering pings' : ''}; Ctrl-C to stop\n`);
    await printPackets(dev, values.echo ?? false, values.count === undefined ? undefined : Number(values.count));
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    dev.close();
  }
  return 0;
}

const ACTIONS: Record<string, (argv: string[]) => Promise<number>> = { add, del, delete: del, list, ls: list, watch };

export function run(argv: string[]): Promise<number> {
  return runAction('tun', ACTIONS, argv, USAGE, (err) => {
    if (err instanceof WiretunError) return fail(`${err.code}: ${err.message}`);
    if (err instanceof UnsupportedPlatformError) return fail(err.message);
    return undefined;
  });
}
