// The rootless contenders, each the client side of one tunnel to wiretund: wiretun proxy (as nobody, no
// capabilities), our gVisor forwarder (bench/gvisor-forward, wireguard-go's tun/netstack) and onetun, both also as
// nobody, and wiretun's TUN mode as the ceiling. Each offers the same two forwards (iperf3 and the pump) and, where
// it has one, a SOCKS5 listener, all on the client namespace's loopback.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Background, start } from '../../ts/proc';
import { inNs, sh, waitFor } from './sh';
import { daemonPids, IF, TUN } from './topology';

const REPO = path.resolve(__dirname, '..', '..');
const CACHE = process.env.WIRETUN_BENCH_CACHE ?? '/var/cache/wiretun-bench';
// Fresh shells and sudo often lack the toolchains' own directories on PATH (as .ci/install-peers says too).
const GO = existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';
const CARGO_BIN = path.join(process.env.CARGO_HOME ?? path.join(process.env.HOME ?? '/root', '.cargo'), 'bin', 'cargo');
const CARGO = existsSync(CARGO_BIN) ? CARGO_BIN : 'cargo';
export const ONETUN_VERSION = '0.3.10';
const ONETUN = path.join(CACHE, 'onetun', 'bin', 'onetun');
const FORWARDER_SRC = path.join(__dirname, '..', 'gvisor-forward');

/** The server-side ports: iperf3 and the pump (bench/lib/pump.cjs). */
export const SERVER_PORT = { iperf: 5201, pump: 5300 };
/** The client side's forwards of them and its SOCKS5 listener, on 127.0.0.1. */
export const LOCAL_PORT = { iperf: 15201, pump: 15300, socks: 11080 };

export interface ClientSetup {
  ns: string;
  /** 0755 directory for files the unprivileged client reads. */
  dir: string;
  privateKey: string;
  serverPublicKey: string;
  endpoint: string;
}

export interface RunningClient {
  /** The process whose memory is measured (undefined for the TUN mode, whose sockets are the kernel's). */
  pid?: number;
  output(): string;
  stop(): Promise<void>;
}

export interface RootlessClient {
  name: string;
  socks: boolean;
  /** Where iperf3 and the pump connect: the local forwards, or the server itself for the TUN mode. */
  direct: boolean;
  skipped?: string;
  /** The kernel's congestion control the streams ask for (iperf3 -C; both ends), for the TUN clients. */
  congestion?: string;
  start(s: ClientSetup): Promise<RunningClient>;
}

const NOBODY = ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs'];
const hex = (b64: string) => Buffer.from(b64, 'base64').toString('hex');
const forwards = Object.keys(SERVER_PORT) as (keyof typeof SERVER_PORT)[];

/** A long-running client process as nobody in `ns` (bounded: killed after 30 minutes whatever happens). */
function asNobody(ns: string, cmd: string, args: string[]): RunningClient {
  const bg: Background = start(NOBODY[0], [...NOBODY.slice(1), cmd, ...args], { ns, timeoutMs: 30 * 60_000 });
  return {
    pid: bg.child.pid,
    output: bg.output,
    stop: async () => {
      bg.child.kill('SIGTERM');
      const killer = setTimeout(() => bg.child.kill('SIGKILL'), 3000);
      await bg.done;
      clearTimeout(killer);
    },
  };
}

/** `wiretun proxy` on one of its TCP engines (tcp2's is the table's subject, issue 21's sender). */
function wiretunProxy(engine: 'tcp2' | 'smoltcp'): RootlessClient {
  return {
    name: engine === 'tcp2' ? 'wiretun proxy (tcp2, default)' : 'wiretun proxy (smoltcp)',
    socks: true,
    direct: false,
    async start(s) {
      const conf = path.join(s.dir, 'wg.conf');
      writeFileSync(conf, ['[Interface]', `PrivateKey = ${s.privateKey}`, `Address = ${TUN.a}/24`, 'MTU = 1420', '',
        '[Peer]', `PublicKey = ${s.serverPublicKey}`, `Endpoint = ${s.endpoint}`, `AllowedIPs = ${TUN.b}/32`, ''].join('\n'), { mode: 0o644 });
      const flags = forwards.flatMap((f) => ['-L', `${LOCAL_PORT[f]}:${TUN.b}:${SERVER_PORT[f]}`]);
      return asNobody(s.ns, process.execPath, [path.join(REPO, 'bin', 'wiretun'), 'proxy', conf, ...flags, '--socks5', `127.0.0.1:${LOCAL_PORT.socks}`,
        '--tcp-engine', engine]);
    },
  };
}

function gvisorForward(binary: string | { skipped: string }): RootlessClient {
  return {
    name: 'gVisor netstack',
    socks: true,
    direct: false,
    ...(typeof binary === 'string' ? {} : binary),
    async start(s) {
      const uapi = path.join(s.dir, 'gvisor.uapi');
      writeFileSync(uapi, [`private_key=${hex(s.privateKey)}`, `public_key=${hex(s.serverPublicKey)}`, `endpoint=${s.endpoint}`,
        `allowed_ip=${TUN.b}/32`, ''].join('\n'), { mode: 0o644 });
      const flags = forwards.flatMap((f) => ['-L', `127.0.0.1:${LOCAL_PORT[f]}=${TUN.b}:${SERVER_PORT[f]}`]);
      return asNobody(s.ns, binary as string, ['-addr', TUN.a, '-uapi', uapi, ...flags, '-socks5', `127.0.0.1:${LOCAL_PORT.socks}`]);
    },
  };
}

function onetun(binary: string | { skipped: string }): RootlessClient {
  return {
    name: 'onetun',
    socks: false, // onetun forwards ports only
    direct: false,
    ...(typeof binary === 'string' ? {} : binary),
    async start(s) {
      const key = path.join(s.dir, 'onetun.key');
      writeFileSync(key, s.privateKey, { mode: 0o644 });
      const fwd = forwards.map((f) => `127.0.0.1:${LOCAL_PORT[f]}:${TUN.b}:${SERVER_PORT[f]}:TCP`);
      return asNobody(s.ns, binary as string, [...fwd, '--private-key-file', key, '--endpoint-public-key', s.serverPublicKey,
        '--endpoint-addr', s.endpoint, '--source-peer-ip', TUN.a, '--max-transmission-unit', '1420', '--log', 'warn']);
    },
  };
}

/** wiretund with a TUN in the client namespace: the same streams with the kernel's TCP (on `congestion`, both
 * ends), no forward. */
function tunMode(congestion: 'bbr' | 'cubic'): RootlessClient {
  return {
    name: `Linux ${congestion === 'bbr' ? 'BBR' : 'CUBIC'} (TUN mode)`,
    socks: false,
    direct: true,
    congestion,
    async start(s) {
      const key = path.join(s.dir, 'tun.key');
      writeFileSync(key, s.privateKey, { mode: 0o600 });
      await inNs(s.ns, path.join(REPO, 'bin', 'wiretund'), [IF.a], { timeoutMs: 20_000 });
      await inNs(s.ns, 'ip', ['address', 'add', `${TUN.a}/24`, 'dev', IF.a]);
      await inNs(s.ns, 'ip', ['link', 'set', 'mtu', '1420', 'up', 'dev', IF.a]);
      await inNs(s.ns, 'wg', ['set', IF.a, 'private-key', key, 'peer', s.serverPublicKey, 'endpoint', s.endpoint, 'allowed-ips', `${TUN.b}/32`]);
      return {
        pid: undefined,
        output: () => '',
        stop: async () => {
          await inNs(s.ns, 'ip', ['link', 'del', IF.a]).catch(() => undefined);
          await waitFor('the TUN client to exit', () => daemonPids(IF.a).length === 0, 10_000).catch(() => undefined);
        },
      };
    },
  };
}

/** Builds bench/gvisor-forward once per source version (a hash of its files) into the cache. */
async function buildForwarder(): Promise<string | { skipped: string }> {
  const hash = createHash('sha256');
  for (const f of ['main.go', 'go.mod', 'go.sum']) hash.update(readFileSync(path.join(FORWARDER_SRC, f)));
  const out = path.join(CACHE, 'gvisor-forward', hash.digest('hex').slice(0, 16), 'gvisor-forward');
  if (existsSync(out)) return out;
  console.log(`building bench/gvisor-forward into ${out}`);
  mkdirSync(path.dirname(out), { recursive: true, mode: 0o755 });
  try {
    await sh('sh', ['-c', `cd '${FORWARDER_SRC}' && '${GO}' build -trimpath -o '${out}.tmp' . && mv '${out}.tmp' '${out}'`], { timeoutMs: 15 * 60_000 });
    return out;
  } catch (err) {
    return { skipped: `go build of bench/gvisor-forward failed: ${(err as Error).message.split('\n')[0]}` };
  }
}

/** onetun from crates.io at the pinned version, installed once into the cache (minutes on 2 cores). */
async function installOnetun(): Promise<string | { skipped: string }> {
  const version = await sh(ONETUN, ['--version']).catch(() => '');
  if (version.trim() === `onetun ${ONETUN_VERSION}`) return ONETUN;
  console.log(`cargo install onetun@${ONETUN_VERSION} into ${path.dirname(path.dirname(ONETUN))} (a few minutes)`);
  try {
    await sh(CARGO, ['install', '--locked', '--force', '--quiet', '--root', path.dirname(path.dirname(ONETUN)), `onetun@${ONETUN_VERSION}`], { timeoutMs: 30 * 60_000 });
    return ONETUN;
  } catch (err) {
    return { skipped: `cargo install onetun@${ONETUN_VERSION} failed: ${(err as Error).message.split('\n')[0]}` };
  }
}

export async function rootlessClients(): Promise<RootlessClient[]> {
  return [wiretunProxy('tcp2'), wiretunProxy('smoltcp'), gvisorForward(await buildForwarder()), onetun(await installOnetun()), tunMode('bbr'),
    tunMode('cubic')];
}
