// The demo's parsing and refusal paths; the demo itself needs root and runs in CI's root job.
import { describe, expect, it } from 'vitest';
import { formatRate, parsePing } from '../../ts/cli/demo-measure';
import { assertBuilt, have, wiretun } from './cli-helpers';

describe('parsePing', () => {
  it('reads iputils summaries for IPv4 and IPv6', () => {
    const out =
      'PING 10.201.0.2 (10.201.0.2) 56(84) bytes of data.\n\n--- 10.201.0.2 ping statistics ---\n' +
      '10 packets transmitted, 9 received, 10% packet loss, time 912ms\nrtt min/avg/max/mdev = 0.187/1.034/7.212/2.060 ms\n';
    expect(parsePing(out)).toEqual({ sent: 10, received: 9, minMs: 0.187, avgMs: 1.034, maxMs: 7.212 });
  });

  it('gives undefined when every packet was lost (no rtt line)', () => {
    expect(parsePing('3 packets transmitted, 0 received, 100% packet loss, time 2030ms\n')).toBeUndefined();
  });
});

describe('formatRate', () => {
  it('picks a readable unit', () => {
    expect(formatRate(3.27e9)).toBe('3.27 Gbit/s');
    expect(formatRate(296.4e6)).toBe('296.4 Mbit/s');
    expect(formatRate(12_345)).toBe('12.3 kbit/s');
  });
});

// As root, drop to nobody to see the refusal; the demo must not touch the system before checking.
const asUser = process.getuid?.() === 0 ? (have('setpriv') ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : undefined) : [];

describe('wiretun demo without root', () => {
  it.skipIf(asUser === undefined)('exits 1 with a clear message', () => {
    assertBuilt();
    const r = wiretun(['demo'], undefined, asUser ?? []);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('wiretun demo: needs root');
    expect(r.stderr).not.toContain('creating namespaces');
  });
});
