// The serve console's SQLite handle: the addon's BindingDatabase (crates/wiretun-napi/src/sqlite.rs) with
// typed rows and a transaction helper. The file is created 0600 before SQLite opens it, so the WAL and shared-
// memory files SQLite makes beside it inherit that mode.
import { closeSync, chmodSync, openSync } from 'node:fs';
import { native } from '../native';
import { callNative } from '../errors';

export type SqlParam = null | number | string | Buffer | bigint;
export type SqlRow = Record<string, unknown>;

interface NativeDatabase {
  exec(sql: string): void;
  run(sql: string, params?: SqlParam[]): { changes: number; lastInsertRowid: number };
  all(sql: string, params?: SqlParam[]): SqlRow[];
  get(sql: string, params?: SqlParam[]): SqlRow | null;
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

export class Database {
  private depth = 0;

  private constructor(private readonly db: NativeDatabase) {}

  static open(file: string): Database {
    closeSync(openSync(file, 'a', 0o600));
    chmodSync(file, 0o600);
    return new Database(callNative(() => serveBinding().BindingDatabase.open(file)));
  }

  exec(sql: string): void {
    callNative(() => this.db.exec(sql));
  }

  run(sql: string, ...params: SqlParam[]): { changes: number; lastInsertRowid: number } {
    return callNative(() => this.db.run(sql, params));
  }

  all<T = SqlRow>(sql: string, ...params: SqlParam[]): T[] {
    return callNative(() => this.db.all(sql, params)) as T[];
  }

  get<T = SqlRow>(sql: string, ...params: SqlParam[]): T | undefined {
    return (callNative(() => this.db.get(sql, params)) as T | null) ?? undefined;
  }

  /** Runs `fn` in one transaction (nested calls join the outer one); rolls back if it throws. Synchronous on
   * purpose: no other request can interleave its statements. */
  transaction<T>(fn: () => T): T {
    if (this.depth > 0) return fn();
    this.exec('BEGIN IMMEDIATE');
    this.depth++;
    try {
      const out = fn();
      this.exec('COMMIT');
      return out;
    } catch (err) {
      this.exec('ROLLBACK');
      throw err;
    } finally {
      this.depth--;
    }
  }

  close(): void {
    callNative(() => this.db.close());
  }
}
