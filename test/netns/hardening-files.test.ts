// What a running tunnel exposes to other local users, and where key material can end up. Files: the socket
// directory is root 0755, the socket refuses an unprivileged user (EACCES, the same connect as root works),
// the state file `up` writes is 0600 in a 0700 directory. Keys: every byte wiretund (at each LOG_LEVEL, in the
// foreground and detached under `wiretun up`) and wiretun printed during full sessions, error paths included,
// is searched for every private and preshared key in base64 and hex, whole or as a 32-character prefix; only
// the commands that print keys by design (showconf, show dump, show private-key / preshared-keys) may.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addressTunnel, sockPath } from './lib/daemon';
import { assertAvailable, skipReason, WIRETUND } from './lib/env';
import {
  DefaultRouteNet, defaultRouteNet, exitWithin, Foreground, hasStateFile, STATE_DIR, startProcess, stateFile, waitPing, WIRETUN,
  wiretun, writeClientConf,
} from './lib/hardening';
import { Lab, SOCK_DIR } from './lib/lab';
import { run } from './lib/proc';
import { waitFor } from './lib/wait';

const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];
const LEVELS = ['silent', 'error', 'verbose', 'debug'] as const;
const hex = (b64: string) => Buffer.from(b64, 'base64').toString('hex');

interface Output {
  label: string;
  text: string;
}

/** A connect to the socket from a separate node process (as root, or as nobody): CONNECTED or the errno code. */
const CONNECT = `require('net').connect(process.argv[1]).on('connect', () => { console.log('CONNECTED'); process.exit(0); })
  .on('error', (e) => { console.log(e.code); process.exit(0); });`;

/** One raw UAPI request; resolves to the reply (or what arrived before the daemon closed the connection). */
function uapiRaw(ifname: string, request: string): Promise<string> {
  return new Promise((resolve) => {
    const conn = net.connect(sockPath(ifname));
    let reply = '';
    const done = () => {
      clearTimeout(timer);
      conn.destroy();
      resolve(reply);
    };
    const timer = setTimeout(done, 5_000);
    conn.on('connect', () => conn.write(request));
    conn.on('data', (d) => {
      reply += d.toString();
      if (/errno=-?\d+\n\n$/.test(reply)) done();
    });
    conn.on('error', done);
    conn.on('close', done);
  });
}

describe.skipIf(skipReason !== undefined)('hardening: files and key material', () => {
  let lab: Lab;
  let tn: DefaultRouteNet;
  let secrets: { name: string; forms: string[] }[];
  const running: Foreground[] = [];
  const brought = new Map<string, string>();

  beforeAll(async () => {
    assertAvailable(WIRETUND);
    lab = await Lab.create(2);
    tn = await defaultRouteNet(lab);
    // Whole keys and 32-character prefixes (192 bits): a message that cuts a key short still leaks most of it.
    const keys: [string, string][] = [['A private key', tn.aKey.priv], ['B private key', tn.bKey.priv], ['preshared key', tn.psk]];
    secrets = keys.map(([name, b64]) => ({ name, forms: [b64.slice(0, 32), hex(b64).slice(0, 32)] }));
  }, 120_000);

  afterEach(async () => {
    for (const fg of running.splice(0)) fg.child.kill('SIGKILL');
    for (const [ifname, conf] of brought) {
      if (hasStateFile(ifname)) await wiretun(tn.a.ns, ['down', conf], path.join(lab.tmp, `${ifname}.cleanup.log`));
    }
    brought.clear();
  }, 90_000);

  afterAll(async () => {
    for (const name of lab?.ifnames ?? []) {
      await run('rm', ['-f', stateFile(name)]);
    }
    await lab?.destroy();
  }, 60_000);

  /** Which outputs contain which secret, as `label: name` lines (case-insensitive for the hex forms). */
  function leaks(outputs: Output[]): string[] {
    const found: string[] = [];
    for (const o of outputs) {
      for (const s of secrets) {
        const [b64, hx] = s.forms;
        if (o.text.includes(b64) || o.text.toLowerCase().includes(hx)) found.push(`${o.label}: ${s.name}`);
      }
    }
    return found;
  }

  const log = (name: string) => path.join(lab.tmp, `${name}.log`);
  const asNobody = (cmd: string, args: string[]) => run('setpriv', [...NOBODY, cmd, ...args], { ns: tn.a.ns, timeoutMs: 20_000 });

  it('socket directory root 0755, socket closed to other users (EACCES), state file 0600 in a 0700 directory', async () => {
    const ifname = lab.ifname();
    const conf = writeClientConf(lab, tn, ifname, '', '10.211.0.2/32');
    brought.set(ifname, conf);
    const up = await wiretun(tn.a.ns, ['up', conf], log(`${ifname}.up`));
    expect(up.code, up.stdout).toBe(0);

    const dir = statSync(SOCK_DIR);
    expect([dir.isDirectory(), dir.mode & 0o7777, dir.uid, dir.gid]).toEqual([true, 0o755, 0, 0]);
    const sock = statSync(sockPath(ifname));
    expect(sock.isSocket()).toBe(true);
    expect([sock.mode & 0o077, sock.uid]).toEqual([0, 0]);

    // The same connect works as root, so the refusal below is about the user, not the probe.
    expect((await run('node', ['-e', CONNECT, sockPath(ifname)], { ns: tn.a.ns })).stdout.trim()).toBe('CONNECTED');
    const probe = await asNobody('node', ['-e', CONNECT, sockPath(ifname)]);
    expect(probe.stdout.trim(), probe.stderr).toBe('EACCES');
    const wgShow = await asNobody('wg', ['show', ifname]);
    expect(wgShow.code).not.toBe(0);
    const ours = await asNobody(WIRETUN, ['show', ifname, 'dump']);
    expect(ours.code).not.toBe(0);
    expect(ours.stderr).toMatch(/EACCES|permission denied/i);
    expect(leaks([{ label: 'wg show as nobody', text: wgShow.stdout + wgShow.stderr }, { label: 'wiretun show as nobody', text: ours.stdout + ours.stderr }])).toEqual([]);

    const state = statSync(stateFile(ifname));
    expect([state.mode & 0o777, state.uid]).toEqual([0o600, 0]);
    expect(statSync(STATE_DIR).mode & 0o777).toBe(0o700);
    expect((await asNobody('cat', [stateFile(ifname)])).code).not.toBe(0);
    expect(leaks([{ label: 'state file', text: readFileSync(stateFile(ifname), 'utf8') }])).toEqual([]);

    const down = await wiretun(tn.a.ns, ['down', conf], log(`${ifname}.down`));
    expect(down.code, down.stdout).toBe(0);
  }, 120_000);

  /** Writes a file next to the lab's keys (0600) and returns its path. */
  function keyFile(name: string, text: string): string {
    const file = path.join(lab.tmp, name);
    writeFileSync(file, text, { mode: 0o600 });
    return file;
  }

  /** wg-set arguments that must fail, each carrying a key or something close to one. */
  function badSets(ifname: string): string[][] {
    const near = (k: string) => `${k.slice(0, 42)}*=`;
    const p = tn.bKey.pub;
    return [
      ['set', ifname, 'private-key', tn.aKey.priv], // the key pasted where its file name goes
      ['set', ifname, 'private-key', keyFile('near.key', `${near(tn.aKey.priv)}\n`)],
      ['set', ifname, 'private-key', keyFile('double.key', `${tn.aKey.priv}${tn.aKey.priv}\n`)],
      ['set', ifname, 'peer', p, 'preshared-key', keyFile('near.psk', `${near(tn.psk)}\n`)],
      ['set', ifname, 'peer', p, 'preshared-key', tn.psk],
      ['set', ifname, 'private-key', tn.aKey.file, 'listen-port', 'nope'],
      ['set', ifname, 'private-key', '/nonexistent/key'],
    ];
  }

  /** Raw requests with key material in malformed places; each must get a non-zero errno. */
  function badUapi(): string[] {
    const k = hex(tn.aKey.priv);
    return [`set=1\nprivate_key=${k}X\n\n`, `set=1\npublic_key=${hex(tn.bKey.pub)}\npreshared_key=${hex(tn.psk).slice(0, 63)}\n\n`];
  }

  /** Raw requests whose malformed line IS key material: known to be echoed by the UAPI parser (see below). */
  function echoedUapi(): string[] {
    const k = hex(tn.aKey.priv);
    return [`set=1\nprivate_key${k}\n\n`, `set=1\n${k}=1\n\n`];
  }

  /** A full session against `wiretund -f` at one LOG_LEVEL; returns what every process printed. */
  async function daemonSession(level: (typeof LEVELS)[number], uapiProbes: string[]): Promise<{ ifname: string; printed: Output[]; keyPrinting: Output[] }> {
    const ifname = lab.ifname();
    const daemonLog = log(`${ifname}.wiretund-${level}`);
    const d = startProcess(tn.a.ns, WIRETUND.command, ['-f', ifname], daemonLog, { LOG_LEVEL: level });
    running.push(d);
    await waitFor(`${ifname}'s socket`, () => statSync(sockPath(ifname), { throwIfNoEntry: false }) !== undefined, { timeoutMs: 30_000 });
    await addressTunnel({ impl: WIRETUND, node: tn.a, name: ifname }, 1);
    const printed: Output[] = [];
    const cli = async (args: string[]) => {
      const r = await wiretun(tn.a.ns, args, log(`${ifname}.cli`), { LOG_LEVEL: level });
      printed.push({ label: `LOG_LEVEL=${level} wiretun ${args.join(' ')}`, text: r.stdout });
      return r;
    };
    const set = await cli(['set', ifname, 'private-key', tn.aKey.file, 'peer', tn.bKey.pub, 'preshared-key', tn.pskFile, 'endpoint', `${tn.b.v4}:51820`, 'allowed-ips', '10.211.0.2/32']);
    expect(set.code, set.stdout).toBe(0);
    await waitPing(tn.a.ns, '10.211.0.2', 'through the tunnel (handshake with PSK)');
    expect((await run('ping', ['-c', '5', '-i', '0.2', '10.211.0.2'], { ns: tn.a.ns })).code).toBe(0);
    for (const args of badSets(ifname)) expect((await cli(args)).code, args.join(' ')).not.toBe(0);
    for (const req of uapiProbes) expect(await uapiRaw(ifname, req)).toMatch(/^errno=-\d+\n\n$/m);
    const show = await cli(['show', ifname]);
    expect(show.stdout).toContain('preshared key: (hidden)');
    for (const args of [['show'], ['show', 'all'], ['show', ifname, '--json'], ['show', ifname, 'peers'], ['show', 'interfaces']]) await cli(args);
    const keyPrinting: Output[] = [];
    for (const args of [['showconf', ifname], ['show', ifname, 'dump'], ['show', ifname, 'private-key'], ['show', ifname, 'preshared-keys']]) {
      const r = await wiretun(tn.a.ns, args, log(`${ifname}.keys`));
      keyPrinting.push({ label: args.join(' '), text: r.stdout });
    }
    d.child.kill('SIGTERM');
    expect(await exitWithin(d, 20_000), d.output()).toBe(0);
    printed.push({ label: `wiretund -f at LOG_LEVEL=${level}`, text: d.output() });
    return { ifname, printed, keyPrinting };
  }

  it.each(LEVELS)('no key in anything wiretund (-f, LOG_LEVEL=%s) and wiretun printed through a session with errors', async (level) => {
    const { ifname, printed, keyPrinting } = await daemonSession(level, badUapi());
    const daemonOut = printed.at(-1)!.text;
    // The error paths reached the log wherever the level lets errors through, so the search covered them.
    if (level === 'silent') expect(daemonOut).toBe('');
    else expect(daemonOut).toMatch(/ERROR: .*private_key: expected 64 lowercase hex/);
    if (level === 'verbose' || level === 'debug') expect(daemonOut).toContain('handshake completed');
    expect(leaks(printed)).toEqual([]);
    // The key-printing commands do print them: proof the search recognises the keys in both forms.
    expect(leaks(keyPrinting)).toEqual([
      `showconf ${ifname}: A private key`,
      `showconf ${ifname}: preshared key`,
      `show ${ifname} dump: A private key`,
      `show ${ifname} dump: preshared key`,
      `show ${ifname} private-key: A private key`,
      `show ${ifname} preshared-keys: preshared key`,
    ]);
  }, 150_000);

  it('no key in what wiretun up/down and their detached daemon printed at LOG_LEVEL=debug', async () => {
    const ifname = lab.ifname();
    const conf = writeClientConf(lab, tn, ifname, '', '10.211.0.2/32');
    brought.set(ifname, conf);
    const env = { LOG_LEVEL: 'debug' };
    const upLog = log(`${ifname}.up`);
    const up = await wiretun(tn.a.ns, ['up', conf], upLog, env);
    expect(up.code, up.stdout).toBe(0);
    expect(up.stdout).toContain(`[#] wg setconf ${ifname} /dev/fd/63`);
    await waitPing(tn.a.ns, '10.211.0.2', 'through the tunnel');
    const show = await wiretun(tn.a.ns, ['show', ifname], log(`${ifname}.show`), env);
    const down = await wiretun(tn.a.ns, ['down', conf], log(`${ifname}.down`), env);
    expect(down.code, down.stdout).toBe(0);
    // The detached daemon kept writing into up's log until down ended it.
    const upAndDaemon = readFileSync(upLog, 'utf8');
    expect(upAndDaemon).toContain('UAPI set: private key');
    expect(leaks([
      { label: 'wiretun up + its daemon', text: upAndDaemon },
      { label: 'wiretun show', text: show.stdout },
      { label: 'wiretun down', text: down.stdout },
    ])).toEqual([]);
  }, 120_000);

  it('no key in the messages about bad config files', async () => {
    const p = tn.aKey.priv;
    const near = `${p.slice(0, 42)}*=`;
    const bodies: [string, string][] = [
      ['bad port after a good key', `PrivateKey = ${p}\nListenPort = nope\n`],
      ['a near-key', `PrivateKey = ${near}\n`],
      ['a misspelt key name', `PrivateKye = ${p}\n`],
      ['a key on a line of its own', `${p}\n`],
      ['a key with trailing junk', `PrivateKey = ${p} junk\n`],
    ];
    const printed: Output[] = [];
    for (const [what, body] of bodies) {
      const ifname = lab.ifname();
      const file = keyFile(`${ifname}.conf`, `[Interface]\n${body}\n[Peer]\nPublicKey = ${tn.bKey.pub}\nPresharedKey = ${tn.psk}x\nAllowedIPs = 10.211.0.2/32\n`);
      const r = await wiretun(tn.a.ns, ['up', file], log(`${ifname}.badconf`));
      expect(r.code, `${what}: ${r.stdout}`).toBe(1);
      expect(r.stdout, what).toMatch(/line \d/);
      printed.push({ label: `up with ${what}`, text: r.stdout });
    }
    expect(leaks(printed)).toEqual([]);
  }, 120_000);

  // The UAPI parser quotes what it could not parse (so the log says what was wrong), but withholds every run of
  // key-like characters: a malformed line made of key material must not reach wiretund's error log.
  it('a malformed UAPI line made of key material is not echoed into wiretund\'s error log', async () => {
    const { printed } = await daemonSession('error', echoedUapi());
    expect(printed.some((o) => /characters withheld/.test(o.text)), 'the malformed lines were logged at all').toBe(true);
    expect(leaks(printed)).toEqual([]);
  }, 150_000);
});
