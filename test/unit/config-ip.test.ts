import { describe, expect, it } from 'vitest';
import { canonicalCidr, formatIp, parseCidr, parseIp } from '../../ts/config/ip';

describe('inet_pton / inet_ntop compatible addresses', () => {
  it.each([
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'],
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['::192.0.2.1', '::192.0.2.1'],
    ['::ffff:0:1', '::ffff:0.0.0.1'],
    ['64:ff9b::192.0.2.1', '64:ff9b::c000:201'],
  ])('%s -> %s', (input, output) => {
    expect(formatIp(parseIp(input)!)).toBe(output);
  });

  it.each(['1.2.3', '01.2.3.4', '256.1.1.1', '1:2:3:4:5:6:7:8:9', '1::2::3', 'fe80::1%eth0', '1:2:3:4:5:6:7::8', ':1::2', '12345::', ''])(
    'rejects %s',
    (bad) => expect(parseIp(bad)).toBeUndefined(),
  );

  it('parses CIDRs like wg: digits only, within the family width, default full length', () => {
    expect(canonicalCidr(parseCidr('10.1.2.3/12')!)).toBe('10.0.0.0/12');
    expect(canonicalCidr(parseCidr('fd00::1')!)).toBe('fd00::1/128');
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
    expect(parseCidr('10.0.0.0/+8')).toBeUndefined();
    expect(parseCidr('::/129')).toBeUndefined();
  });
});
