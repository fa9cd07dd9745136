// Shared argument handling for the small subcommands, so every one treats --help and stray arguments alike.

/** Writes `wiretun CMD: message` and the usage to stderr; returns exit status 1. */
export function usageError(command: string, message: string, usage: string): number {
  process.stderr.write(`wiretun ${command}: ${message}\n\n${usage}`);
  return 1;
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
