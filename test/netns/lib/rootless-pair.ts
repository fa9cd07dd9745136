// The shape every rootless suite shares: a server namespace running a TUN daemon (Debian's wireguard-go, or
// wiretund) with node services behind it (rootless/server.cjs: HTTP, HTTPS, TCP/UDP echo, DNS), and a client
// namespace where the rootless side runs as `nobody` with every capability dropped. Tunnel addresses: server
// 10.211.0.1 / fd00:211::1, client 10.211.0.2 / fd00:211::2. Root only builds the namespaces.
import { ChildProcess, spawn, SpawnOptions } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { generatePrivateKey, publicKeyFromPrivate } from '../../../ts/keys';
import { addressTunnel, Iface, startDaemon } from './daemon';
import { Impl, REPO } from './env';
import { Lab, Node } from './lab';
import { must, run } from './proc';
import { genKeyPair, KeyPair, wg } from './wg';

export const WIRETUN_CLI = path.join(REPO, 'bin', 'wiretun');
export const SERVER = { v4: '10.211.0.1', v6: 'fd00:211::1' };
export const CLIENT = { v4: '10.211.0.2', v6: 'fd00:211::2' };
export const SERVICES = path.join(__dirname, '..', 'rootless', 'server.cjs');
export const hasSetpriv = existsSync('/usr/bin/setpriv');

/** `setpriv` as nobody with no capabilities, ambient, inheritable or bounding; `nofile` raises the fd limit
 * first (prlimit execs setpriv, which execs the command: the spawned pid stays the command's). */
export function asNobody(cmd: string[], opts: { nofile?: number } = {}): string[] {
  const limit = opts.nofile ? ['prlimit', `--nofile=${opts.nofile}:${opts.nofile}`] : [];
  return [...limit, 'setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--inh-caps=-all',
    '--bounding-set=-all', '--no-new-privs', ...cmd];
}

export interface ServerSideOptions {
  /** DNS records the server side's DNS server answers (rootless/server.cjs's `records`). */
  records?: Record<string, { a?: string[]; aaaa?: string[] }>;
}

export interface RootlessPair {
  impl: Impl;
  lab: Lab;
  srv: Node;
  cli: Node;
  /** The server's TUN interface (addressed 10.211.0.1/24, fd00:211::1/64). */
  iface: Iface;
  /** A 0755 directory nobody can read: configs and the CA certificate go here. */
  shared: string;
  serverKey: KeyPair;
  clientKey: string;
  /** The services' certificate (CN and SAN service.test, SAN IP 10.211.0.1), 0644 in `shared`. */
  cert: string;
  services: ChildProcess;
  /** Writes the client's wg-quick file (0644) into `shared` and returns its path. */
  writeClientConf(opts?: { name?: string; endpoint?: string; dns?: boolean; extra?: string }): string;
  /** Runs `cmd` in the client (or `ns`) namespace: curl and friends. */
  exec(args: string[], opts?: { ns?: string; input?: string; timeoutMs?: number }): ReturnType<typeof run>;
  destroy(): Promise<void>;
}

/** Starts `node script cfgFile` in `ns` and resolves once it prints "ready". */
export async function startServices(ns: string, cfgFile: string, script = SERVICES): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, script, cfgFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${path.basename(script)} did not start`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && (clearTimeout(timer), resolve()));
    child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`${path.basename(script)} exited (${code})`))));
  });
  return child;
}

/** Two namespaces, `impl` serving the tunnel in the first with the services behind it; the client's key is
 * known to the server (allowed 10.211.0.2/32, fd00:211::2/128). */
export async function rootlessPair(impl: Impl, opts: ServerSideOptions = {}): Promise<RootlessPair> {
  if (!existsSync(path.join(REPO, 'dist', 'index.js'))) throw new Error('dist/ missing: run `npm run build:ts` first');
  const lab = await Lab.create(2);
  const [srv, cli] = lab.nodes;
  let services: ChildProcess | undefined;
  const shared = mkdtempSync(path.join(tmpdir(), 'wtrootless-'));
  const destroy = async () => {
    services?.kill();
    await lab.destroy();
    rmSync(shared, { recursive: true, force: true });
  };
  try {
    chmodSync(shared, 0o755);
    await lab.waitUnderlay(cli, srv);
    const cert = path.join(shared, 'cert.pem');
    const key = path.join(lab.tmp, 'key.pem');
    await must('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=service.test', '-addext', `subjectAltName=DNS:service.test,IP:${SERVER.v4}`, '-keyout', key, '-out', cert]);
    chmodSync(cert, 0o644);
    const iface = await startDaemon(lab, impl, srv);
    await addressTunnel(iface, 1);
    const serverKey = await genKeyPair(lab.tmp);
    const clientKey = generatePrivateKey();
    await wg(srv.ns, ['set', iface.name, 'private-key', serverKey.file, 'listen-port', '51820',
      'peer', publicKeyFromPrivate(clientKey), 'allowed-ips', `${CLIENT.v4}/32,${CLIENT.v6}/128`]);
    const serverCfg = path.join(lab.tmp, 'server.json');
    writeFileSync(serverCfg, JSON.stringify({ keyFile: key, certFile: cert, records: opts.records ?? {} }));
    services = await startServices(srv.ns, serverCfg);
    const writeClientConf: RootlessPair['writeClientConf'] = (o = {}) => {
      const file = path.join(shared, o.name ?? 'wg.conf');
      writeFileSync(file, [
        '[Interface]', `PrivateKey = ${clientKey}`, `Address = ${CLIENT.v4}/24, ${CLIENT.v6}/64`,
        ...(o.dns === false ? [] : [`DNS = ${SERVER.v4}`]), ...(o.extra ? [o.extra] : []), '',
        '[Peer]', `PublicKey = ${serverKey.pub}`, `Endpoint = ${o.endpoint ?? `${srv.v4}:51820`}`,
        'AllowedIPs = 10.211.0.0/24, fd00:211::/64', '',
      ].join('\n'), { mode: 0o644 });
      return file;
    };
    const exec: RootlessPair['exec'] = (args, o = {}) =>
      run('ip', ['netns', 'exec', o.ns ?? cli.ns, ...args], { input: o.input, timeoutMs: o.timeoutMs ?? 120_000 });
    return { impl, lab, srv, cli, iface, shared, serverKey, clientKey, cert, services, writeClientConf, exec, destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}

export interface Running {
  child: ChildProcess;
  /** Everything it has written to stderr so far. */
  stderr(): string;
  /** Resolves to the exit code (null after a signal). */
  exit: Promise<number | null>;
}

/** `wiretun proxy ARGS` in the client namespace as nobody (with `env` added to this process's environment;
 * `stdio`: its stdin and stdout are pipes, for a [STDIOTunnel]); resolves once stderr has announced
 * `listeners` listeners ("<kind> on <addr>" lines), rejects if it exits first. */
export async function startProxy(pair: RootlessPair, args: string[], listeners: number, opts: { nofile?: number; env?: Record<string, string>; stdio?: boolean } = {}): Promise<Running> {
  const io = opts.stdio ? 'pipe' : 'ignore';
  const spawnOpts: SpawnOptions = { stdio: [io, io, 'pipe'], cwd: '/', env: { ...process.env, ...opts.env } };
  const child = spawn('ip', ['netns', 'exec', pair.cli.ns, ...asNobody([process.execPath, WIRETUN_CLI, 'proxy', ...args], opts)], spawnOpts);
  let text = '';
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy did not start: ${text}`)), 20_000);
    const check = () => (text.match(/^wiretun proxy: \S+ on /gm) ?? []).length >= listeners && (clearTimeout(timer), resolve());
    child.stderr!.on('data', check);
    void exit.then((code) => (clearTimeout(timer), reject(new Error(`proxy exited (${code}): ${text}`))));
  });
  return { child, stderr: () => text, exit };
}
