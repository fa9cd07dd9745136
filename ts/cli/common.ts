// What the subcommands share: argument handling, so every one treats --help and stray arguments alike, and the
// root check. Light on purpose (no routing, no addon): every subcommand loads it. The wg-quick commands' real
// environment is in ./wg-quick.

/** Writes `wiretun CMD: message` and the usage to stderr; returns exit status 1. */
export function usageError(command: string, message: string, usage: string): number {
  process.stderr.write(`wiretun ${command}: ${message}\n\n${usage}`);
  return 1;
}

/** The wg-quick commands' form (up, down, save): `wiretun: message`, then the usage. */
export function quickUsageError(message: string, usage: string): number {
  process.stderr.write(`wiretun: ${message}\n${usage}`);
  return 1;
}

/** For commands that change the network: says so and returns true when not root. */
export function needsRoot(command: string): boolean {
  if (process.getuid?.() === 0) return false;
  process.stderr.write(`wiretun: ${command} needs root (it creates interfaces, routes and firewall rules)\n`);
  return true;
}

/**
 * For subcommands that take no arguments: returns the exit status to stop with (0 after --help, 1 after
 * anything else), or undefined when argv is empty and the command should run.
 */
export function noArguments(command: string, argv: string[], usage: string): number | undefined {
  if (argv.length === 0) return undefined;
  if (argv.length === 1 && (argv[0] === '-h' || argv[0] === '--help')) {
    process.stdout.write(usage);
    return 0;
  }
  const what = argv[0].startsWith('-') ? `unknown option ${argv[0]}` : `unexpected argument ${argv[0]}`;
  return usageError(command, what, usage);
}

export type Action = (argv: string[]) => Promise<number>;

/**
 * For subcommands made of actions (`peer add`, `tun watch`): --help anywhere prints the usage, a missing or
 * unknown action and parseArgs' own errors are usage errors. `onError` maps the command's expected failures to
 * an exit status, or returns undefined to let the error through to the dispatcher.
 */
export async function runAction(
  command: string,
  actions: Record<string, Action>,
  argv: string[],
  usage: string,
  onError: (err: unknown) => number | undefined,
): Promise<number> {
  const [action, ...rest] = argv;
  if (action === '-h' || action === '--help' || rest.includes('-h') || rest.includes('--help')) {
    process.stdout.write(usage);
    return 0;
  }
  const handler = action !== undefined && Object.hasOwn(actions, action) ? actions[action] : undefined;
  if (!handler) {
    const names = Object.keys(actions).join(', ');
    return usageError(command, action === undefined ? `missing action (${names})` : `unknown action ${action}`, usage);
  }
  try {
    return await handler(rest);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      return usageError(command, (err as Error).message, usage);
    }
    const status = onError(err);
    if (status === undefined) throw err;
    return status;
  }
}

/** Resolves with the first SIGINT or SIGTERM, for long-running commands (serve, gateway) that then stop cleanly. */
export function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(s);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
