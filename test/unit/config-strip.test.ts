import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stripConfig } from '../../ts/config/strip';
import { ConfigError } from '../../ts/config/wgquick';

// Each test/fixtures/configs/valid/X.strip was produced by the real `wg-quick strip ./X.conf`
// (wireguard-tools v1.0.20210914); regenerate with test/fixtures/configs/derive.sh.
const DIR = path.join(__dirname, '../fixtures/configs/valid');
const confs = readdirSync(DIR).filter((f) => f.endsWith('.conf'));

describe('stripConfig matches wg-quick strip byte for byte', () => {
  it.each(confs)('%s', (f) => {
    const text = readFileSync(path.join(DIR, f)).toString('latin1');
    const expected = readFileSync(path.join(DIR, f.replace(/\.conf$/, '.strip'))).toString('latin1');
    expect(stripConfig(text)).toBe(expected);
  });

  it('handles an empty file, NUL bytes and a missing final newline like bash read', () => {
    expect(stripConfig('')).toBe('\n');
    expect(stripConfig('[Interface]\nMTU = 1\n')).toBe('[Interface]\n\n');
    expect(stripConfig('[Peer]\n  Pub\0licKey = x  ')).toBe('[Peer]\nPublicKey = x\n\n');
    // A whitespace-only last line without a newline is not read at all.
    expect(stripConfig('[Peer]\n\t')).toBe('[Peer]\n\n');
    expect(stripConfig('[Peer]\n\t\n')).toBe('[Peer]\n\n\n');
  });

  it('only removes wg-quick keys inside [Interface]', () => {
    expect(stripConfig('[Peer]\nAddress = 1.2.3.4\n[Interface]\nAddress=1.2.3.4\n')).toBe('[Peer]\nAddress = 1.2.3.4\n[Interface]\n\n');
  });

  it('dies on a SaveConfig that is neither true nor false, as wg-quick does', () => {
    expect(() => stripConfig('[Interface]\nSaveConfig = yes\n', 'x.conf')).toThrow(ConfigError);
  });
});
