// `wiretun gateway` processes and `wiretun up` clients in a lab's namespaces, and the console they follow, for
// test/netns/gateway.test.ts. Output goes to log files (a gateway's daemon inherits it: a pipe would never close).
import { spawn, ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { REPO } from './env';
import { killDaemons, Lab, Node } from './lab';
import { must, run } from './proc';
import { waitFor } from './wait';
import { Dump, parseDump } from './wg';

export const BIN = path.join(REPO, 'bin', 'wiretun');
const STATE_DIR = '/var/run/wiretun';

export interface GatewayProc {
  name: string;
  node: Node;
  iface: string;
  log: string;
  child?: ChildProcess;
  exited?: Promise<void>;
}

/** Starts `wiretun gateway` in the node's namespace; the store URL travels in WIRETUN_STORE, not argv. */
export function startGateway(g: GatewayProc, store: string, location: string, extra: string[] = []): void {
  const fd = openSync(g.log, 'a');
  const args = ['netns', 'exec', g.node.ns, BIN, 'gateway', '--location', location, '--name', g.name, '--interface', g.iface, ...extra];
  const child = spawn('ip', args, { env: { ...process.env, WIRETUN_STORE: store }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  g.child = child;
  g.exited = new Promise((resolve) => child.once('exit', () => resolve()));
}

export function gatewayLog(g: GatewayProc): string {
  return readFileSync(g.log, 'utf8');
}

/** SIGKILL: the gateway process only (its daemon and interface stay), or with `daemon` the host's whole part. */
export async function killGateway(g: GatewayProc, daemon: boolean): Promise<void> {
  g.child?.kill('SIGKILL');
  await g.exited;
  g.child = undefined;
  if (daemon) killDaemons([g.iface], 'SIGKILL');
}

/** SIGTERM and wait: the gateway takes its interface down. */
export async function stopGateway(g: GatewayProc): Promise<void> {
  if (!g.child) return;
  g.child.kill('SIGTERM');
  await Promise.race([g.exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
  if (g.child.exitCode === null && g.child.signalCode === null) g.child.kill('SIGKILL');
  g.child = undefined;
}

export function removeStateFiles(ifnames: string[]): void {
  for (const i of ifnames) rmSync(path.join(STATE_DIR, `${i}.json`), { force: true });
}

/** `wiretun show IF dump`, parsed; undefined while the interface is not there. */
export async function dump(ns: string, iface: string): Promise<Dump | undefined> {
  const r = await run(BIN, ['show', iface, 'dump'], { ns });
  return r.code === 0 ? parseDump(r.stdout) : undefined;
}

export async function peerKeys(ns: string, iface: string): Promise<string[]> {
  return ((await dump(ns, iface))?.peers ?? []).map((p) => p.publicKey).sort();
}

export interface TunnelClient {
  node: Node;
  iface: string;
}

/** A client as its user would run it: the wg-quick file the console gave, and `wiretun up`. */
export async function clientUp(lab: Lab, node: Node, configText: string): Promise<TunnelClient> {
  const iface = lab.ifname();
  const file = path.join(lab.tmp, `${iface}.conf`);
  writeFileSync(file, configText, { mode: 0o600 });
  await must(BIN, ['up', file], { ns: node.ns, timeoutMs: 30_000 });
  return { node, iface };
}

/** `wiretun serve --store` on 127.0.0.1 (a free port); resolves to its URL once it listens. */
export async function startConsole(store: string, stateDir: string, log: string): Promise<{ child: ChildProcess; url: string }> {
  const fd = openSync(log, 'a');
  const child = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--state', stateDir], { env: { ...process.env, WIRETUN_STORE: store }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let url = '';
  await waitFor('the console to listen', () => {
    url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(readFileSync(log, 'utf8'))?.[1] ?? '';
    return url !== '' || child.exitCode !== null;
  });
  if (!url) throw new Error(`the console exited: ${readFileSync(log, 'utf8')}`);
  return { child, url };
}

export const ping = async (ns: string, to: string) => (await run('ping', ['-c', '1', '-W', '1', to], { ns })).code === 0;

export async function waitPing(ns: string, to: string, timeoutMs = 10_000): Promise<number> {
  return waitFor(`a ping from ${ns} to ${to}`, () => ping(ns, to), { timeoutMs, intervalMs: 0 });
}
