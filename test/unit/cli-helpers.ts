// Runs the real entry point (bin/wiretun → dist/cli/main.js), as a user would. Not a test file itself.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export const REPO = path.resolve(__dirname, '..', '..');
export const BIN = path.join(REPO, 'bin', 'wiretun');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Fails with a clear reason instead of an obscure MODULE_NOT_FOUND when the build step was skipped. */
export function assertBuilt(): void {
  if (!existsSync(path.join(REPO, 'dist', 'cli', 'main.js'))) {
    throw new Error('dist/cli/main.js is missing: run `npm run build` (or `npm run build:ts`) before the CLI tests');
  }
}

export function wiretun(args: string[], input?: string, prefix: string[] = []): CliResult {
  const [file, ...rest] = [...prefix, BIN, ...args];
  const r = spawnSync(file, rest, { input, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}
