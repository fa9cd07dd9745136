// The dispatcher's contract: versions, help, and exit 1 for anything it does not know.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, REPO, wiretun } from './cli-helpers';

const VERSION = (JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

beforeAll(assertBuilt);

describe('wiretun dispatcher', () => {
  it('--version prints the package and native core versions', () => {
    const r = wiretun(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`wiretun ${VERSION}\nnative core ${VERSION}\n`);
  });

  it('--help lists every subcommand and exits 0', () => {
    const r = wiretun(['--help']);
    expect(r.status).toBe(0);
    for (const c of ['up', 'down', 'genkey', 'pubkey', 'genpsk', 'demo']) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
  });

  it('no arguments prints usage to stderr and exits 1', () => {
    const r = wiretun([]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('Usage: wiretun');
  });

  it.each([['--bogus', 'unknown option --bogus'], ['frobnicate', 'unknown command frobnicate']])('%s exits 1', (arg, msg) => {
    const r = wiretun([arg]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`wiretun: ${msg}`);
  });

  it.each(['genkey', 'pubkey', 'genpsk', 'demo'])('%s --help exits 0 with its usage', (cmd) => {
    const r = wiretun([cmd, '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`Usage: wiretun ${cmd}`);
  });

  it.each(['genkey', 'pubkey', 'genpsk', 'demo'])('%s rejects an unknown flag with exit 1', (cmd) => {
    const r = wiretun([cmd, '--bogus'], '');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`wiretun ${cmd}: unknown option --bogus`);
  });

  it('genkey rejects a stray argument', () => {
    const r = wiretun(['genkey', 'extra']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('unexpected argument extra');
  });
});
