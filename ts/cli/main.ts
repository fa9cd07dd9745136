// The `wiretun` dispatcher: picks a subcommand and leaves all of its argument handling to that module. Modules
// load lazily so `wiretun genkey` does not pay for the routing code, and `--help` works without the addon.
import { native, packageVersion } from '../native';
import { ConfigError } from '../config/wgquick';
import { WiretunError } from '../errors';
import { UnsupportedPlatformError } from '../platform';
import { UapiError } from '../uapi/codec';

interface Subcommand {
  summary: string;
  load(): { run(argv: string[]): Promise<number> };
}

/* eslint-disable @typescript-eslint/no-require-imports */
const SUBCOMMANDS: Record<string, Subcommand> = {
  up: { summary: 'bring an interface up from a wg-quick config (like wg-quick up)', load: () => require('./up') },
  down: { summary: 'take it down and undo everything up did (like wg-quick down)', load: () => require('./down') },
  save: { summary: 'write the running configuration back to its file (like wg-quick save)', load: () => require('./save') },
  strip: { summary: 'print the config without wg-quick-only keys (like wg-quick strip)', load: () => require('./strip') },
  show: { summary: 'show interfaces, peers, handshakes and transfer (like wg show)', load: () => require('./show') },
  showconf: { summary: "print an interface's running configuration (like wg showconf)", load: () => require('./showconf') },
  set: { summary: 'change an interface or its peers (like wg set)', load: () => require('./set') },
  syncconf: { summary: 'apply a config file, keeping sessions of unchanged peers (like wg syncconf)', load: () => require('./syncconf') },
  peer: { summary: 'add, list or remove a client of a server config; prints the new client\'s config', load: () => require('./peer') },
  proxy: { summary: 'SOCKS5/HTTP proxy and port forwards into a tunnel, without root (like wireproxy)', load: () => require('./proxy') },
  serve: { summary: 'web console API and Prometheus metrics for the server interfaces (see --help)', load: () => require('./serve') },
  gateway: { summary: "run one WireGuard server of a location kept in the console's PostgreSQL (see --help)", load: () => require('./gateway') },
  genkey: { summary: 'print a new private key (base64)', load: () => require('./genkey') },
  pubkey: { summary: 'read a private key on stdin, print its public key', load: () => require('./pubkey') },
  genpsk: { summary: 'print a new preshared key (base64)', load: () => require('./genpsk') },
  tun: { summary: 'TUN/TAP devices for learning and debugging: add, del, list, watch packets, answer pings', load: () => require('./tun') },
  demo: { summary: 'two namespaces, one tunnel: handshake, ping, throughput, then clean up (root)', load: () => require('./demo') },
};
/* eslint-enable @typescript-eslint/no-require-imports */

function usage(): string {
  const width = Math.max(...Object.keys(SUBCOMMANDS).map((n) => n.length));
  const lines = Object.entries(SUBCOMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return (
    `Usage: wiretun <command> [arguments]\n       wiretun --version | --help\n\n` +
    `Userspace WireGuard: a Rust data plane driven from Node.js.\n\nCommands:\n${lines.join('\n')}\n\n` +
    `\`wiretun <command> --help\` describes one command. The daemon is \`wiretund\` (wireguard-go's contract).\n`
  );
}

/** Package and native core versions; the core version is what the loaded addon reports about itself. */
function version(): number {
  process.stdout.write(`wiretun ${packageVersion()}\n`);
  try {
    process.stdout.write(`native core ${native().coreVersion()}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`wiretun: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    process.stderr.write(usage());
    return 1;
  }
  if (first === '--version' || first === '-V' || first === 'version') return version();
  if (first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(usage());
    return 0;
  }
  const command = Object.prototype.hasOwnProperty.call(SUBCOMMANDS, first) ? SUBCOMMANDS[first] : undefined;
  if (!command) {
    const what = first.startsWith('-') ? `unknown option ${first}` : `unknown command ${first}`;
    process.stderr.write(`wiretun: ${what}\n\n${usage()}`);
    return 1;
  }
  try {
    return await command.load().run(rest);
  } catch (err) {
    return reportError(err);
  }
}

/** The one place CLI errors become messages: expected failures print one clean line, bugs their stack. */
function reportError(err: unknown): number {
  const expected = [ConfigError, WiretunError, UapiError, UnsupportedPlatformError].some((E) => err instanceof E);
  if (expected) process.stderr.write(`wiretun: ${(err as Error).message}\n`);
  else process.stderr.write(`wiretun: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}
