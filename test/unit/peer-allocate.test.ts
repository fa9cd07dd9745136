// Address allocation for `wiretun peer add`: lowest free host, skipping the server and every peer's AllowedIPs.
import { describe, expect, it } from 'vitest';
import { allocateAddresses, firstFree, serverSubnets } from '../../ts/peers/allocate';
import { parseCidr } from '../../ts/config/ip';

const cidr = (s: string) => parseCidr(s)!;

describe('peer address allocation', () => {
  it('skips the server address and the network address', () => {
    expect(allocateAddresses(['10.0.0.1/24'], [])).toEqual(['10.0.0.2/32']);
    expect(allocateAddresses(['10.0.0.5/24'], [])).toEqual(['10.0.0.1/32']);
  });

  it('skips every peer AllowedIPs entry, including whole ranges', () => {
    expect(allocateAddresses(['10.0.0.1/24'], ['10.0.0.2/32', '10.0.0.3/32'])).toEqual(['10.0.0.4/32']);
    expect(allocateAddresses(['10.0.0.1/24'], ['10.0.0.0/30', '10.0.0.4/31'])).toEqual(['10.0.0.6/32']);
    // Other subnets and other families do not get in the way.
    expect(allocateAddresses(['10.0.0.1/24'], ['192.168.0.0/16', 'fd00::/8'])).toEqual(['10.0.0.2/32']);
  });

  it('gives one address per family for a dual-stack interface', () => {
    expect(allocateAddresses(['10.0.0.1/24', 'fd00::1/64'], ['10.0.0.2/32', 'fd00::2/128'])).toEqual([
      '10.0.0.3/32',
      'fd00::3/128',
    ]);
  });

  it('never hands out the IPv4 broadcast address; a full subnet is an error', () => {
    // 10.0.0.0/29: .1 is the server, .2-.6 peers, .7 the broadcast address.
    const peers = [2, 3, 4, 5].map((i) => `10.0.0.${i}/32`);
    expect(allocateAddresses(['10.0.0.1/29'], peers)).toEqual(['10.0.0.6/32']);
    expect(() => allocateAddresses(['10.0.0.1/29'], [...peers, '10.0.0.6/32'])).toThrow(/no free address left in 10.0.0.0\/29/);
    // A /31 has no broadcast address (RFC 3021).
    expect(allocateAddresses(['10.0.0.0/31'], [])).toEqual(['10.0.0.1/32']);
  });

  it('moves on to the next subnet of the same family when the first is full', () => {
    expect(allocateAddresses(['10.0.0.1/30', '10.1.0.1/24'], ['10.0.0.2/32'])).toEqual(['10.1.0.2/32']);
  });

  it('refuses an interface without a subnet to allocate from', () => {
    expect(() => allocateAddresses([], [])).toThrow(/no Address line/);
    expect(() => allocateAddresses(['10.0.0.1/32'], [])).toThrow(/no free address/);
  });

  it('searches a huge IPv6 subnet only so far', () => {
    expect(firstFree(cidr('fd00::/64'), [cidr('fd00::/112')])).toBeUndefined();
    expect(firstFree(cidr('fd00::/64'), [cidr('fd00::/120')])).toBe('fd00::100/128');
  });

  it('dedupes subnets by network', () => {
    expect(serverSubnets(['10.0.0.1/24', '10.0.0.2/24']).length).toBe(1);
  });
});
