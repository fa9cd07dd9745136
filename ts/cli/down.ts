// `wiretun down CONFIG_FILE | INTERFACE`: wg-quick down, which also works after the daemon crashed or was
// killed (from the state `up` recorded), and even when the config file has gone since: then the recorded
// state alone drives the cleanup (no hooks, no SaveConfig).
import { configPath, readConfigFile } from '../config/locate';
import { requireLinux } from '../platform';
import { parseConfig } from '../config/parse';
import { ConfigError, emptyConfig, WgQuickConfig } from '../config/wgquick';
import { applyDown } from '../routing/apply';
import { readState } from '../routing/state';
import { saver } from './save';
import { needsRoot, quickUsageError } from './common';
import { realEnv, reportFailure } from './wg-quick';

const USAGE = `Usage: wiretun down [ CONFIG_FILE | INTERFACE ]

  Takes a WireGuard interface down as \`wg-quick down\` does. When its daemon is gone, the rules, firewall
  tables, DNS and --masquerade settings recorded by \`wiretun up\` are still removed.
`;

interface Located {
  iface: string;
  path?: string;
  config: WgQuickConfig;
}

async function parseFile(arg: string): Promise<Located> {
  const located = await readConfigFile(arg);
  for (const w of located.warnings) process.stderr.write(`${w}\n`);
  const config = parseConfig(located.data.toString('utf8'), { file: located.path });
  for (const w of config.warnings) process.stderr.write(`wiretun: warning: ${w}\n`);
  return { iface: located.interfaceName, path: located.path, config };
}

/** The file named (or /etc/wireguard/IF.conf), else the one `up` used, else nothing but the recorded state. */
async function locate(arg: string): Promise<Located> {
  const { interfaceName } = configPath(arg);
  try {
    return await parseFile(arg);
  } catch (err) {
    if (!(err instanceof ConfigError) || !/does not exist/.test(err.message)) throw err;
    const { state } = await readState(interfaceName);
    if (!state) throw err;
    try {
      return await parseFile(state.configPath);
    } catch {
      process.stderr.write(`wiretun: warning: ${err.message}; going by what \`up\` recorded (no hooks, no SaveConfig)\n`);
      return { iface: interfaceName, config: emptyConfig() };
    }
  }
}

export async function run(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === '-h' || argv[0] === '--help')) {
    process.stderr.write(USAGE);
    return 0;
  }
  requireLinux('wiretun down');
  if (argv.length !== 1 || argv[0].startsWith('-')) {
    return quickUsageError(argv.length ? `unexpected ${argv.join(' ')}` : 'missing CONFIG_FILE or INTERFACE', USAGE);
  }
  if (needsRoot('down')) return 1;
  try {
    const { iface, path, config } = await locate(argv[0]);
    const env = realEnv();
    if (path) env.saveConfig = saver(env, path, config);
    const failed = await applyDown(env, config, iface);
    if (failed) process.stderr.write(`wiretun: down ${iface}: ${failed} step(s) failed (see above); run it again once fixed\n`);
    return failed ? 1 : 0;
  } catch (err) {
    return reportFailure(err);
  }
}
