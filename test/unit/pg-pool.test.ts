// PgDatabase's defence against postgres.js connections that never answer again (porsager/postgres#1208): a
// statement or transaction that gets no answer in time fails with ETIMEDOUT, and an unreachable database
// retires the pool so the next statement gets a new one. The pools here are fakes standing where postgres.js's
// would; the real database restarts are in test/netns/gateway.test.ts and test/cluster/console.test.ts.
import type postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { PgDatabase } from '../../ts/serve/pg/connect';

interface FakePool {
  ended: boolean;
  /** What the next statement does: answer, hang, or fail with this code. */
  mode: 'answer' | 'hang' | string;
}

function fakePools() {
  const pools: FakePool[] = [];
  const make = () => {
    const pool: FakePool = { ended: false, mode: 'answer' };
    pools.push(pool);
    const unsafe = () => {
      if (pool.mode === 'answer') return Promise.resolve(Object.assign([{ one: 1 }], { count: 1 }));
      if (pool.mode === 'hang') return new Promise(() => undefined);
      return Promise.reject(Object.assign(new Error(pool.mode), { code: pool.mode }));
    };
    return {
      unsafe,
      begin: (fn: (tx: unknown) => Promise<unknown>) => fn({ unsafe }),
      end: async () => {
        pool.ended = true;
      },
    } as unknown as postgres.Sql;
  };
  return { pools, db: new PgDatabase(make, 50) };
}

describe('PgDatabase pool renewal', () => {
  it('a statement without an answer fails in time and the next one runs on a new pool', async () => {
    const { pools, db } = fakePools();
    pools[0].mode = 'hang';
    await expect(db.get('SELECT 1')).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(pools).toHaveLength(2);
    expect(pools[0].ended).toBe(true);
    expect(await db.get('SELECT 1')).toEqual({ one: 1 });
  });

  it('a transaction is bounded as a whole', async () => {
    const { pools, db } = fakePools();
    const t = db.transaction(async () => {
      await db.run('SELECT 1');
      pools[0].mode = 'hang';
      await db.run('SELECT 2');
    });
    await expect(t).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(pools).toHaveLength(2);
  });

  it('a lost connection retires the pool; a refused statement does not', async () => {
    const { pools, db } = fakePools();
    pools[0].mode = '42501';
    await expect(db.run('UPDATE x')).rejects.toMatchObject({ code: '42501' });
    expect(pools).toHaveLength(1);
    pools[0].mode = 'CONNECTION_CLOSED';
    await expect(db.run('SELECT 1')).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
    expect(pools).toHaveLength(2);
    expect(db.pg).not.toBe(undefined);
    expect((await db.run('SELECT 1')).changes).toBe(1);
  });
});
