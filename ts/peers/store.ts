// Reading the server's config and committing an edit of it together with the matching change to the running
// interface: both happen or neither does.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CONFIG_DIR, readConfigFile } from '../config/locate';
import { parseConfig } from '../config/parse';
import { WgQuickConfig } from '../config/wgquick';

export interface LoadedConfig {
  path: string;
  interfaceName: string;
  /** The file as latin1 text: one char per byte, so edits keep every other byte as it was. */
  text: string;
  config: WgQuickConfig;
  warnings: string[];
}

export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

/** `wg0` (→ /etc/wireguard/wg0.conf) or a path; parsed fully, so a broken file is refused before any edit. */
export async function loadConfig(arg: string, dir = CONFIG_DIR): Promise<LoadedConfig> {
  const located = await readConfigFile(arg, dir);
  const config = parseConfig(located.data.toString('utf8'), { file: located.path });
  return {
    path: located.path,
    interfaceName: located.interfaceName,
    text: located.data.toString('latin1'),
    config,
    warnings: [...located.warnings, ...config.warnings],
  };
}

/** Writes beside the file (0600), then renames over it: readers see the old file or the new one, never half. */
async function replaceFile(file: string, text: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    await fs.writeFile(tmp, Buffer.from(text, 'latin1'), { mode: 0o600, flag: 'wx' });
    await fs.chmod(tmp, 0o600);
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw new StoreError(`could not write ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

const LOCK_WAIT_MS = 10_000;
const LOCK_POLL_MS = 25;

/** Whether the process that wrote a lock file is gone (so the lock is stale). */
function lockHolderGone(pidText: string): boolean {
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Runs `fn` holding `.FILE.lock` beside the config (created O_EXCL, holding our pid), so that every wiretun
 * writer (`peer add` and `wiretun serve`, in any process) edits the file one at a time. A lock left by a dead
 * process is taken over. An editor does not take it; commitEdit's check catches that case.
 */
export async function withConfigLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  // Beside the real file, so that a symlink and its target share one lock.
  const real = await fs.realpath(file).catch(() => file);
  const lock = path.join(path.dirname(real), `.${path.basename(real)}.lock`);
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await fs.writeFile(lock, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new StoreError(`could not lock ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      const holder = await fs.readFile(lock, 'utf8').catch(() => undefined);
      // An empty file may be a writer between create and write: only a named dead pid makes it stale.
      if (holder && lockHolderGone(holder.trim())) await fs.rm(lock, { force: true });
      else if (Date.now() > deadline) throw new StoreError(`${file} is locked by process ${holder?.trim() || '?'} (${lock})`);
      else await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lock, { force: true });
  }
}

/**
 * Replaces the file's text with `updated`, then runs `live` (the change to the running interface). If `live`
 * fails, the original file is put back and the error rethrown. Refuses when the file changed since it was read,
 * rather than overwrite someone else's edit. Takes the file's lock unless the caller holds it (`locked`).
 */
export async function commitEdit(
  loaded: LoadedConfig,
  updated: string,
  live?: () => Promise<void>,
  opts: { locked?: boolean } = {},
): Promise<void> {
  if (!opts.locked) return withConfigLock(loaded.path, () => commitEdit(loaded, updated, live, { locked: true }));
  const current = await fs.readFile(loaded.path).catch(() => undefined);
  if (!current || current.toString('latin1') !== loaded.text) {
    throw new StoreError(`${loaded.path} changed while we were editing it; nothing was changed, try again`);
  }
  await replaceFile(loaded.path, updated);
  if (!live) return;
  try {
    await live();
  } catch (err) {
    await replaceFile(loaded.path, loaded.text);
    throw err;
  }
}
