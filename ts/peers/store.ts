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

/**
 * Replaces the file's text with `updated`, then runs `live` (the change to the running interface). If `live`
 * fails, the original file is put back and the error rethrown. Refuses when the file changed since it was read,
 * rather than overwrite someone else's edit.
 */
export async function commitEdit(loaded: LoadedConfig, updated: string, live?: () => Promise<void>): Promise<void> {
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
