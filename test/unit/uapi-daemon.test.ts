// wiretund's command line and its background hand-off, without root: the readiness report is exercised with
// small stand-in child scripts instead of the real daemon.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { WiretunError } from '../../ts/errors';
import { childKeepsOutput, detach } from '../../ts/daemon/background';
import { logger, logLevel } from '../../ts/daemon/log';
import { checkName, describe as describeError, parseArgs } from '../../ts/daemon/main';

describe('wiretund arguments', () => {
  it('takes -f/--foreground and one name; WG_PROCESS_FOREGROUND=1 also means foreground', () => {
    expect(parseArgs(['wg0'], {})).toEqual({ foreground: false, iface: 'wg0' });
    expect(parseArgs(['-f', 'wg0'], {})).toEqual({ foreground: true, iface: 'wg0' });
    expect(parseArgs(['wg0', '--foreground'], {})).toEqual({ foreground: true, iface: 'wg0' });
    expect(parseArgs(['wg0'], { WG_PROCESS_FOREGROUND: '1' })).toEqual({ foreground: true, iface: 'wg0' });
  });

  it('prints version and help with exit 0', () => {
    expect(parseArgs(['--version'], {}).exit).toMatchObject({ code: 0, out: expect.stringMatching(/^wiretund \d+\.\d+\.\d+/) });
    expect(parseArgs(['--help'], {}).exit).toMatchObject({ code: 0, out: expect.stringContaining('Usage: wiretund') });
  });

  it.each([[[]], [['a', 'b']], [['--bogus', 'wg0']], [['']], [['a'.repeat(16)]], [['a/b']], [['a b']], [['a\tb']], [['.']], [['..']], [['wg:1']]])(
    'refuses %j with exit 1 and a usage message',
    (argv) => {
      const r = parseArgs(argv, {});
      expect(r.exit?.code).toBe(1);
      expect(r.exit?.err).toMatch(/^wiretund: .*\n\nUsage:/);
    },
  );

  it('measures the name in bytes, as the kernel does', () => {
    expect(checkName('a'.repeat(15))).toBeUndefined();
    expect(checkName('é'.repeat(8))).toMatch(/1 to 15 bytes/);
    expect(checkName('wg-é')).toBeUndefined();
  });
});

describe('wiretund messages and logging', () => {
  it('adds what to do to permission and busy errors, once', () => {
    expect(describeError(new WiretunError('EPERM', 'open /dev/net/tun: denied'), 'wg0')).toBe(
      'wiretund: open /dev/net/tun: denied (creating wg0 needs root or CAP_NET_ADMIN)',
    );
    expect(describeError(new WiretunError('EPERM', 'creating a TUN device needs root or CAP_NET_ADMIN'), 'wg0')).toBe(
      'wiretund: creating a TUN device needs root or CAP_NET_ADMIN',
    );
    expect(describeError(new WiretunError('EBUSY', 'Device or resource busy'), 'wg0')).toBe(
      'wiretund: interface wg0 is in use: Device or resource busy',
    );
    expect(describeError(new Error('anything else'), 'wg0')).toBe('wiretund: anything else');
  });

  it('reads LOG_LEVEL like wireguard-go (unknown → error)', () => {
    expect(logLevel(undefined)).toBe('error');
    expect(logLevel('verbose')).toBe('verbose');
    expect(logLevel('loud')).toBe('error');
  });

  it('logs at and below its level only', () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const log = logger('wg0', 'error');
      log.verbose('hidden');
      log.error('shown');
      logger('wg0', 'silent').error('hidden too');
      expect(write.mock.calls.map((c) => String(c[0]))).toEqual([expect.stringMatching(/^ERROR: \(wg0\) .* shown\n$/)]);
    } finally {
      write.mockRestore();
    }
  });

  it('keeps the caller’s output in the background only when LOG_LEVEL is set and not silent', () => {
    expect(childKeepsOutput({})).toBe(false);
    expect(childKeepsOutput({ LOG_LEVEL: '' })).toBe(false);
    expect(childKeepsOutput({ LOG_LEVEL: 'silent' })).toBe(false);
    expect(childKeepsOutput({ LOG_LEVEL: 'error' })).toBe(true);
    expect(childKeepsOutput({ LOG_LEVEL: 'verbose' })).toBe(true);
  });
});

describe('background hand-off', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wtd-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function script(name: string, body: string): string {
    const file = path.join(dir, name);
    writeFileSync(file, body);
    return file;
  }

  async function run(file: string): Promise<{ code: number; stderr: string }> {
    let stderr = '';
    const write = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
    try {
      return { code: await detach(file, 'wt0'), stderr };
    } finally {
      write.mockRestore();
    }
  }

  it('exits 0 once the child reports ready, while the child keeps running', async () => {
    const pidFile = path.join(dir, 'pid');
    const file = script(
      'ready.js',
      `const fs = require('fs');
       if (process.argv[2] !== '-f' || process.argv[3] !== 'wt0' || process.env.WG_PROCESS_FOREGROUND !== '1') process.exit(3);
       fs.writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));
       fs.writeSync(3, 'ready\\n'); fs.closeSync(3);
       setTimeout(() => {}, 30000);`,
    );
    const started = Date.now();
    expect(await run(file)).toEqual({ code: 0, stderr: '' });
    expect(Date.now() - started).toBeLessThan(10_000);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(() => process.kill(pid, 0)).not.toThrow();
    process.kill(pid, 'SIGTERM');
  });

  it("exits 1 with the child's error", async () => {
    const file = script('fail.js', `require('fs').writeSync(3, 'error: wiretund: /dev/net/tun is missing\\n'); process.exit(1);`);
    expect(await run(file)).toEqual({ code: 1, stderr: 'wiretund: /dev/net/tun is missing\n' });
  });

  it('exits 1 when the child dies without a report', async () => {
    const file = script('crash.js', `process.exit(7);`);
    expect(await run(file)).toEqual({ code: 1, stderr: 'wiretund: the daemon exited before it was ready\n' });
  });
});
