// Plan cases the netns comparison cannot reach here (no iptables, no resolvconf, no dead daemon). Expected
// lines derived by reading /usr/bin/wg-quick (add_default's iptables branch, set_dns, del_if, remove_firewall).
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../ts/config/parse';
import { DownFacts, UpFacts } from '../../ts/routing/facts';
import { planUp, sortedAllowedIps, interfaceAddresses } from '../../ts/routing/plan';
import { planDown } from '../../ts/routing/plan-down';
import { canonicalCidr } from '../../ts/config/ip';

const PRIV = 'iExm3nPZmnOAjofLO8n36MPzt1Z4prqaM5Z6K1f+k3c=';
const PUB = 'HkFGUoDEryCODy487jiElNGFt76ROFEZXoCdh2FBXVE=';
const conf = (iface: string[], peer: string[]) =>
  parseConfig(['[Interface]', `PrivateKey = ${PRIV}`, ...iface, '[Peer]', `PublicKey = ${PUB}`, ...peer].join('\n'));

const up: UpFacts = {
  tablesInUse: [],
  routeMtus: {},
  hasNft: false,
  hasIptables: true,
  hasResolvconf: true,
  resolvconfPrefix: 'tun.',
};

const down: DownFacts = {
  interfaceExists: false,
  rules4: ['0:\tfrom all lookup local', '32764:\tfrom all lookup main suppress_prefixlength 0', '32765:\tnot from all fwmark 0xca6c lookup 51820', '32766:\tfrom all lookup main'],
  rules6: [],
  nftTables: [],
  hasNft: false,
  iptablesSave4:
    '*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -d 10.0.0.2/32 ! -i wg0 -m addrtype ! --src-type LOCAL -m comment --comment "wg-quick(8) rule for wg0" -j DROP\nCOMMIT\n' +
    '*mangle\n-A PREROUTING -p udp -m comment --comment "wg-quick(8) rule for wg1" -j CONNMARK --restore-mark\nCOMMIT\n',
  resolvconfPrefix: 'tun.',
};

describe('planUp without nft', () => {
  const c = conf(['Address = 10.0.0.2/24', 'DNS = 10.0.0.1, lan', 'FwMark = 0'], ['AllowedIPs = 0.0.0.0/0', 'Endpoint = vpn.example:51820']);
  const plan = planUp(c, 'wg0', { ...up, resolved: { 'vpn.example': '192.0.2.9' }, routeMtus: { '192.0.2.9': 9000 }, srcValidMark: 1 });

  it('uses iptables-restore with the marked rules, the resolvconf prefix, a resolved endpoint MTU', () => {
    expect(plan.ops.map((o) => o.line)).toEqual([
      '[#] ip link add wg0 type wireguard',
      '[#] wg setconf wg0 /dev/fd/63',
      '[#] ip -4 address add 10.0.0.2/24 dev wg0',
      '[#] ip link set mtu 8920 up dev wg0',
      '[#] resolvconf -a tun.wg0 -m 0 -x',
      '[#] wg set wg0 fwmark 51820',
      '[#] ip -4 route add 0.0.0.0/0 dev wg0 table 51820',
      '[#] ip -4 rule add not fwmark 51820 table 51820',
      '[#] ip -4 rule add table main suppress_prefixlength 0',
      '[#] iptables-restore -n',
    ]);
    const last = plan.ops[plan.ops.length - 1];
    expect(last.kind === 'run' && last.stdin).toBe(
      '*raw\n-I PREROUTING ! -i wg0 -d 10.0.0.2 -m addrtype ! --src-type LOCAL -j DROP -m comment --comment "wg-quick(8) rule for wg0"\n' +
        'COMMIT\n*mangle\n-I POSTROUTING -m mark --mark 51820 -p udp -j CONNMARK --save-mark -m comment --comment "wg-quick(8) rule for wg0"\n' +
        '-I PREROUTING -p udp -j CONNMARK --restore-mark -m comment --comment "wg-quick(8) rule for wg0"\nCOMMIT\n',
    );
    expect(plan.ops[4].kind === 'run' && plan.ops[4].stdin).toBe('nameserver 10.0.0.1\nsearch lan\n');
  });

  it('warns instead of guessing when an endpoint name is unresolved or tools are missing', () => {
    const p = planUp(c, 'wg0', { ...up, hasIptables: false, hasResolvconf: false });
    expect(p.ops.find((o) => o.line.includes('mtu'))?.line).toBe('[#] ip link set mtu 1420 up dev wg0');
    expect(p.warnings).toHaveLength(3);
  });

  it('skips search-only DNS and Table=off routes, and uses a named table verbatim', () => {
    const off = planUp(conf(['DNS = lan', 'Table = off'], ['AllowedIPs = 0.0.0.0/0']), 'wg0', up);
    expect(off.ops.map((o) => o.line).join('\n')).not.toMatch(/resolvconf|route|rule/);
    const named = planUp(conf(['Table = main'], ['AllowedIPs = ::/0']), 'wg0', up);
    expect(named.ops.map((o) => o.line)).toContain('[#] ip -6 route add ::/0 dev wg0 table main');
  });
});

describe('planDown when the daemon is gone', () => {
  const c = conf(['DNS = 10.0.0.1'], ['AllowedIPs = 0.0.0.0/0']);

  it('still removes rules (recorded table), DNS and marked iptables rules, but no link', () => {
    const plan = planDown(c, 'wg0', { ...down, recordedTable: 51820 });
    expect(plan.ops.map((o) => o.line)).toEqual([
      '[#] ip -4 rule delete table 51820',
      '[#] ip -4 rule delete table main suppress_prefixlength 0',
      '[#] resolvconf -d tun.wg0 -f',
      '[#] iptables-restore -n',
    ]);
    const ipt = plan.ops[3];
    expect(ipt.kind === 'run' && ipt.stdin).toBe(
      '*raw\n-D PREROUTING -d 10.0.0.2/32 ! -i wg0 -m addrtype ! --src-type LOCAL -m comment --comment "wg-quick(8) rule for wg0" -j DROP\nCOMMIT\n*mangle\nCOMMIT\n',
    );
  });

  it('warns when it cannot know the table', () => {
    const plan = planDown(c, 'wg0', down);
    expect(plan.ops.some((o) => o.line.includes('rule'))).toBe(false);
    expect(plan.warnings[0]).toMatch(/left in place/);
  });
});

describe('allowed IPs as wg show prints them, in sort -nr -k2 -t/ order', () => {
  it('masks host bits, dedups across peers and orders ties by reversed bytes', () => {
    const c = parseConfig(
      ['[Peer]', `PublicKey = ${PUB}`, 'AllowedIPs = 10.1.2.3/8, ::/0, 0.0.0.0/0, 2001:DB8:0:0:1::5/64, 10.0.0.1',
        '[Peer]', `PublicKey = ${PRIV.replace('i', 'j')}`, 'AllowedIPs = 10.0.0.0/8, ::ffff:1.2.3.4/128'].join('\n'),
    );
    expect(sortedAllowedIps(c).map(canonicalCidr)).toEqual(['::ffff:1.2.3.4/128', '2001:db8::/64', '10.0.0.1/32', '10.0.0.0/8', '::/0', '0.0.0.0/0']);
  });

  it('lists interface addresses like ip -o addr show', () => {
    expect(interfaceAddresses(['10.0.0.1/24', '10.0.0.2/24', '10.1.0.1/16', 'fd00::1/64', 'fd00::2/64'], 4)).toEqual(['10.0.0.1', '10.1.0.1', '10.0.0.2']);
    expect(interfaceAddresses(['fd00::1/64', '10.0.0.1', 'fd00:0::2/64'], 6)).toEqual(['fd00::2', 'fd00::1']);
  });
});

describe('planRollback', () => {
  it('undoes what a failed up set, in del_if order', async () => {
    const { planRollback } = await import('../../ts/routing/plan-down');
    const c = conf(['DNS = 10.0.0.1'], ['AllowedIPs = 0.0.0.0/0']);
    const facts: DownFacts = {
      ...down,
      fwmark: 51820,
      allowedIps: ['0.0.0.0/0'],
      interfaceExists: true,
      hasNft: true,
      nftTables: ['table ip wg-quick-wg0', 'table ip other'],
      iptablesSave4: undefined,
    };
    const plan = planRollback(c, 'wg0', facts, { dnsSet: true, firewallSet: true });
    expect(plan.ops.map((o) => o.line)).toEqual([
      '[#] resolvconf -d tun.wg0 -f',
      '[#] nft -f /dev/fd/63',
      '[#] ip -4 rule delete table 51820',
      '[#] ip -4 rule delete table main suppress_prefixlength 0',
      '[#] ip link delete dev wg0',
    ]);
    const nft = plan.ops[1];
    expect(nft.kind === 'run' && nft.stdin).toBe('delete table ip wg-quick-wg0\n');
  });
});
