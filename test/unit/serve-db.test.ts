// The native SQLite binding and argon2id under the console (crates/wiretun-napi/src/sqlite.rs): values both
// ways, errors as coded WiretunErrors, WAL mode, transactions, and password hashes.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Database, serveBinding } from '../../ts/serve/db';

let dir: string;
let db: Database;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wiretun-db-'));
  db = Database.open(path.join(dir, 't.db'));
});
afterEach(async () => {
  await db.close().catch(() => {
    /* closed by the test */
  });
  rmSync(dir, { recursive: true, force: true });
});

describe('BindingDatabase', () => {
  it('opens in WAL mode, 0600, and round-trips null, integers, reals, text, blobs and bigints', async () => {
    expect(statSync(path.join(dir, 't.db')).mode & 0o777).toBe(0o600);
    expect((await db.get<{ journal_mode: string }>('PRAGMA journal_mode'))!.journal_mode).toBe('wal');
    await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v)');
    const values = [null, 42, -7, 1.5, 'naïve "text"', Buffer.from([0, 1, 255]), 2n ** 60n, 2 ** 53 - 1];
    for (const v of values) await db.run('INSERT INTO t (v) VALUES (?)', v);
    const back = await db.all<{ id: number; v: unknown }>('SELECT id, v FROM t ORDER BY id');
    expect(back.map((r) => r.v)).toEqual([null, 42, -7, 1.5, 'naïve "text"', Buffer.from([0, 1, 255]), 2n ** 60n, 2 ** 53 - 1]);
    expect(Object.keys(back[0])).toEqual(['id', 'v']);
    const r = await db.run('UPDATE t SET v = ? WHERE id > ?', 'x', 6);
    expect(r).toMatchObject({ changes: 2 });
    expect(await db.get('SELECT * FROM t WHERE id = ?', 99)).toBeUndefined();
    expect(await db.get('INSERT INTO t (v) VALUES (?) RETURNING id', true)).toEqual({ id: 9 });
  });

  it('maps failures to coded errors and rolls a failed transaction back', async () => {
    await db.exec('CREATE TABLE u (k TEXT PRIMARY KEY)');
    await db.run('INSERT INTO u VALUES (?)', 'a');
    await expect(db.run('INSERT INTO u VALUES (?)', 'a')).rejects.toThrow(expect.objectContaining({ code: 'ECONSTRAINT' }));
    await expect(db.run('NOT SQL')).rejects.toThrow(expect.objectContaining({ code: 'ESQLITE' }));
    await expect(
      db.transaction(async () => {
        await db.run('INSERT INTO u VALUES (?)', 'b');
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await db.all('SELECT k FROM u')).toEqual([{ k: 'a' }]);
    await expect(db.run('INSERT INTO u VALUES (?)', 2n ** 70n)).rejects.toThrow(expect.objectContaining({ code: 'EINVAL' }));
    await db.close();
    await expect(db.get('SELECT 1')).rejects.toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it('keeps statements of other requests out of an open transaction: they wait for it, and survive its rollback', async () => {
    await db.exec('CREATE TABLE u (k TEXT PRIMARY KEY)');
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const tx = db.transaction(async () => {
      await db.run('INSERT INTO u VALUES (?)', 'inside');
      await held;
      throw new Error('rolled back');
    });
    const outside = db.run('INSERT INTO u VALUES (?)', 'outside');
    release();
    await expect(tx).rejects.toThrow('rolled back');
    await outside;
    expect(await db.all('SELECT k FROM u')).toEqual([{ k: 'outside' }]);
  });
});

describe('argon2id', () => {
  it('hashes to a PHC string with a fresh salt and verifies only the right password', async () => {
    const { argon2idHash, argon2idVerify } = serveBinding();
    const a = await argon2idHash('hunter2 hunter2');
    const b = await argon2idHash('hunter2 hunter2');
    expect(a).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(a).not.toBe(b);
    expect(await argon2idVerify(a, 'hunter2 hunter2')).toBe(true);
    expect(await argon2idVerify(a, 'hunter3 hunter3')).toBe(false);
    await expect(argon2idVerify('not a hash', 'x')).rejects.toThrow(/PHC/);
  });
});
