// `wiretun save CONFIG_FILE | INTERFACE`, and SaveConfig on `down`: the running device (over UAPI) and the
// link's addresses written back into the config file, keeping the wg-quick-only keys (DNS, Table, hooks...)
// from the file, like wg-quick's save_config. Written to FILE.tmp (0600) and renamed, so a crash never leaves
// half a file.
import { promises as fs } from 'node:fs';
import { requireLinux } from '../platform';
import { formatConfig } from '../config/format';
import { readConfigFile } from '../config/locate';
import { parseConfig } from '../config/parse';
import { configDevice, WgQuickConfig } from '../config/wgquick';
import { parseGet } from '../uapi/codec';
import { ApplyEnv, ApplyError } from '../routing/apply';
import { linkMtu } from '../routing/gather';
import { printed } from '../routing/ops';
import { needsRoot, quickUsageError } from './common';
import { realEnv, reportFailure } from './wg-quick';

const USAGE = 'Usage: wiretun save [ CONFIG_FILE | INTERFACE ]\n';

/** The link's addresses as `ADDR/PREFIX`; the kernel's own link-local ones are not configuration. */
async function linkAddresses(env: ApplyEnv, iface: string): Promise<string[]> {
  const out = await env.sys.capture(['ip', '-j', 'address', 'show', 'dev', iface]).catch(() => '[]');
  const [link] = JSON.parse(out || '[]') as { addr_info?: { local?: string; prefixlen?: number; scope?: string }[] }[];
  return (link?.addr_info ?? []).filter((a) => a.scope !== 'link' && a.local).map((a) => `${a.local}/${a.prefixlen}`);
}

/** The config to write: the running device and addresses, the rest from the file. */
export async function runningConfig(env: ApplyEnv, iface: string, file: WgQuickConfig): Promise<WgQuickConfig> {
  const device = configDevice(parseGet(await env.control.get(iface)));
  const addresses = await linkAddresses(env, iface);
  const mtu = file.mtu === undefined ? undefined : ((await linkMtu(env.sys, iface)) ?? file.mtu);
  return { ...file, device, addresses, mtu };
}

export async function writeConfigFile(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp`;
  try {
    await fs.writeFile(tmp, text, { mode: 0o600 });
    await fs.chmod(tmp, 0o600);
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw new ApplyError(`could not write ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** The SaveConfig step for ApplyEnv: bound to the file `down` read. */
export function saver(env: ApplyEnv, configPath: string, file: WgQuickConfig): (iface: string) => Promise<void> {
  return async (iface) => writeConfigFile(configPath, formatConfig(await runningConfig(env, iface, file)));
}

export async function run(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === '-h' || argv[0] === '--help')) {
    process.stderr.write(USAGE);
    return 0;
  }
  requireLinux('wiretun save');
  if (argv.length !== 1 || argv[0].startsWith('-')) return quickUsageError(argv.length ? `unexpected ${argv.join(' ')}` : 'missing CONFIG_FILE or INTERFACE', USAGE);
  if (needsRoot('save')) return 1;
  try {
    const located = await readConfigFile(argv[0]);
    for (const w of located.warnings) process.stderr.write(`${w}\n`);
    const config = parseConfig(located.data.toString('utf8'), { file: located.path });
    const env = realEnv();
    const iface = located.interfaceName;
    await env.control.get(iface).catch(() => {
      throw new ApplyError(`\`${iface}' is not a WireGuard interface (its daemon does not answer)`);
    });
    env.log(printed(['wg', 'showconf', iface]));
    await saver(env, located.path, config)(iface);
    return 0;
  } catch (err) {
    return reportFailure(err);
  }
}
