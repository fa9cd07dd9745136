// The one process runner (ts/proc.ts) that the routing engine, the CLI, the demo, the tests and the benchmark
// share: what each of them relies on, with real short-lived processes.
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { CommandError, commandLine, describe as describeRun, must, mustDetaching, run, runDetaching, runSync, start } from '../../ts/proc';

const dir = mkdtempSync(path.join(os.tmpdir(), 'wiretun-proc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('run', () => {
  it('captures stdout and stderr, passes input and adds env to ours', async () => {
    const r = await run('sh', ['-c', 'cat; echo "$WT_X" >&2; exit 3'], { input: 'in', env: { WT_X: 'x' } });
    expect(r).toMatchObject({ code: 3, signal: null, stdout: 'in', stderr: 'x\n', timedOut: false });
    expect(r.error).toBeUndefined();
  });

  it('kills a command past its time limit and says so', async () => {
    const r = await run('sleep', ['5'], { timeoutMs: 50 });
    expect(r).toMatchObject({ code: null, signal: 'SIGKILL', timedOut: true });
    expect(describeRun('sleep', ['5'], r)).toBe('`sleep 5` timed out');
  });

  it('reports a command that is not there as not started', async () => {
    const r = await run('wiretun-no-such-command', []);
    expect(r.error?.code).toBe('ENOENT');
    expect(describeRun('wiretun-no-such-command', [], r)).toMatch(/^`wiretun-no-such-command` could not start:\nspawn wiretun-no-such-command ENOENT/);
  });

  it('copies a teed stderr to ours as it comes and keeps only its tail', async () => {
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((d: string | Uint8Array) => (written.push(d.toString()), true));
    try {
      const r = await run(process.execPath, ['-e', 'process.stderr.write("a".repeat(5000) + "END")'], { stderr: 'tee' });
      expect(r.stderr).toHaveLength(2000);
      expect(r.stderr.endsWith('END')).toBe(true);
    } finally {
      spy.mockRestore();
    }
    expect(written.join('')).toBe(`${'a'.repeat(5000)}END`);
  });

  it('tells `trace` the command line before it starts, `ip netns exec` included', async () => {
    const seen: string[] = [];
    const trace = (file: string, args: string[]) => seen.push(commandLine(file, args));
    await run('true', ['a\nb'], { trace });
    expect(seen).toEqual(['[#] true a']);
  });
});

describe('must', () => {
  it('resolves to stdout on exit 0', async () => {
    expect(await must('echo', ['hi'])).toBe('hi\n');
  });

  it('throws a CommandError naming the command, its namespace and its output', async () => {
    const err = await must('sh', ['-c', 'echo out; echo err >&2; exit 2'], { timeoutMs: 5000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect((err as CommandError).message).toBe('`sh -c echo out; echo err >&2; exit 2` exited with 2:\nerr\nout');
    expect((err as CommandError).result.code).toBe(2);
    const r = { code: 1, signal: null, stdout: '', stderr: 'no', timedOut: false };
    expect(describeRun('ping', ['x'], r, 'ns1')).toBe('`ping x` (in ns1) exited with 1:\nno');
  });
});

describe('runDetaching', () => {
  it('resolves on the direct child exit even while a grandchild holds the log open', async () => {
    const log = path.join(dir, 'detach.log');
    const started = Date.now();
    const r = await runDetaching('sh', ['-c', 'echo started; sleep 3 & exit 0'], log);
    expect(Date.now() - started).toBeLessThan(2500);
    expect(r).toMatchObject({ code: 0, stdout: 'started\n', timedOut: false });
    await expect(mustDetaching('sh', ['-c', 'echo bad; exit 4'], log)).rejects.toThrow(/exited with 4:\nstarted\nbad/);
  });
});

describe('runSync and start', () => {
  it('runSync never throws and reports the status', () => {
    expect(runSync('sh', ['-c', 'echo s; exit 5'])).toMatchObject({ code: 5, stdout: 's\n', timedOut: false });
    expect(runSync('sleep', ['5'], { timeoutMs: 50 })).toMatchObject({ timedOut: true });
  });

  it('start returns at once and collects the output of a long-running command', async () => {
    const bg = start(process.execPath, ['-e', 'console.log("up"); setTimeout(() => {}, 5000)'], { timeoutMs: 10_000 });
    for (let i = 0; i < 200 && !bg.output().includes('up'); i++) await new Promise((r) => setTimeout(r, 10));
    expect(bg.output()).toBe('up\n');
    bg.child.kill();
    expect(await bg.done).toBeNull();
  });
});
