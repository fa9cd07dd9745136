// Two Tunnels in this process, each TUN moved into a namespace the test creates; the outer UDP stays on
// loopback in the test's own namespace. Exercises the public API end to end with real packets.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tunnel, WiretunError, generatePrivateKey, publicKeyFromPrivate } from '../../ts/index';
import { localBinary } from '../../ts/native-loader';

const isRoot = process.getuid?.() === 0;
const built = existsSync(localBinary(`${__dirname}/../..`));
if (!isRoot) console.warn('SKIPPED: Tunnel API tests need root to create TUN devices and namespaces');

const tag = `${process.pid % 10000}`;
const ns = { a: `wtapi-a-${tag}`, b: `wtapi-b-${tag}` };
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' }).toString();
// `wg` talks to the UAPI socket served by this very process, answered on a native thread: asynchronously, and
// synchronously too (the JS thread then waits for `wg`, and must not be needed to answer it).
const wg = (...args: string[]) =>
  new Promise<string>((resolve, reject) =>
    execFile('wg', args, { timeout: 10_000 }, (err, out) => (err ? reject(err) : resolve(out))),
  );
const wgSync = (...args: string[]) => execFileSync('wg', args, { timeout: 10_000, stdio: 'pipe' }).toString();
const WIRETUN = path.join(__dirname, '..', '..', 'bin', 'wiretun');
const ping = (from: string, to: string) =>
  spawnSync('ip', ['netns', 'exec', from, 'ping', '-c', '1', '-W', '1', to]).status === 0;

async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function place(t: Tunnel, netns: string, address: string): Promise<void> {
  ip('link', 'set', t.name, 'netns', netns);
  ip('-n', netns, 'address', 'add', address, 'dev', t.name);
  ip('-n', netns, 'link', 'set', t.name, 'up');
}

describe.skipIf(!isRoot)('Tunnel API (root)', () => {
  const keyA = generatePrivateKey();
  const keyB = generatePrivateKey();
  let a: Tunnel;
  let b: Tunnel;

  beforeAll(async () => {
    if (!built) throw new Error('native addon missing: run `npm run build` first');
    for (const n of Object.values(ns)) ip('netns', 'add', n);
    a = await Tunnel.create({ name: `wta${tag}`, privateKey: keyA });
    b = await Tunnel.create({ name: `wtb${tag}`, privateKey: keyB, listenPort: 0 });
    await place(a, ns.a, '10.66.0.1/24');
    await place(b, ns.b, '10.66.0.2/24');
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    for (const n of Object.values(ns)) spawnSync('ip', ['netns', 'del', n]);
  });

  it('exposes its key and port', () => {
    expect(a.publicKey).toBe(publicKeyFromPrivate(keyA));
    expect(a.listenPort).toBeGreaterThan(0);
  });

  it('handshakes, emits events and passes traffic', async () => {
    const handshakes: string[] = [];
    a.on('handshake', (e) => handshakes.push(e.publicKey));
    const roamed: string[] = [];
    b.on('endpointChanged', (e) => roamed.push(e.endpoint));
    await a.addPeer({ publicKey: b.publicKey, endpoint: `127.0.0.1:${b.listenPort}`, allowedIps: ['10.66.0.2/32'] });
    await b.addPeer({ publicKey: a.publicKey, allowedIps: ['10.66.0.1/32'] });
    await waitFor('ping a -> b', () => ping(ns.a, '10.66.0.2'));
    await waitFor('handshake event', () => handshakes.includes(b.publicKey));
    await waitFor('endpoint event', () => roamed.includes(`127.0.0.1:${a.listenPort}`));
    const [peer] = a.peers();
    expect(peer.lastHandshake).toBeInstanceOf(Date);
    expect(peer.rxBytes).toBeGreaterThan(0);
    expect(peer.txBytes).toBeGreaterThan(0);
  });

  it('carries packets of a 34 KB MTU', async () => {
    ip('-n', ns.a, 'link', 'set', 'dev', a.name, 'mtu', '34000');
    ip('-n', ns.b, 'link', 'set', 'dev', b.name, 'mtu', '34000');
    const big = spawnSync('ip', ['netns', 'exec', ns.a, 'ping', '-c', '1', '-W', '2', '-M', 'do', '-s', '33000', '10.66.0.2']);
    expect(big.status, big.stdout.toString()).toBe(0);
  });

  it('updates a peer at runtime: allowed IPs replaced, keepalive set', async () => {
    await a.updatePeer(b.publicKey, { allowedIps: ['10.66.0.0/24'], persistentKeepalive: 7 });
    const [peer] = a.peers();
    expect(peer.allowedIps).toEqual(['10.66.0.0/24']);
    expect(peer.persistentKeepalive).toBe(7);
    await expect(a.updatePeer(publicKeyFromPrivate(generatePrivateKey()), {})).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });

  it('removing a peer stops its traffic; adding it back restores it', async () => {
    expect(await a.removePeer(b.publicKey)).toBe(true);
    expect(ping(ns.a, '10.66.0.2')).toBe(false);
    await a.addPeer({ publicKey: b.publicKey, endpoint: `127.0.0.1:${b.listenPort}`, allowedIps: ['10.66.0.2/32'] });
    await waitFor('ping after re-adding', () => ping(ns.a, '10.66.0.2'));
  });

  it('rejects bad input with typed errors', async () => {
    await expect(a.addPeer({ publicKey: 'not-a-key' })).rejects.toBeInstanceOf(WiretunError);
    // A low-order key is no error, as in the kernel: listed, never handshaking (test/netns/wg-keys.test.ts).
    const lowOrder = Buffer.alloc(32).toString('base64');
    await a.addPeer({ publicKey: lowOrder });
    expect(a.peers().map((p) => p.publicKey)).toContain(lowOrder);
    expect(await a.removePeer(lowOrder)).toBe(true);
    await expect(Tunnel.create({ name: a.name.padEnd(20, 'x'), privateKey: keyA })).rejects.toMatchObject({
      code: 'EINVAL',
    });
  });

  it('fromConfig reads a wg-quick file: key, port and peers', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wtapi-'));
    const file = path.join(dir, `wtf${tag}.conf`);
    const key = generatePrivateKey();
    const peer = publicKeyFromPrivate(generatePrivateKey());
    writeFileSync(
      file,
      `[Interface]\nPrivateKey = ${key}\nListenPort = 0\nAddress = 10.67.0.1/24\n\n` +
        `[Peer]\n# a comment\nPublicKey = ${peer}\nAllowedIPs = 10.67.0.2/32, fd67::2/128\nEndpoint = 127.0.0.1:9\n`,
      { mode: 0o600 },
    );
    try {
      await using t = await Tunnel.fromConfig(file);
      expect(t.name).toBe(`wtf${tag}`);
      expect(t.publicKey).toBe(publicKeyFromPrivate(key));
      const [p] = t.peers();
      expect(p).toMatchObject({ publicKey: peer, endpoint: '127.0.0.1:9', allowedIps: ['10.67.0.2/32', 'fd67::2/128'] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves UAPI: `wg show` sees an in-process tunnel and its peer', async () => {
    const sock = `/var/run/wireguard/${a.name}.sock`;
    expect(a.uapiPath).toBe(sock);
    expect(existsSync(sock)).toBe(true);
    const dump = (await wg('show', a.name, 'dump')).trim().split('\n');
    expect(dump[0].split('\t').slice(0, 3)).toEqual([keyA, a.publicKey, String(a.listenPort)]);
    const peer = dump.slice(1).map((l) => l.split('\t'));
    expect(peer.map((f) => f[0])).toEqual([b.publicKey]);
    expect(peer[0][3]).toBe('10.66.0.2/32');
  });

  it('answers wg show, set and showconf, wiretun show and wg-quick save, called synchronously from this very process', () => {
    expect(wgSync('show', a.name, 'peers').trim().split('\n')).toEqual([b.publicKey]);
    const extra = publicKeyFromPrivate(generatePrivateKey());
    wgSync('set', a.name, 'peer', extra, 'allowed-ips', '10.66.9.0/24', 'persistent-keepalive', '15');
    expect(a.peers().find((p) => p.publicKey === extra)).toMatchObject({ allowedIps: ['10.66.9.0/24'], persistentKeepalive: 15 });
    const conf = wgSync('showconf', a.name);
    expect(conf).toContain(`PrivateKey = ${keyA}`);
    expect(conf).toContain(`PublicKey = ${extra}\nAllowedIPs = 10.66.9.0/24\nPersistentKeepalive = 15\n`);
    const shown = execFileSync(process.execPath, [WIRETUN, 'show', a.name, 'allowed-ips'], { timeout: 10_000, stdio: 'pipe' });
    expect(shown.toString()).toContain(`${extra}\t10.66.9.0/24`);
    // wg-quick save reads the interface back through `wg showconf` (and its addresses through ip, in a's netns).
    const dir = mkdtempSync(path.join(tmpdir(), 'wtapi-'));
    try {
      const file = path.join(dir, `${a.name}.conf`);
      writeFileSync(file, '[Interface]\n', { mode: 0o600 });
      execFileSync('ip', ['netns', 'exec', ns.a, 'wg-quick', 'save', file], { timeout: 10_000, stdio: 'pipe' });
      const saved = readFileSync(file, 'utf8');
      expect(saved).toContain('Address = 10.66.0.1/24');
      expect(saved).toContain(`PrivateKey = ${keyA}`);
      expect(saved).toContain(`PublicKey = ${extra}\nAllowedIPs = 10.66.9.0/24\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    wgSync('set', a.name, 'peer', extra, 'remove');
    expect(a.peers().map((p) => p.publicKey)).toEqual([b.publicKey]);
  });

  it("reports a refused UAPI request as an 'error' event", async () => {
    const errors: Error[] = [];
    a.on('error', (e) => errors.push(e));
    try {
      // b's port is taken (both tunnels' UDP is on this namespace's loopback): the native server refuses it.
      const r = spawnSync('wg', ['set', a.name, 'listen-port', String(b.listenPort)], { timeout: 10_000 });
      expect(r.status).not.toBe(0);
      await waitFor('the error event', () => errors.length > 0);
      expect(errors[0]).toBeInstanceOf(WiretunError);
      expect(errors[0].message).toMatch(/^UAPI set=1: binding UDP port \d+: /);
      expect(a.listenPort).not.toBe(b.listenPort);
    } finally {
      a.removeAllListeners('error');
    }
  });

  it('many tunnels in one process each get their socket; close removes it; uapi: false serves none', async () => {
    const names = [0, 1, 2, 3].map((i) => `wtm${i}${tag}`);
    const many = await Promise.all(names.map((name) => Tunnel.create({ name, privateKey: generatePrivateKey() })));
    const hidden = await Tunnel.create({ name: `wtn${tag}`, privateKey: generatePrivateKey(), uapi: false });
    try {
      const listed = (await wg('show', 'interfaces')).trim().split(/\s+/);
      expect(listed).toEqual(expect.arrayContaining(names));
      expect(listed).not.toContain(hidden.name);
      expect(hidden.uapiPath).toBeNull();
      expect(existsSync(`/var/run/wireguard/${hidden.name}.sock`)).toBe(false);
      await many[0].close();
      expect(existsSync(`/var/run/wireguard/${names[0]}.sock`)).toBe(false);
      expect(many[0].uapiPath).toBeNull();
      // The others keep answering after one closed.
      const port = (await wg('show', names[1], 'listen-port')).trim();
      expect(Number(port)).toBe(many[1].listenPort);
    } finally {
      for (const t of [...many, hidden]) await t.close();
    }
    for (const name of names) expect(existsSync(`/var/run/wireguard/${name}.sock`)).toBe(false);
  });

  it('close emits close and deletes the interface', async () => {
    const t = await Tunnel.create({ name: `wtc${tag}`, privateKey: generatePrivateKey() });
    const closed = new Promise((r) => t.once('close', r));
    await t.close();
    await closed;
    expect(existsSync(`/sys/class/net/wtc${tag}`)).toBe(false);
    expect(() => t.peers()).toThrow(/closed/);
  });
});
