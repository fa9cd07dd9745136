import { chmodSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../ts/cli/strip';
import { configPath } from '../../ts/config/locate';

const VALID = path.join(__dirname, '../fixtures/configs/valid');

function capture() {
  const out: Buffer[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: Buffer, cb?: (e?: Error) => void) => {
    out.push(Buffer.from(chunk));
    cb?.();
    return true;
  }) as typeof process.stdout.write);
  vi.spyOn(process.stderr, 'write').mockImplementation(((chunk: string) => {
    err.push(String(chunk));
    return true;
  }) as typeof process.stderr.write);
  return { out: () => Buffer.concat(out), err: () => err.join('') };
}

afterEach(() => vi.restoreAllMocks());

describe('wiretun strip', () => {
  it('prints what wg-quick strip prints and warns about a world-readable file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wiretun-strip-'));
    chmodSync(dir, 0o755);
    const file = path.join(dir, 'wtp-messy.conf');
    copyFileSync(path.join(VALID, 'wtp-messy.conf'), file);
    chmodSync(file, 0o644);
    const io = capture();
    expect(await run([file])).toBe(0);
    expect(io.out().equals(readFileSync(path.join(VALID, 'wtp-messy.strip')))).toBe(true);
    expect(io.err()).toContain(`Warning: \`${file}' is world accessible`);
    expect(io.err()).toMatch(/warning: .*already defined on line 1/);
  });

  it('reports a config error with its line and exits 1, without the key', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wiretun-strip-'));
    const file = path.join(dir, 'bad0.conf');
    writeFileSync(file, '[Interface]\nPrivateKey = iExm3nPZmnOAjofLO8n36MPzt1Z4prqaM5Z6K1f+k3\n', { mode: 0o600 });
    const io = capture();
    expect(await run([file])).toBe(1);
    expect(io.err()).toMatch(/bad0\.conf:2: PrivateKey on line 2 has the wrong length/);
    expect(io.err()).not.toContain('iExm3nPZ');
    expect(io.out().length).toBe(0);
  });

  it('looks up bare names in /etc/wireguard and insists on NAME.conf', async () => {
    expect(configPath('wg0')).toEqual({ file: '/etc/wireguard/wg0.conf', interfaceName: 'wg0' });
    expect(() => configPath('/tmp/my config.txt')).toThrow(/valid interface name, followed by \.conf/);
    const io = capture();
    expect(await run(['/nonexistent/wg9.conf'])).toBe(1);
    expect(io.err()).toContain("`/nonexistent/wg9.conf' does not exist");
    expect(await run([])).toBe(1);
  });
});
