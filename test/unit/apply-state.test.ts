// The state file `up` leaves for `down`, and the small parsers the apply half relies on.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseLiveDevice } from '../../ts/routing/gather';
import { policyTable, tunnelSubnets } from '../../ts/routing/apply';
import { parseConfig } from '../../ts/config/parse';
import { runOp } from '../../ts/routing/ops';
import { readState, removeState, statePath, UpState, writeState } from '../../ts/routing/state';

let dir: string;
beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'wiretun-state-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const state: UpState = { version: 1, iface: 'wg0', configPath: '/etc/wireguard/wg0.conf', table: 51820, allowedIps: ['0.0.0.0/0'] };

describe('state file', () => {
  it('round-trips and is removed', async () => {
    await writeState(state, path.join(dir, 'run'));
    expect(await readState('wg0', path.join(dir, 'run'))).toEqual({ state });
    await removeState('wg0', path.join(dir, 'run'));
    expect(await readState('wg0', path.join(dir, 'run'))).toEqual({});
  });

  it('reports a corrupt or foreign file instead of trusting it', async () => {
    writeFileSync(statePath('wg0', dir), '{"version":1,');
    expect((await readState('wg0', dir)).problem).toMatch(/is not a wiretun state file for wg0/);
    writeFileSync(statePath('wg0', dir), JSON.stringify({ ...state, iface: 'wg1' }));
    expect((await readState('wg0', dir)).state).toBeUndefined();
  });
});

describe('helpers', () => {
  it('reads fwmark and allowed IPs from a UAPI get reply', () => {
    const reply = 'private_key=00\nlisten_port=51820\nfwmark=51820\npublic_key=11\nallowed_ip=0.0.0.0/0\nallowed_ip=::/0\nerrno=0\n';
    expect(parseLiveDevice(reply)).toEqual({ fwmark: 51820, allowedIps: ['0.0.0.0/0', '::/0'] });
    expect(parseLiveDevice('errno=0\n')).toEqual({ fwmark: 0, allowedIps: [] });
  });

  it("finds the policy table in a plan's rule op", () => {
    expect(policyTable([runOp(['ip', '-4', 'rule', 'add', 'not', 'fwmark', '51821', 'table', '51821'])])).toBe(51821);
    expect(policyTable([runOp(['ip', '-4', 'route', 'add', '10.0.0.0/8', 'dev', 'wg0'])])).toBeUndefined();
  });

  it('masks the tunnel addresses to their subnets, once each', () => {
    const config = parseConfig('[Interface]\nAddress = 10.9.0.1/24, 10.9.0.7/24, fd00::1/64, 10.1.2.3\n');
    expect(tunnelSubnets(config)).toEqual(
      new Map([
        [4, ['10.9.0.0/24', '10.1.2.3/32']],
        [6, ['fd00::/64']],
      ]),
    );
  });
});
