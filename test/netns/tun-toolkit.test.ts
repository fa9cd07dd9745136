// The TUN/TAP toolkit against the real kernel, inside namespaces this file creates: `wiretun tun watch --echo`
// answers ping (IPv4 and IPv6), a persistent device made with --user nobody opens as nobody, and openTun's
// async iteration yields a sent packet and ends on close().
import { ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { must, run } from './lib/proc';
import { waitFor } from './lib/wait';

const REPO = path.resolve(__dirname, '..', '..');
const WIRETUN = path.join(REPO, 'bin', 'wiretun');
const TUN_MODULE = path.join(REPO, 'dist', 'tun', 'index.js');
const PREFIX = 'wtt';

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'the TUN toolkit tests need root (namespaces, TUN devices)';
  if (!existsSync('/dev/net/tun')) return 'the TUN toolkit tests need /dev/net/tun';
  return undefined;
}
const skip = skipReason();
if (skip) console.warn(`\n*** SKIPPED: ${skip} ***\n*** test/netns/tun-toolkit.test.ts did NOT run. ***\n`);

/** A long-running child whose output we watch; killed in cleanup however the test ends. */
interface Watched {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

function start(ns: string, cmd: string, args: string[]): Watched {
  const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out: () => out, exited };
}

describe.skipIf(skip !== undefined)('TUN/TAP toolkit (root, namespaces)', () => {
  const namespaces: string[] = [];
  const children: Watched[] = [];
  let scratch = '';
  let counter = 0;

  async function sweepStale(): Promise<void> {
    // Namespaces of an earlier run that was killed before its cleanup: their pid is gone.
    const list = await run('ip', ['netns', 'list']);
    for (const line of list.stdout.split('\n')) {
      const m = new RegExp(`^(${PREFIX}-(\\d+)-\\d+)`).exec(line);
      if (!m || Number(m[2]) === process.pid) continue;
      if (!existsSync(`/proc/${m[2]}`)) await run('ip', ['netns', 'del', m[1]]);
    }
  }

  async function namespace(): Promise<string> {
    const ns = `${PREFIX}-${process.pid}-${++counter}`;
    await must('ip', ['netns', 'add', ns]);
    namespaces.push(ns);
    await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    return ns;
  }

  function watch(ns: string, cmd: string, args: string[]): Watched {
    const w = start(ns, cmd, args);
    children.push(w);
    return w;
  }

  beforeAll(async () => {
    if (!existsSync(TUN_MODULE)) throw new Error(`${TUN_MODULE} is missing: run npx tsc -p tsconfig.json first`);
    await sweepStale();
    scratch = mkdtempSync(path.join(tmpdir(), 'wiretun-tun-'));
    // The scripts inside run as nobody too.
    chmodSync(scratch, 0o755);
  });

  afterAll(async () => {
    for (const w of children) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await Promise.all(children.map((w) => w.exited));
    for (const ns of namespaces) {
      // Persistent devices first, explicitly: they must not outlive the test in any namespace.
      const tuns = await run('ip', ['-n', ns, '-o', 'link', 'show', 'type', 'tun']);
      for (const m of tuns.stdout.matchAll(/^\d+: ([^:@]+)/gm)) await run('ip', ['-n', ns, 'link', 'del', m[1]]);
      await run('ip', ['netns', 'del', ns]);
    }
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('tun watch --echo answers IPv4 and IPv6 ping and prints one line per packet', async () => {
    const ns = await namespace();
    const w = watch(ns, process.execPath, [WIRETUN, 'tun', 'watch', 'wtecho0', '--address', '10.213.0.1/24', '--address', 'fd00:213::1/64', '--echo']);
    await waitFor('the watcher to start', () => w.out().includes('watching wtecho0'));
    const v4 = await run('ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.213.0.7'], { ns });
    const v6 = await run('ping', ['-6', '-c', '3', '-i', '0.2', '-W', '2', 'fd00:213::7'], { ns });
    expect(v4.stdout, v4.stdout + v4.stderr).toMatch(/3 packets transmitted, 3 received/);
    expect(v6.stdout, v6.stdout + v6.stderr).toMatch(/3 packets transmitted, 3 received/);
    expect(w.out()).toMatch(/IPv4 10\.213\.0\.1 > 10\.213\.0\.7 icmp echo-request id \d+ seq 3/);
    expect(w.out()).toMatch(/reply: IPv6 fd00:213::7 > fd00:213::1 icmpv6 echo-reply id \d+ seq 3/);
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    // A device the watcher created is gone with it.
    expect((await run('ip', ['-n', ns, 'link', 'show', 'wtecho0'])).code).not.toBe(0);
  });

  it('tun watch says so when its interface is deleted under it', async () => {
    const ns = await namespace();
    const w = watch(ns, process.execPath, [WIRETUN, 'tun', 'watch', 'wtgone0']);
    await waitFor('the watcher to start', () => w.out().includes('watching wtgone0'));
    await must('ip', ['-n', ns, 'link', 'del', 'wtgone0']);
    expect(await w.exited).toBe(1);
    expect(w.out()).toContain('ENODEV: interface wtgone0 was deleted while being read');
  });

  it('a persistent TUN added with --user nobody opens as nobody, not as another user; del removes it', async () => {
    const ns = await namespace();
    await must(process.execPath, [WIRETUN, 'tun', 'add', 'wtown0', '--user', 'nobody'], { ns });
    const listed = await must(process.execPath, [WIRETUN, 'tun', 'list'], { ns });
    expect(listed).toMatch(/^wtown0: tun persist user 65534$/m);
    const script = path.join(scratch, 'open-as-user.js');
    writeFileSync(
      script,
      `const { openTun } = require(${JSON.stringify(TUN_MODULE)});\n` +
        `const dev = openTun({ name: process.argv[2], mode: 'tun' });\n` +
        `console.log('opened ' + dev.name + ' as uid ' + process.getuid());\n` +
        `dev.close();\n`,
      { mode: 0o644 },
    );
    const asNobody = ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, script, 'wtown0'];
    const ok = await run('setpriv', asNobody, { ns });
    expect(ok.stdout, ok.stderr).toContain('opened wtown0 as uid 65534');
    const asDaemon = ['--reuid=daemon', '--regid=daemon', '--clear-groups', process.execPath, script, 'wtown0'];
    const refused = await run('setpriv', asDaemon, { ns });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('EPERM');
    // Still there after nobody closed it: persistence is the point.
    await must('ip', ['-n', ns, 'link', 'show', 'wtown0']);
    await must(process.execPath, [WIRETUN, 'tun', 'del', 'wtown0'], { ns });
    expect((await run('ip', ['-n', ns, 'link', 'show', 'wtown0'])).code).not.toBe(0);
  });

  it('openTun yields a packet sent into the device, and close() ends the iteration', async () => {
    const ns = await namespace();
    const script = path.join(scratch, 'iterate.js');
    // Reads until it sees the test's UDP datagram, then closes from a timer while the next read is pending:
    // the loop must end by itself.
    writeFileSync(
      script,
      `const { openTun, decodePacket } = require(${JSON.stringify(TUN_MODULE)});\n` +
        `const dev = openTun({ name: 'wtiter0', mode: 'tun' });\n` +
        `console.log('ready');\n` +
        `(async () => {\n` +
        `  let found = false;\n` +
        `  for await (const packet of dev) {\n` +
        `    const p = decodePacket(packet);\n` +
        `    if (found || !p.udp || p.udp.destinationPort !== 9999) continue;\n` +
        `    found = true;\n` +
        `    console.log('packet ' + JSON.stringify({ source: p.source, destination: p.destination, udp: p.udp, data: packet.subarray(28).toString() }));\n` +
        `    setTimeout(() => dev.close(), 300);\n` +
        `  }\n` +
        `  console.log('ended closed=' + dev.closed);\n` +
        `  await dev.read().then(() => console.log('read after close resolved'), (e) => console.log('read after close: ' + e.code));\n` +
        `})();\n`,
      { mode: 0o644 },
    );
    const w = watch(ns, process.execPath, [script]);
    await waitFor('the device to open', () => w.out().includes('ready'));
    await must('ip', ['-n', ns, 'address', 'add', '10.214.0.1/24', 'dev', 'wtiter0']);
    await must('ip', ['-n', ns, 'link', 'set', 'wtiter0', 'up']);
    const send =
      "const s = require('dgram').createSocket('udp4');" +
      "s.send('hello tun', 9999, '10.214.0.2', (e) => { if (e) throw e; s.close(); });";
    await must(process.execPath, ['-e', send], { ns });
    await waitFor('the iterator to end', () => w.out().includes('ended'), { timeoutMs: 5_000 });
    expect(await w.exited).toBe(0);
    const line = /packet (.*)/.exec(w.out());
    expect(line, w.out()).not.toBeNull();
    expect(JSON.parse(line![1])).toMatchObject({
      source: '10.214.0.1',
      destination: '10.214.0.2',
      udp: { destinationPort: 9999, length: 17 },
      data: 'hello tun',
    });
    expect(w.out()).toContain('ended closed=true');
    expect(w.out()).toContain('read after close: EBADF');
  });
});
