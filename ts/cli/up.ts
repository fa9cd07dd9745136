// `wiretun up CONFIG_FILE | INTERFACE [--masquerade [OUT_IFACE]] [-f]`: wg-quick up on top of the userspace
// daemon. Everything or nothing: a failure at any step undoes what was done and exits 1 with the reason.
import { requireLinux } from '../platform';
import { readConfigFile } from '../config/locate';
import { parseConfig } from '../config/parse';
import { applyUp } from '../routing/apply';
import { needsRoot, quickUsageError } from './common';
import { Signals, stayUp } from './up-foreground';
import { realEnv, reportFailure } from './wg-quick';

const USAGE = `Usage: wiretun up [ CONFIG_FILE | INTERFACE ] [--masquerade [OUT_IFACE]] [-f | --foreground]

  Brings a WireGuard interface up as \`wg-quick up\` does, with wiretun's userspace daemon.
  --masquerade [OUT_IFACE]  also enable IP forwarding and NAT the tunnel's subnets (leaving by OUT_IFACE,
                            or by any interface but the tunnel); \`wiretun down\` undoes exactly that.
  -f, --foreground          stay running once up: SIGTERM or SIGINT runs \`wiretun down\` and exits 0; if the
                            daemon dies, \`down\` runs too and the exit status is 1 (for systemd units).
`;

interface UpArgs {
  config?: string;
  masquerade?: string;
  foreground?: boolean;
  help?: boolean;
  error?: string;
}

export function parseUpArgs(argv: string[]): UpArgs {
  const out: UpArgs = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') out.help = true;
    else if (a === '-f' || a === '--foreground') out.foreground = true;
    else if (a.startsWith('--masquerade=')) out.masquerade = a.slice('--masquerade='.length);
    else if (a === '--masquerade') {
      const next = argv[i + 1];
      // The word after the flag is OUT_IFACE only if the config is named elsewhere.
      const takes = next !== undefined && !next.startsWith('-') && (out.config !== undefined || argv.length > i + 2);
      out.masquerade = takes ? next : '';
      if (takes) i++;
    } else if (a.startsWith('-')) return { error: `unknown option ${a}` };
    else if (out.config === undefined) out.config = a;
    else return { error: `unexpected argument ${a}` };
  }
  if (!out.help && out.config === undefined) return { error: 'missing CONFIG_FILE or INTERFACE' };
  return out;
}

/** SIGINT/SIGTERM during `up` stop it after the current step and roll back, like wg-quick's trap; with
 * --foreground, the first one afterwards starts `down`. Trapped until release, so none kills us half way. */
function trapSignals(): Signals {
  let first: NodeJS.Signals | undefined;
  const waiters: ((s: NodeJS.Signals) => void)[] = [];
  const onSignal = (s: NodeJS.Signals) => {
    first ??= s;
    for (const w of waiters.splice(0)) w(s);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    interrupted: () => first !== undefined,
    next: () => (first !== undefined ? Promise.resolve(first) : new Promise((resolve) => waiters.push(resolve))),
    release: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

export async function run(argv: string[]): Promise<number> {
  const args = parseUpArgs(argv);
  if (args.error) return quickUsageError(args.error, USAGE);
  if (args.help || args.config === undefined) {
    process.stderr.write(USAGE);
    return 0;
  }
  requireLinux('wiretun up');
  if (needsRoot('up')) return 1;
  const signals = trapSignals();
  try {
    const located = await readConfigFile(args.config);
    for (const w of located.warnings) process.stderr.write(`${w}\n`);
    const config = parseConfig(located.data.toString('utf8'), { file: located.path });
    for (const w of config.warnings) process.stderr.write(`wiretun: warning: ${w}\n`);
    const env = { ...realEnv(), interrupted: signals.interrupted };
    await applyUp(env, config, located.interfaceName, { configPath: located.path, masquerade: args.masquerade });
    return args.foreground ? await stayUp(located.interfaceName, args.config, signals) : 0;
  } catch (err) {
    return reportFailure(err);
  } finally {
    signals.release();
  }
}
