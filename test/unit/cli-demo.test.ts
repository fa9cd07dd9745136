// The demo's parsing and refusal paths; the demo itself needs root and runs in CI's root job.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatRate, parsePing } from '../../ts/demo/measure';
import { assertBuilt, BIN, have, wiretun } from './cli-helpers';

describe('parsePing', () => {
  it('reads iputils summaries for IPv4 and IPv6', () => {
    const out =
      'PING 10.201.0.2 (10.201.0.2) 56(84) bytes of data.\n\n--- 10.201.0.2 ping statistics ---\n' +
      '10 packets transmitted, 9 received, 10% packet loss, time 912ms\nrtt min/avg/max/mdev = 0.187/1.034/7.212/2.060 ms\n';
    expect(parsePing(out)).toEqual({ sent: 10, received: 9, minMs: 0.187, avgMs: 1.034, maxMs: 7.212 });
  });

  it('gives undefined when every packet was lost (no rtt line)', () => {
    expect(parsePing('3 packets transmitted, 0 received, 100% packet loss, time 2030ms\n')).toBeUndefined();
  });
});

describe('formatRate', () => {
  it('picks a readable unit', () => {
    expect(formatRate(3.27e9)).toBe('3.27 Gbit/s');
    expect(formatRate(296.4e6)).toBe('296.4 Mbit/s');
    expect(formatRate(12_345)).toBe('12.3 kbit/s');
  });
});

// As root, drop to nobody to see the refusal; the demo must not touch the system before checking.
const asUser = process.getuid?.() === 0 ? (have('setpriv') ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : undefined) : [];

describe('wiretun demo without root', () => {
  it.skipIf(asUser === undefined)('exits 1 with a clear message', () => {
    assertBuilt();
    const r = wiretun(['demo'], undefined, asUser ?? []);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('wiretun demo: needs root');
    expect(r.stderr).not.toContain('creating namespaces');
  });
});

// End to end as root (CI's .ci/run is root): the demo works and leaves nothing behind, also when interrupted.
const isRoot = process.getuid?.() === 0;
const demoTools = ['ip', 'ping', 'ss'].filter((t) => !have(t));
const skipDemo = !isRoot ? 'not root' : demoTools.length ? `missing ${demoTools.join(', ')}` : '';
if (skipDemo) process.stderr.write(`\n*** SKIPPED wiretun demo end-to-end tests: ${skipDemo} ***\n\n`);

function leftovers(pid: number): string[] {
  const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  const names = ns.split('\n').map((l) => l.split(' ')[0]).filter((n) => n.endsWith(`-${pid}`) && n.startsWith('wtdemo-'));
  const socks = ['a', 'b'].map((s) => `/var/run/wireguard/wtd${pid}${s}.sock`).filter((f) => existsSync(f));
  const procs = spawnSync('pgrep', ['-f', `wtd${pid}[ab]`], { encoding: 'utf8' }).stdout.trim();
  return [...names, ...socks, ...(procs ? [`processes ${procs}`] : [])];
}

describe.skipIf(skipDemo !== '')('wiretun demo (root)', () => {
  it('reports handshake, IPv4 and IPv6 pings and throughput, then removes everything', async () => {
    assertBuilt();
    const child = spawn(BIN, ['demo', '--no-iperf3'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = collect(child);
    const code = await exited(child, 90_000);
    expect(code, out.stderr()).toBe(0);
    expect(out.stdout()).toMatch(/handshake\s+<= [\d.]+ ms: .*confirmed by the daemon/);
    expect(out.stdout()).toMatch(/ping IPv4\s+10\/10 replies, rtt min [\d.]+ ms, avg [\d.]+ ms/);
    expect(out.stdout()).toMatch(/ping IPv6\s+10\/10 replies/);
    expect(out.stdout()).toMatch(/throughput\s+[\d.]+ [kMG]bit\/s/);
    expect(leftovers(child.pid!)).toEqual([]);
  }, 120_000);

  it('Ctrl-C (SIGINT) mid-run removes everything and exits 130', async () => {
    assertBuilt();
    const child = spawn(BIN, ['demo'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = collect(child);
    // Interrupt once both daemons run and the tunnel is configured: the state with the most to clean up.
    await until(() => out.stderr().includes('handshake and first ping') || child.exitCode !== null, 60_000);
    child.kill('SIGINT');
    const code = await exited(child, 30_000);
    expect(code, out.stderr()).toBe(130);
    expect(leftovers(child.pid!)).toEqual([]);
  }, 120_000);
});

function collect(child: ChildProcess): { stdout: () => string; stderr: () => string } {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return { stdout: () => stdout, stderr: () => stderr };
}

function exited(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`wiretun demo did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? (signal ? -1 : null));
    });
  });
}

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
