// LOG_LEVEL as wireguard-go reads it: silent | error (default) | verbose | debug. What UAPI changed is summarised
// natively (crates/wiretun-core/src/uapi/set.rs, summary()) and arrives here as a uapiSet event.
const LEVELS = { silent: 0, error: 1, verbose: 2, debug: 3 } as const;
type Level = keyof typeof LEVELS;

export interface Logger {
  error(msg: string): void;
  verbose(msg: string): void;
  debug(msg: string): void;
}

export function logLevel(env = process.env.LOG_LEVEL): Level {
  return env && env in LEVELS ? (env as Level) : 'error';
}

/** Lines go to stderr with the interface name, as wireguard-go prefixes them. Never pass key material. */
export function logger(iface: string, level: Level = logLevel()): Logger {
  const at = LEVELS[level];
  const line = (tag: string, msg: string) => process.stderr.write(`${tag}: (${iface}) ${new Date().toISOString()} ${msg}\n`);
  return {
    error: (m) => at >= LEVELS.error && line('ERROR', m),
    verbose: (m) => at >= LEVELS.verbose && line('INFO', m),
    debug: (m) => at >= LEVELS.debug && line('DEBUG', m),
  };
}
