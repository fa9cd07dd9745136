// `wiretun peer add|list|remove` against a running server: the server is an in-process Tunnel (serving its UAPI
// socket) with its TUN in one namespace; the printed client config is brought up as a second Tunnel in another.
// The outer UDP stays on loopback in the test's own namespace.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tunnel, generatePrivateKey, parseConfig } from '../../ts/index';
import { localBinary } from '../../ts/native-loader';

const isRoot = process.getuid?.() === 0;
const built = existsSync(localBinary(`${__dirname}/../..`)) && existsSync(`${__dirname}/../../dist/cli/peer.js`);
if (!isRoot) console.warn('SKIPPED: peer CLI tests need root to create TUN devices and namespaces');

const BIN = path.resolve(__dirname, '../../bin/wiretun');
const tag = `${process.pid % 10000}`;
const ns = { server: `wtpc-s-${tag}`, client: `wtpc-c-${tag}` };
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' }).toString();
const ping = (from: string, to: string) =>
  spawnSync('ip', ['netns', 'exec', from, 'ping', '-c', '1', '-W', '1', to]).status === 0;

// The CLI talks to the UAPI socket this process serves: run it asynchronously, never with a *Sync call.
function wiretun(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(BIN, args, { timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!isRoot)('wiretun peer (root)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wtpc-'));
  const serverName = `wtps${tag}`;
  const serverFile = path.join(dir, `${serverName}.conf`);
  const serverText = `# server kept by hand\n[Interface]\nPrivateKey = ${generatePrivateKey()}\nListenPort = 0\nAddress = 10.71.0.1/24\n`;
  let server: Tunnel;
  let client: Tunnel | undefined;

  beforeAll(async () => {
    if (!built) throw new Error('native addon or dist missing: run `npm run build` first');
    for (const n of Object.values(ns)) ip('netns', 'add', n);
    writeFileSync(serverFile, serverText, { mode: 0o600 });
    server = await Tunnel.fromConfig(serverFile);
    ip('link', 'set', server.name, 'netns', ns.server);
    ip('-n', ns.server, 'address', 'add', '10.71.0.1/24', 'dev', server.name);
    ip('-n', ns.server, 'link', 'set', server.name, 'up');
  });

  afterAll(async () => {
    await client?.close();
    await server?.close();
    for (const n of Object.values(ns)) spawnSync('ip', ['netns', 'del', n]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('add: writes the file, adds the peer to the running server, prints a config that connects', async () => {
    const add = await wiretun('peer', 'add', serverFile, '--name', 'laptop', '--endpoint', `127.0.0.1:${server.listenPort}`, '--qr');
    expect(add.code, add.stderr).toBe(0);
    expect(add.stderr).toContain(`the running ${serverName}`);
    // The config, then a blank line and the QR code.
    const clientText = add.stdout.slice(0, add.stdout.indexOf('\n\n', add.stdout.indexOf('[Peer]')) + 1);
    expect(add.stdout.slice(clientText.length)).toMatch(/▄|█/); // the QR code follows the config
    const config = parseConfig(clientText);
    expect(config.addresses).toEqual(['10.71.0.2/32']);
    expect(config.device.peers[0]).toMatchObject({ publicKey: Buffer.from(server.publicKey, 'base64'), allowedIps: ['10.71.0.0/24'] });

    // The running server has it, and the file has it after the untouched original.
    const [peer] = server.peers();
    expect(peer).toMatchObject({ allowedIps: ['10.71.0.2/32'], hasPresharedKey: true });
    expect(readFileSync(serverFile, 'utf8').startsWith(`${serverText}\n[Peer]\n# Name = laptop\nPublicKey = ${peer.publicKey}\n`)).toBe(true);

    // Bring the printed config up on the other side and ping through.
    client = await Tunnel.fromConfig(config, { name: `wtpk${tag}` });
    ip('link', 'set', client.name, 'netns', ns.client);
    ip('-n', ns.client, 'address', 'add', '10.71.0.2/32', 'dev', client.name);
    ip('-n', ns.client, 'link', 'set', client.name, 'up');
    ip('-n', ns.client, 'route', 'add', '10.71.0.0/24', 'dev', client.name);
    await waitFor('ping client -> server', () => ping(ns.client, '10.71.0.1'));
  });

  it('list: shows the name, address, handshake and transfer from the running server', async () => {
    const list = await wiretun('peer', 'list', serverFile);
    expect(list.code, list.stderr).toBe(0);
    const row = list.stdout.split('\n').find((l) => l.startsWith('laptop'));
    expect(row).toMatch(/10\.71\.0\.2\/32\s+127\.0\.0\.1:\d+\s+(\d+ seconds? ago|now)/);
    expect(row).toMatch(/B received, .* sent/);
  });

  it('add refuses a duplicate name and changes nothing', async () => {
    const before = readFileSync(serverFile);
    const dup = await wiretun('peer', 'add', serverFile, '--name', 'laptop', '--endpoint', '127.0.0.1:1');
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('already exists');
    expect(readFileSync(serverFile).equals(before)).toBe(true);
    expect(server.peers()).toHaveLength(1);
  });

  it('remove: gone from the file (back to the original bytes) and from the running server', async () => {
    const rm = await wiretun('peer', 'remove', serverFile, 'laptop');
    expect(rm.code, rm.stderr).toBe(0);
    expect(server.peers()).toEqual([]);
    expect(readFileSync(serverFile, 'utf8')).toBe(serverText);
    expect(ping(ns.client, '10.71.0.1')).toBe(false);
    const again = await wiretun('peer', 'remove', serverFile, 'laptop');
    expect(again.code).toBe(1);
  });
});
