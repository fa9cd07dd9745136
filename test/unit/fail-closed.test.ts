// The fail-closed routes: where `up` adds them (only into wg-quick's policy table, right after its default
// route) and when `down` deletes them (only those present, so a second `down` has nothing to fail on).
import { describe, expect, it } from 'vitest';
import { FAIL_CLOSED_METRIC, failClosedRemoval, withFailClosed } from '../../ts/routing/fail-closed';
import { System } from '../../ts/routing/gather';
import { PlanOp, runOp } from '../../ts/routing/ops';

const M = String(FAIL_CLOSED_METRIC);
const lines = (ops: PlanOp[]) => ops.map((o) => o.line);

describe('withFailClosed', () => {
  const plan = [
    runOp(['ip', '-6', 'route', 'add', '::/0', 'dev', 'wg0', 'table', '51820']),
    runOp(['ip', '-6', 'rule', 'add', 'not', 'fwmark', '51820', 'table', '51820']),
    runOp(['ip', '-4', 'route', 'add', '0.0.0.0/0', 'dev', 'wg0', 'table', '51820']),
    runOp(['ip', '-4', 'route', 'add', '10.0.0.0/8', 'dev', 'wg0']),
  ];

  it('adds an unreachable default with the largest metric right after each default route into the table', () => {
    expect(lines(withFailClosed(plan, 'wg0', 51820))).toEqual([
      '[#] ip -6 route add ::/0 dev wg0 table 51820',
      `[#] ip -6 route add unreachable default table 51820 metric ${M}`,
      '[#] ip -6 rule add not fwmark 51820 table 51820',
      '[#] ip -4 route add 0.0.0.0/0 dev wg0 table 51820',
      `[#] ip -4 route add unreachable default table 51820 metric ${M}`,
      '[#] ip -4 route add 10.0.0.0/8 dev wg0',
    ]);
  });

  it('leaves plans without policy routing (Table = N, Table = off, no /0) alone', () => {
    const explicit = [runOp(['ip', '-4', 'route', 'add', '0.0.0.0/0', 'dev', 'wg0', 'table', '1234'])];
    expect(withFailClosed(explicit, 'wg0', undefined)).toEqual(explicit);
    expect(withFailClosed(plan, 'wg1', 51820)).toEqual(plan);
    expect(withFailClosed(plan, 'wg0', 51821)).toEqual(plan);
  });
});

function machine(routes: Record<string, unknown[] | 'error'>): System {
  const fail = async () => {
    throw new Error('not used');
  };
  return {
    capture: async (argv) => {
      const r = routes[`${argv[2]} ${argv[6]}`];
      if (r === undefined || r === 'error') throw new Error('exit status 2: FIB table does not exist');
      return JSON.stringify(r);
    },
    run: fail,
    hook: fail,
    readFile: async () => undefined,
    has: async () => true,
    resolve: fail,
  };
}

describe('failClosedRemoval', () => {
  const ours = { type: 'unreachable', dst: 'default', metric: FAIL_CLOSED_METRIC, flags: [] };

  it('deletes exactly the routes present, once per table', async () => {
    const sys = machine({ '-4 51820': [ours, { dst: 'default', dev: 'wg0', flags: [] }], '-6 51820': 'error' });
    expect(lines(await failClosedRemoval(sys, [51820, 51820, undefined, 0]))).toEqual([
      `[#] ip -4 route delete unreachable default table 51820 metric ${M}`,
    ]);
  });

  it("ignores other unreachable routes (someone else's metric or prefix)", async () => {
    const sys = machine({
      '-4 51820': [{ ...ours, metric: 100 }, { ...ours, dst: '10.0.0.0/8' }],
      '-6 51820': [{ ...ours, dev: 'lo', pref: 'medium' }],
    });
    expect(lines(await failClosedRemoval(sys, [51820]))).toEqual([`[#] ip -6 route delete unreachable default table 51820 metric ${M}`]);
  });
});
