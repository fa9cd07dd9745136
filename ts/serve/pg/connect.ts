// PostgreSQL behind the console's Sql interface (../sql.ts), with postgres.js. The URL is libpq's form
// (postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=...&host=/socket/dir); bigint and numeric come back as numbers
// (counters and millisecond timestamps stay far below 2^53), and NOTICEs (CREATE ... IF NOT EXISTS) are
// dropped rather than printed.
import { AsyncLocalStorage } from 'node:async_hooks';
import { readFileSync } from 'node:fs';
import postgres from 'postgres';
import { Sql, SqlParam, SqlRow } from '../sql';

export type PgOptions = postgres.Options<Record<string, postgres.PostgresType>>;

const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-full'] as const;

/** postgres.js options from a libpq-style URL; throws naming the part that is wrong. The password is never
 * part of a message. */
export function pgOptions(url: string, appName = 'wiretun'): PgOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error('--store must be a URL: postgres://USER:PASSWORD@HOST[:PORT]/DATABASE[?sslmode=require]');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new Error(`--store: unknown scheme ${u.protocol} (postgres:// or postgresql://)`);
  const known = ['sslmode', 'sslrootcert', 'host', 'application_name', 'connect_timeout'];
  for (const k of u.searchParams.keys()) {
    if (!known.includes(k)) throw new Error(`--store: unknown parameter ${k} (known: ${known.join(', ')})`);
  }
  const sslmode = u.searchParams.get('sslmode') ?? 'prefer';
  if (!(SSL_MODES as readonly string[]).includes(sslmode)) throw new Error(`--store: sslmode=${sslmode} is not supported (one of ${SSL_MODES.join(', ')})`);
  const socketDir = u.searchParams.get('host') ?? (decodeURIComponent(u.hostname).startsWith('/') ? decodeURIComponent(u.hostname) : undefined);
  const timeout = Number(u.searchParams.get('connect_timeout') ?? 10);
  if (!Number.isInteger(timeout) || timeout < 1) throw new Error('--store: connect_timeout must be a whole number of seconds');
  return {
    host: socketDir ?? (u.hostname || 'localhost'),
    port: u.port ? Number(u.port) : 5432,
    database: decodeURIComponent(u.pathname.slice(1)) || undefined,
    username: decodeURIComponent(u.username) || undefined,
    password: decodeURIComponent(u.password) || undefined,
    ssl: sslOption(sslmode, u.searchParams.get('sslrootcert')),
    connection: { application_name: u.searchParams.get('application_name') ?? appName },
    connect_timeout: timeout,
    onnotice: () => undefined,
    types: { bigint: { to: 20, from: [20, 1700], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
  };
}

const UNREACHABLE = ['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT', 'ECONNREFUSED', 'ECONNRESET', 'ENOENT', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH'];

/** Whether an error means the database cannot be reached right now (down, restarting, failing over), as opposed
 * to a statement it refused: the first is worth a 503 and a retry. */
export function isUnreachable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  // SQLSTATE class 08 (connection exception), 57P01-57P03 (shutting down, crashed, starting up).
  return UNREACHABLE.includes(code) || code.startsWith('08') || /^57P0[123]$/.test(code);
}

/** TLS as libpq's sslmode says; verify-full checks the certificate and the host name, against the system's CAs
 * or the sslrootcert file. */
function sslOption(sslmode: string, rootCert: string | null): PgOptions['ssl'] {
  if (rootCert !== null) {
    if (sslmode !== 'verify-full') throw new Error('--store: sslrootcert goes with sslmode=verify-full');
    try {
      return { ca: readFileSync(rootCert, 'utf8'), rejectUnauthorized: true };
    } catch (err) {
      throw new Error(`--store: cannot read sslrootcert ${rootCert}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return sslmode === 'disable' ? false : (sslmode as 'allow' | 'prefer' | 'require' | 'verify-full');
}

/** A value PostgreSQL's text type cannot hold (SQLite's can): the request that carried it is at fault. */
export class NulTextError extends Error {
  constructor() {
    super('text with a NUL character (\\u0000) cannot be stored');
  }
}

/** `?` placeholders numbered as PostgreSQL wants them ($1, $2...), skipping quoted text. */
export function numberPlaceholders(text: string): string {
  let n = 0;
  return text.replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"|\?/g, (m) => (m === '?' ? `$${++n}` : m));
}

/** The longest a statement (or a whole transaction) may go unanswered before its pool is given up. */
export const QUERY_TIMEOUT_MS = 30_000;

/**
 * The Sql interface over a postgres.js pool that is replaced when the database turns out to be unreachable. A
 * postgres.js connection that closed while it had a small write pending never sends again once it reconnects
 * (porsager/postgres#1208, open in 3.4.10): its queries would hang for ever, and a process holding it (a console,
 * a gateway) would stop working after a database restart. A new pool has no such connection. Every statement
 * outside a transaction, and every transaction as a whole, is also bounded in time: a database host gone
 * without a reset would otherwise hold it for many minutes.
 */
export class PgDatabase implements Sql {
  readonly dialect = 'postgres' as const;
  private readonly inside = new AsyncLocalStorage<postgres.TransactionSql>();
  private current: postgres.Sql;

  constructor(
    private readonly make: () => postgres.Sql,
    private readonly timeoutMs = QUERY_TIMEOUT_MS,
  ) {
    this.current = make();
  }

  static connect(url: string, appName?: string, max = 10): PgDatabase {
    const options = { ...pgOptions(url, appName), max };
    return new PgDatabase(() => postgres(options));
  }

  /** The pool in use now. */
  get pg(): postgres.Sql {
    return this.current;
  }

  /** Runs `fn` on the current pool, bounded in time; an unreachable database retires that pool. */
  private async bounded<T>(fn: (pg: postgres.Sql) => Promise<T>): Promise<T> {
    const pg = this.current;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      const err = Object.assign(new Error(`no answer from the database within ${this.timeoutMs / 1000} s`), { code: 'ETIMEDOUT' });
      timer = setTimeout(() => reject(err), this.timeoutMs);
    });
    try {
      return await Promise.race([fn(pg), timeout]);
    } catch (err) {
      if (isUnreachable(err) && pg === this.current) {
        this.current = this.make();
        void pg.end({ timeout: 0 }).catch(() => undefined);
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private async query(text: string, params: SqlParam[]) {
    if (params.some((p) => typeof p === 'string' && p.includes('\u0000'))) throw new NulTextError();
    // An optional field left out arrives as undefined: it is SQL's NULL, as SQLite's binding takes it.
    const args = params.map((p) => p ?? null) as postgres.ParameterOrJSON<never>[];
    const tx = this.inside.getStore();
    if (tx) return tx.unsafe(numberPlaceholders(text), args);
    return this.bounded(async (pg) => pg.unsafe(numberPlaceholders(text), args));
  }

  async run(text: string, ...params: SqlParam[]): Promise<{ changes: number }> {
    return { changes: (await this.query(text, params)).count };
  }

  async all<T = SqlRow>(text: string, ...params: SqlParam[]): Promise<T[]> {
    return [...(await this.query(text, params))] as T[];
  }

  async get<T = SqlRow>(text: string, ...params: SqlParam[]): Promise<T | undefined> {
    return (await this.query(text, params))[0] as T | undefined;
  }

  /** Multi-statement SQL without parameters (schema set-up). */
  async exec(text: string): Promise<void> {
    const tx = this.inside.getStore();
    if (tx) await tx.unsafe(text);
    else await this.bounded(async (pg) => pg.unsafe(text));
  }

  transaction<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inside.getStore()) return fn();
    return this.bounded((pg) => pg.begin((tx) => this.inside.run(tx, fn)) as Promise<T>);
  }

  async close(): Promise<void> {
    await this.current.end({ timeout: 5 });
  }
}

/** LISTEN on one channel over a dedicated connection that is re-made (and LISTEN re-issued) whenever it drops.
 * NOTIFY is not durable: `onListen` runs after every (re)subscription, the place to catch up on what was missed. */
export class Doorbell {
  private pg: postgres.Sql | undefined;
  private listening = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: PgOptions,
    private readonly channel: string,
    private readonly onRing: (payload: string) => void,
    private readonly onListen: () => void,
    private readonly retryMs = 1000,
  ) {}

  start(): void {
    void this.attempt();
  }

  get connected(): boolean {
    return this.listening;
  }

  private async attempt(): Promise<void> {
    if (this.stopped || this.listening) return;
    const pg = postgres({
      ...this.options,
      max: 1,
      idle_timeout: undefined,
      max_lifetime: null,
      fetch_types: false,
      onnotify: (channel: string, payload: string) => {
        if (channel === this.channel) this.onRing(payload);
      },
      onclose: () => this.lost(pg),
    } as PgOptions);
    this.pg = pg;
    try {
      await pg.unsafe(`LISTEN "${this.channel.replace(/"/g, '""')}"`);
      if (this.stopped) return;
      this.listening = true;
      this.onListen();
    } catch {
      this.lost(pg);
    }
  }

  private lost(pg: postgres.Sql): void {
    if (pg !== this.pg) return;
    this.listening = false;
    this.pg = undefined;
    void pg.end({ timeout: 0 }).catch(() => undefined);
    if (!this.stopped) {
      this.timer = setTimeout(() => void this.attempt(), this.retryMs);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.pg?.end({ timeout: 1 }).catch(() => undefined);
  }
}
