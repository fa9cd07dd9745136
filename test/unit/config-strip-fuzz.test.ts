// Random files built from awkward lines, stripped by us and by the real `wg-quick strip`. Runs only where
// wg-quick is installed and we are root (wg-quick re-executes itself through sudo otherwise).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stripConfig } from '../../ts/config/strip';

function hasWgQuick(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v wg-quick'], { stdio: 'ignore' });
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
}

const PARTS = [
  '[Interface]', '[interface]', '[Peer]', ' [Peer] #x', '[Other]', 'Address = 1.2.3.4', 'address=1', ' MTU\t= 5 ', 'DNS',
  'Table =off # c', 'PostUp = a=b # c', 'PreDown=x\\y', 'SaveConfig = TRUE', 'SaveConfig=false#x', 'SaveConfig = maybe',
  'PrivateKey = k', 'Listen Port = 1', '# Address = 1', '', '   ', '\t', 'Address # = x', '=', 'x=y=z', 'Pre Up = 1',
  'MTU\r', ' \r', 'a\0b', '\xc9 = \xfc', '\\', '  PostDown = $(echo hi)  ',
];

/** A small deterministic PRNG so a failure can be replayed. */
function rng(seed: number): () => number {
  return () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
}

describe.runIf(hasWgQuick())('stripConfig against the real wg-quick strip', () => {
  it('agrees on 200 random files', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wiretun-fuzz-'));
    const file = path.join(dir, 'fz0.conf');
    const rand = rng(20210914);
    for (let i = 0; i < 200; i++) {
      let text = '';
      for (let n = 1 + Math.floor(rand() * 12); n > 0; n--) {
        text += PARTS[Math.floor(rand() * PARTS.length)] + (rand() < 0.1 ? '\r\n' : '\n');
      }
      if (rand() < 0.3) text = text.replace(/\n$/, '');
      writeFileSync(file, Buffer.from(text, 'latin1'), { mode: 0o600 });
      let real: string | Error;
      try {
        real = execFileSync('wg-quick', ['strip', file], { stdio: ['ignore', 'pipe', 'ignore'] }).toString('latin1');
      } catch {
        real = new Error('wg-quick failed');
      }
      let ours: string | Error;
      try {
        ours = stripConfig(text);
      } catch {
        ours = new Error('wg-quick failed');
      }
      expect({ text, out: ours }).toEqual({ text, out: real });
    }
  });
});
