// `wiretun demo`: a tunnel between two throw-away network namespaces, measured and removed again. It needs no
// configuration and sends nothing outside the namespaces it creates. This is the subcommand's argument and
// precondition handling; the demo itself is in ../demo/.
import { runDemo } from '../demo/session';
import { have } from '../proc';
import { usageError } from './common';

const USAGE = `Usage: wiretun demo [--verbose] [--no-iperf3]

  Creates two network namespaces joined by a veth pair, starts a wiretund in each, connects them with
  freshly generated keys, then reports handshake time, ping RTT over IPv4 and IPv6 and TCP throughput.
  Everything it creates is removed afterwards, also on failure and on Ctrl-C. Needs root.

  --verbose    show every command as it runs
  --no-iperf3  measure throughput with node itself even when iperf3 is installed

  Environment: WIRETUN_DEMO_DAEMON=PROGRAM uses another daemon with wireguard-go's command line
  (e.g. wireguard-go) instead of wiretund.
`;

function parseArgs(argv: string[]): { verbose: boolean; iperf: boolean; exit?: number } {
  const opts = { verbose: false, iperf: true };
  for (const a of argv) {
    if (a === '-h' || a === '--help') return process.stdout.write(USAGE), { ...opts, exit: 0 };
    if (a === '-v' || a === '--verbose') opts.verbose = true;
    else if (a === '--no-iperf3') opts.iperf = false;
    else return { ...opts, exit: usageError('demo', a.startsWith('-') ? `unknown option ${a}` : `unexpected argument ${a}`, USAGE) };
  }
  return opts;
}

function missingTools(): string[] {
  return ['ip', 'ping', 'ss'].filter((t) => !have(t));
}

export async function run(argv: string[]): Promise<number> {
  const opts = parseArgs(argv);
  if (opts.exit !== undefined) return opts.exit;
  if (process.getuid?.() !== 0) {
    process.stderr.write('wiretun demo: needs root (it creates network namespaces and interfaces); try `sudo wiretun demo`\n');
    return 1;
  }
  const missing = missingTools();
  if (missing.length) {
    process.stderr.write(`wiretun demo: missing ${missing.join(', ')} (Debian: apt-get install iproute2 iputils-ping)\n`);
    return 1;
  }
  return runDemo({ verbose: opts.verbose, iperf: opts.iperf });
}
