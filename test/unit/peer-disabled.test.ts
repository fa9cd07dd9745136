// Disabled peers (`#~` comments), client defaults as [Interface] comments, hand-picked addresses and the config
// lock: the pieces `wiretun serve` adds under `wiretun peer`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../ts/config/parse';
import { checkAddresses } from '../../ts/peers/allocate';
import { clientDefaults, interfaceComment, setInterfaceComment } from '../../ts/peers/defaults';
import { deleteDisabled, disableSections, enableSection, scanDisabled } from '../../ts/peers/disabled';
import { scanPeers } from '../../ts/peers/sections';
import { withConfigLock } from '../../ts/peers/store';

const KEY_A = 'A'.repeat(42) + 'E=';
const KEY_B = 'B'.repeat(42) + 'A=';
const FILE = [
  '[Interface]',
  'Address = 10.1.0.1/24',
  '# PublicEndpoint = vpn.example.test',
  '',
  '[Peer]',
  '# Name = alice',
  `PublicKey = ${KEY_A}`,
  'AllowedIPs = 10.1.0.2/32',
  '# a comment about bob',
  '',
  '[Peer]',
  `PublicKey = ${KEY_B}`,
  'AllowedIPs = 10.1.0.3/32',
  '',
].join('\r\n');

describe('disabled peers', () => {
  it('comment a section out so parsers skip it, read it back, and restore the exact bytes', () => {
    const alice = scanPeers(FILE).filter((b) => b.publicKey === KEY_A);
    const off = disableSections(FILE, alice);
    expect(parseConfig(off).config.device.peers.map((p) => p.publicKey.toString('base64'))).toEqual([KEY_B]);
    const [d] = scanDisabled(off);
    expect(d).toMatchObject({ name: 'alice', publicKey: KEY_A, allowedIps: ['10.1.0.2/32'] });
    expect(off).toContain('# a comment about bob\r\n');
    expect(enableSection(off, d)).toBe(FILE);
    const gone = deleteDisabled(off, d);
    expect(gone).not.toContain(KEY_A);
    expect(parseConfig(gone).config.device.peers).toHaveLength(1);
  });
});

describe('client defaults in [Interface] comments', () => {
  it('are set, replaced and removed in place, keeping the line ending', () => {
    let text = setInterfaceComment(FILE, 'ClientDNS', '10.1.0.1, lan');
    expect(text).toContain('# PublicEndpoint = vpn.example.test\r\n# ClientDNS = 10.1.0.1, lan\r\n\r\n[Peer]');
    text = setInterfaceComment(text, 'ClientDNS', '9.9.9.9');
    text = setInterfaceComment(text, 'ClientPersistentKeepalive', '25');
    expect(clientDefaults(text)).toEqual({ endpoint: 'vpn.example.test', dns: { servers: ['9.9.9.9'], search: [] }, allowedIps: undefined, persistentKeepalive: 25 });
    expect(setInterfaceComment(setInterfaceComment(text, 'ClientDNS', undefined), 'ClientPersistentKeepalive', undefined)).toBe(FILE);
    expect(interfaceComment(FILE, 'ClientAllowedIPs')).toBeUndefined();
  });
});

describe('checkAddresses', () => {
  it('accepts free addresses inside the subnets and names the one at fault otherwise', () => {
    expect(checkAddresses(['10.1.0.1/24'], ['10.1.0.2/32'], ['10.1.0.9'])).toEqual(['10.1.0.9/32']);
    expect(() => checkAddresses(['10.1.0.1/24'], [], ['10.2.0.9'])).toThrow(/^addresses\[0\]: .*outside/);
    expect(() => checkAddresses(['10.1.0.1/24'], ['10.1.0.2/32'], ['10.1.0.8', '10.1.0.2'])).toThrow(/^addresses\[1\]: .*in use/);
    expect(() => checkAddresses(['10.1.0.1/24'], [], ['10.1.0.1'])).toThrow(/in use/);
    expect(() => checkAddresses(['10.1.0.1/24'], [], ['10.1.0.0/25'])).toThrow(/in use/);
  });
});

describe('withConfigLock', () => {
  it('runs writers one at a time and takes over a lock left by a dead process', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wiretun-lock-'));
    const file = path.join(dir, 'wg0.conf');
    writeFileSync(file, '');
    try {
      const order: string[] = [];
      const job = (name: string) =>
        withConfigLock(file, async () => {
          order.push(`${name} in`);
          await new Promise((r) => setTimeout(r, 20));
          order.push(`${name} out`);
        });
      await Promise.all([job('a'), job('b')]);
      // Whichever goes first, the other enters only after it left.
      expect(order.map((e) => e.split(' ')[1])).toEqual(['in', 'out', 'in', 'out']);
      expect(order[0].split(' ')[0]).toBe(order[1].split(' ')[0]);
      writeFileSync(path.join(dir, '.wg0.conf.lock'), '999999999\n');
      expect(await withConfigLock(file, async () => 'taken over')).toBe('taken over');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
