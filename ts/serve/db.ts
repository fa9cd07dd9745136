// The serve console's SQLite handle: the addon's BindingDatabase (crates/wiretun-napi/src/sqlite.rs) behind the
// async Sql interface (./sql.ts) the PostgreSQL store shares. The file is created 0600 before SQLite opens it, so the WAL and shared-
// memory files SQLite makes beside it inherit that mode.
import { AsyncLocalStorage } from 'node:async_hooks';
import { closeSync, chmodSync, openSync } from 'node:fs';
import { native } from '../native';
import { callNative } from '../errors';
import { Sql, SqlParam, SqlRow } from './sql';

type NativeParam = null | number | string | Buffer | bigint;

interface NativeDatabase {
  exec(sql: string): void;
  run(sql: string, params?: NativeParam[]): { changes: number; lastInsertRowid: number };
  all(sql: string, params?: NativeParam[]): SqlRow[];
  get(sql: string, params?: NativeParam[]): SqlRow | null;
  close(): void;
}

/** The part of the addon only serve uses; kept here rather than in ../native.ts so that file stays the data
 * plane's. */
export interface ServeBinding {
  BindingDatabase: { open(path: string): NativeDatabase };
  argon2idHash(password: string): Promise<string>;
  argon2idVerify(hash: string, password: string): Promise<boolean>;
}

export function serveBinding(): ServeBinding {
  return native() as unknown as ServeBinding;
}

/** The SQLite side of Sql. One connection serves every request, so statements are queued: a transaction holds
 * the queue until it ends, and statements that run inside it (found through AsyncLocalStorage) skip the queue. */
export class Database implements Sql {
  readonly dialect = 'sqlite' as const;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly inside = new AsyncLocalStorage<true>();

  private constructor(private readonly db: NativeDatabase) {}

  static open(file: string): Database {
    closeSync(openSync(file, 'a', 0o600));
    chmodSync(file, 0o600);
    return new Database(callNative(() => serveBinding().BindingDatabase.open(file)));
  }

  private exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.inside.getStore()) return Promise.resolve().then(fn);
    const next = this.queue.then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  async exec(sql: string): Promise<void> {
    await this.exclusive(() => callNative(() => this.db.exec(sql)));
  }

  run(sql: string, ...params: SqlParam[]): Promise<{ changes: number }> {
    return this.exclusive(() => callNative(() => this.db.run(sql, params.map(toSqlite))));
  }

  all<T = SqlRow>(sql: string, ...params: SqlParam[]): Promise<T[]> {
    return this.exclusive(() => callNative(() => this.db.all(sql, params.map(toSqlite))) as T[]);
  }

  get<T = SqlRow>(sql: string, ...params: SqlParam[]): Promise<T | undefined> {
    return this.exclusive(() => (callNative(() => this.db.get(sql, params.map(toSqlite))) as T | null) ?? undefined);
  }

  transaction<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inside.getStore()) return fn();
    return this.exclusive(() =>
      this.inside.run(true, async () => {
        callNative(() => this.db.exec('BEGIN IMMEDIATE'));
        try {
          const out = await fn();
          callNative(() => this.db.exec('COMMIT'));
          return out;
        } catch (err) {
          callNative(() => this.db.exec('ROLLBACK'));
          throw err;
        }
      }),
    );
  }

  async close(): Promise<void> {
    await this.exclusive(() => callNative(() => this.db.close()));
  }
}

function toSqlite(p: SqlParam): NativeParam {
  return typeof p === 'boolean' ? Number(p) : p;
}
