// Finding and reading a config file the way wg-quick's parse_options does: a bare interface name means
// /etc/wireguard/NAME.conf, the file's base name must be an interface name plus `.conf`, and a file whose
// "other" permission bits are open (where its directory's are too) draws a warning.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ConfigError, INTERFACE_NAME } from './wgquick';

export const CONFIG_DIR = '/etc/wireguard';

export interface LocatedConfig {
  /** The path as resolved (symlinks followed), as wg-quick names it in messages. */
  path: string;
  /** The interface name: the config file's base name without `.conf`. */
  interfaceName: string;
  /** The raw bytes; decode as latin1 for strip (byte-exact) or utf8 for parsing. */
  data: Buffer;
  warnings: string[];
}

/** Maps `wg0` to /etc/wireguard/wg0.conf and checks the name; throws ConfigError with wg-quick's wording. */
export function configPath(arg: string, dir = CONFIG_DIR): { file: string; interfaceName: string } {
  const file = INTERFACE_NAME.test(arg) ? path.join(dir, `${arg}.conf`) : arg;
  const m = /(^|\/)([a-zA-Z0-9_=+.-]{1,15})\.conf$/.exec(file);
  if (!m) throw new ConfigError('The config file must be a valid interface name, followed by .conf', { file });
  return { file, interfaceName: m[2] };
}

/** wg-quick's test: file mode & directory mode & 0007 must be 0. */
export function worldAccessible(fileMode: number, dirMode: number): boolean {
  return (fileMode & dirMode & 0o007) !== 0;
}

export async function readConfigFile(arg: string, dir = CONFIG_DIR): Promise<LocatedConfig> {
  const { file, interfaceName } = configPath(arg, dir);
  let real: string;
  try {
    real = await fs.realpath(file);
  } catch {
    throw new ConfigError(`\`${file}' does not exist`, { file });
  }
  const warnings: string[] = [];
  const [st, dirSt] = await Promise.all([fs.stat(real), fs.stat(path.dirname(real))]);
  if (worldAccessible(st.mode, dirSt.mode)) warnings.push(`Warning: \`${real}' is world accessible`);
  let data: Buffer;
  try {
    data = await fs.readFile(real);
  } catch (err) {
    throw new ConfigError(`cannot read \`${real}': ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { file: real });
  }
  return { path: real, interfaceName, data, warnings };
}
