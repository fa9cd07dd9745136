// The one interface the console's stores talk to, whichever database is behind it: the embedded SQLite file
// (./db.ts) or PostgreSQL (./pg/connect.ts). Statements are written once with `?` placeholders and the SQL both
// accept (ON CONFLICT, RETURNING); the PostgreSQL side numbers the placeholders. Transactions take a function:
// every statement the function runs, however deep in the call chain, joins that transaction.

export type SqlParam = null | number | string | boolean | Buffer | bigint;
export type SqlRow = Record<string, unknown>;

export interface Sql {
  readonly dialect: 'sqlite' | 'postgres';
  run(sql: string, ...params: SqlParam[]): Promise<{ changes: number }>;
  all<T = SqlRow>(sql: string, ...params: SqlParam[]): Promise<T[]>;
  get<T = SqlRow>(sql: string, ...params: SqlParam[]): Promise<T | undefined>;
  /** Runs `fn` in one transaction (nested calls join the outer one); rolls back if it throws. */
  transaction<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A database row that breaks a rule the schema cannot state: a 500 naming the table, row and column. */
export class BadRowError extends Error {
  constructor(table: string, row: string, column: string, problem: string) {
    super(`the database has a bad row: ${table} ${row}, column ${column}: ${problem}`);
  }
}
