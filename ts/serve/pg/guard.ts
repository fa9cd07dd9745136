// A guard for a postgres.js bug that would otherwise end a long-running process when its database restarts.
// postgres.js (3.4.10, porsager/postgres#1154, #1208; fixes proposed, none released) queues small writes for a
// setImmediate; when the connection closes in between, that callback writes to a null socket and throws
// outside any query, where no caller can catch it. The query concerned has already been rejected with
// CONNECTION_CLOSED by then (the fix proposed upstream only returns early), so that one error is safe to drop.
// Every other uncaught exception keeps Node's behaviour: printed, exit status 1.

/** The uncaught TypeError of postgres.js's deferred write to a closed connection. */
export function isClosedSocketWrite(err: unknown): boolean {
  if (!(err instanceof TypeError) || !/reading 'write'/.test(err.message)) return false;
  const stack = err.stack ?? '';
  // postgres/src/connection.js (ESM) or postgres/cjs/src/connection.js (what require() loads).
  return /nextWrite/.test(stack) && /postgres[\\/](?:cjs[\\/])?src[\\/]connection\.js/.test(stack);
}

let installed = false;

/** Installs the guard once per process; `log` hears about each dropped error. */
export function guardPostgresWrites(log: (line: string) => void): void {
  if (installed) return;
  installed = true;
  process.on('uncaughtException', (err) => {
    if (isClosedSocketWrite(err)) {
      log('a database connection closed under a pending write (postgres.js bug, ignored; the query was already failed)');
      return;
    }
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
