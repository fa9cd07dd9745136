// `wiretun peer add/remove` as file edits: the rest of the file byte-for-byte, names as `# Name` comments,
// the client config complete, nothing written on bad input.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generatePrivateKey, publicKeyFromPrivate } from '../../ts/keys';
import { configPeer } from '../../ts/config/wgquick';
import { parseConfig } from '../../ts/config/parse';
import { listPeers, planAdd, planRemove } from '../../ts/peers/manage';
import { appendSection, removeSections, scanPeers } from '../../ts/peers/sections';
import { commitEdit, loadConfig } from '../../ts/peers/store';
import { completeEndpoint } from '../../ts/peers/client';

const serverKey = generatePrivateKey();
const oldPeer = publicKeyFromPrivate(generatePrivateKey());
const SERVER = [
  '# The office VPN. Keep this comment!',
  '[Interface]',
  `PrivateKey = ${serverKey}`,
  'ListenPort = 51820',
  'Address = 10.44.0.1/24, fd44::1/64   # two subnets',
  'DNS = 10.44.0.1, corp.example',
  '#   PublicEndpoint = vpn.example.com',
  '',
  '[Peer]',
  '# Name = laptop',
  `PublicKey = ${oldPeer}`,
  'AllowedIPs = 10.44.0.2/32, fd44::2/128',
  '',
  '# end of file',
].join('\n');

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wtpeer-'));
  file = path.join(dir, 'wg9.conf');
  writeFileSync(file, SERVER, { mode: 0o600 });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('peer add', () => {
  it('appends a named peer and keeps everything else byte-for-byte', async () => {
    const loaded = await loadConfig(file);
    const plan = planAdd(loaded, undefined, { name: 'phone' });
    await commitEdit(loaded, plan.text);
    const after = readFileSync(file, 'latin1');
    expect(after.startsWith(`${SERVER}\n`)).toBe(true);
    const added = after.slice(SERVER.length + 1);
    expect(added).toBe(
      `\n[Peer]\n# Name = phone\nPublicKey = ${plan.peer.publicKey}\nPresharedKey = ${plan.peer.presharedKey}\n` +
        'AllowedIPs = 10.44.0.3/32, fd44::3/128\n',
    );
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // Still a valid config, with both peers.
    expect(parseConfig(after).device.peers.map((p) => p.publicKey.toString('base64'))).toEqual([oldPeer, plan.peer.publicKey]);
  });

  it('prints a complete client config', async () => {
    const plan = planAdd(await loadConfig(file), undefined, { name: 'phone' });
    const client = parseConfig(plan.client);
    expect(publicKeyFromPrivate(client.device.privateKey!.toString('base64'))).toBe(plan.peer.publicKey);
    expect(client.addresses).toEqual(['10.44.0.3/32', 'fd44::3/128']);
    expect(client.dns).toEqual(['10.44.0.1']);
    expect(client.dnsSearch).toEqual(['corp.example']);
    expect(client.device.peers).toEqual([
      configPeer(Buffer.from(publicKeyFromPrivate(serverKey), 'base64'), {
        presharedKey: Buffer.from(plan.peer.presharedKey!, 'base64'),
        endpoint: 'vpn.example.com:51820',
        allowedIps: ['10.44.0.0/24', 'fd44::/64'],
      }),
    ]);
  });

  it('takes --endpoint and --allowed-ips over the defaults', async () => {
    const plan = planAdd(await loadConfig(file), undefined, { endpoint: '[2001:db8::1]:443', allowedIps: ['0.0.0.0/0', '::/0'] });
    const [server] = parseConfig(plan.client).device.peers;
    expect(server.endpoint).toBe('[2001:db8::1]:443');
    expect(server.allowedIps).toEqual(['0.0.0.0/0', '::/0']);
    // No name: no comment line.
    expect(plan.text).not.toMatch(/Name = \n/);
  });

  it('counts the running interface peers as taken too', async () => {
    const live = {
      privateKey: null,
      listenPort: 51820,
      fwmark: 0,
      peers: [{ publicKey: Buffer.alloc(32, 1), lastHandshakeSec: 0, lastHandshakeNsec: 0, txBytes: 0, rxBytes: 0, persistentKeepalive: 0, allowedIps: ['10.44.0.3/32'] }],
    };
    expect(planAdd(await loadConfig(file), live, {}).peer.allowedIps).toEqual(['10.44.0.4/32', 'fd44::3/128']);
  });

  it('refuses bad input and leaves the file alone', async () => {
    const loaded = await loadConfig(file);
    expect(() => planAdd(loaded, undefined, { name: 'laptop' })).toThrow(/already exists/);
    expect(() => planAdd(loaded, undefined, { name: 'a # b' })).toThrow(/cannot contain/);
    expect(() => planAdd(loaded, undefined, { endpoint: 'vpn.example.com:99999' })).toThrow(/out of range/);
    writeFileSync(file, SERVER.replace(/^#   PublicEndpoint.*$/m, ''));
    expect(() => planAdd({ ...loaded, text: readFileSync(file, 'latin1') }, undefined, {})).toThrow(/--endpoint/);
    expect(readFileSync(file, 'latin1')).toBe(SERVER.replace(/^#   PublicEndpoint.*$/m, ''));
  });

  it('refuses to overwrite a file changed since it was read', async () => {
    const loaded = await loadConfig(file);
    const plan = planAdd(loaded, undefined, {});
    writeFileSync(file, `${SERVER}\n# edited meanwhile\n`);
    await expect(commitEdit(loaded, plan.text)).rejects.toThrow(/changed while/);
    expect(readFileSync(file, 'latin1')).toBe(`${SERVER}\n# edited meanwhile\n`);
  });

  it('puts the file back when the running interface refuses the change', async () => {
    const loaded = await loadConfig(file);
    const plan = planAdd(loaded, undefined, {});
    await expect(commitEdit(loaded, plan.text, () => Promise.reject(new Error('daemon said no')))).rejects.toThrow('daemon said no');
    expect(readFileSync(file, 'latin1')).toBe(SERVER);
  });

  it('keeps CRLF line endings and non-ASCII bytes', () => {
    const crlf = '[Interface]\r\n# caf\xc3\xa9\r\nPrivateKey = x\r\n';
    expect(appendSection(crlf, '[Peer]\r\nPublicKey = y\r\n')).toBe(`${crlf}\r\n[Peer]\r\nPublicKey = y\r\n`);
  });

  it('completes an endpoint without a port from the listen port', () => {
    expect(completeEndpoint('vpn.example.com', 51820)).toBe('vpn.example.com:51820');
    expect(completeEndpoint('2001:db8::1', 51820)).toBe('[2001:db8::1]:51820');
    expect(() => completeEndpoint('vpn.example.com')).toThrow(/no port/);
  });
});

describe('peer remove', () => {
  it('removes by name, restoring the original bytes after an add', async () => {
    const loaded = await loadConfig(file);
    const plan = planAdd(loaded, undefined, { name: 'phone' });
    await commitEdit(loaded, plan.text);
    const again = await loadConfig(file);
    const removal = planRemove(again, undefined, 'phone');
    expect(removal.publicKeys).toEqual([plan.peer.publicKey]);
    expect(removal.text).toBe(`${SERVER}\n`);
  });

  it('removes by public key and keeps the comments around the section', async () => {
    const removal = planRemove(await loadConfig(file), undefined, oldPeer);
    expect(removal.text).toBe(SERVER.replace(/\n\[Peer\][\s\S]*AllowedIPs = [^\n]*\n/, ''));
    expect(removal.text).toContain('# end of file');
    expect(removal.text).toContain('# The office VPN. Keep this comment!');
    expect(scanPeers(removal.text)).toEqual([]);
  });

  it('removes every section of a repeated key', () => {
    const text = `[Interface]\nPrivateKey = k\n\n[Peer]\nPublicKey = A\n\n[Peer]\nPublicKey = B\n\n[Peer]\npublickey=A\n`;
    const blocks = scanPeers(text).filter((b) => b.publicKey === 'A');
    expect(removeSections(text, blocks)).toBe('[Interface]\nPrivateKey = k\n\n[Peer]\nPublicKey = B\n');
  });

  it('refuses an unknown or ambiguous peer', async () => {
    const loaded = await loadConfig(file);
    expect(() => planRemove(loaded, undefined, 'nobody')).toThrow(/no peer named/);
    const dup = `${SERVER}\n\n[Peer]\n# Name = laptop\nPublicKey = ${publicKeyFromPrivate(generatePrivateKey())}\n`;
    expect(() => planRemove({ ...loaded, text: dup }, undefined, 'laptop')).toThrow(/2 peers are named/);
  });
});

describe('peer list', () => {
  it('merges the file with the running interface', async () => {
    const loaded = await loadConfig(file);
    const extra = Buffer.alloc(32, 7);
    const live = {
      privateKey: null,
      listenPort: 51820,
      fwmark: 0,
      peers: [
        { publicKey: Buffer.from(oldPeer, 'base64'), endpoint: '192.0.2.1:4000', lastHandshakeSec: 1_700_000_000, lastHandshakeNsec: 0, txBytes: 10, rxBytes: 20, persistentKeepalive: 0, allowedIps: ['10.44.0.2/32'] },
        { publicKey: extra, lastHandshakeSec: 0, lastHandshakeNsec: 0, txBytes: 0, rxBytes: 0, persistentKeepalive: 0, allowedIps: [] },
      ],
    };
    const rows = listPeers(loaded, live);
    expect(rows.map((r) => [r.name, r.inFile])).toEqual([['laptop', true], [undefined, false]]);
    expect(rows[0].live).toEqual({ endpoint: '192.0.2.1:4000', lastHandshake: new Date(1_700_000_000_000), rxBytes: 20, txBytes: 10 });
    expect(listPeers(loaded, undefined)[0].live).toBeUndefined();
  });
});
