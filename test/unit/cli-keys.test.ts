// Keys come from the native core; they must be interchangeable with wg's.
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, have, wiretun } from './cli-helpers';

const B64_KEY = /^[A-Za-z0-9+/]{43}=\n$/;

beforeAll(assertBuilt);

function genkey(): string {
  const r = wiretun(['genkey']);
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(B64_KEY);
  return r.stdout;
}

describe('genkey / genpsk', () => {
  it('print distinct 32-byte base64 keys', () => {
    const a = genkey();
    expect(Buffer.from(a.trim(), 'base64')).toHaveLength(32);
    expect(genkey()).not.toBe(a);
    const psk = wiretun(['genpsk']);
    expect(psk.status).toBe(0);
    expect(psk.stdout).toMatch(B64_KEY);
  });
});

describe('pubkey', () => {
  it('derives the RFC 7748 test vector (Alice)', () => {
    const priv = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex').toString('base64');
    const r = wiretun(['pubkey'], `${priv}\n`);
    expect(r.status).toBe(0);
    expect(Buffer.from(r.stdout.trim(), 'base64').toString('hex')).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  });

  it.skipIf(!have('wg'))('genkey | pubkey matches wg pubkey', () => {
    for (let i = 0; i < 5; i++) {
      const priv = genkey();
      const ours = wiretun(['pubkey'], priv);
      const theirs = spawnSync('wg', ['pubkey'], { input: priv, encoding: 'utf8' });
      expect(ours.status).toBe(0);
      expect(ours.stdout).toBe(theirs.stdout);
    }
  });

  it('accepts surrounding whitespace as wg does', () => {
    const priv = genkey().trim();
    expect(wiretun(['pubkey'], `  ${priv}\r\n\n`).stdout).toBe(wiretun(['pubkey'], priv).stdout);
  });

  const bad = {
    empty: '',
    words: 'not a key\n',
    short: `${'A'.repeat(42)}=\n`,
    hex: `${'ab'.repeat(32)}\n`,
    'two keys': `${'A'.repeat(43)}=\n${'A'.repeat(43)}=\n`,
    'non-canonical padding bits': `${'A'.repeat(42)}B=\n`,
  };
  it.each(Object.entries(bad))('rejects %s with exit 1, a clear error and no echo of the input', (_name, input) => {
    const r = wiretun(['pubkey'], input);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('wiretun pubkey: stdin is not a base64 private key');
    if (input.trim()) expect(r.stderr).not.toContain(input.trim().split('\n')[0]);
  });
});
