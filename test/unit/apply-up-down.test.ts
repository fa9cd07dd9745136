// applyUp/applyDown against a fake machine (no root): the order of what runs, what reaches the daemon, the
// rollback of a failed up, and down after the daemon died, all from the recorded state.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../ts/config/parse';
import { ApplyEnv, ApplyError, applyDown, applyUp, uapiConfigBody } from '../../ts/routing/apply';
import { System } from '../../ts/routing/gather';
import { readState, statePath } from '../../ts/routing/state';

const FIXTURES = path.join(__dirname, '../fixtures/configs/valid');
const fixture = (name: string) => parseConfig(readFileSync(path.join(FIXTURES, `${name}.conf`), 'utf8'));

/** A machine as data: links, rules, nft tables, sysctls. Commands mutate it the way the real tools would. */
class FakeMachine {
  links = new Set<string>(['lo', 'up0']);
  rules: Record<'-4' | '-6', string[]> = { '-4': ['0:\tfrom all lookup local', '32766:\tfrom all lookup main'], '-6': ['0:\tfrom all lookup local'] };
  nft: string[] = [];
  sysctl: Record<string, string> = { 'net.ipv4.conf.all.src_valid_mark': '0', 'net.ipv4.ip_forward': '0', 'net.ipv6.conf.all.forwarding': '0' };
  tables = ['51820'];
  daemons = new Map<string, string[]>();
  ran: string[] = [];
  stdin: string[] = [];
  failWhen: (argv: string[]) => boolean = () => false;
  programs = new Set(['nft', 'resolvconf', 'ip', 'sysctl', 'bash']);

  system(): System {
    return {
      capture: async (argv) => this.capture(argv),
      run: async (argv, stdin) => this.run(argv, stdin),
      hook: async (command) => this.run(['bash', '-c', command]),
      readFile: async (file) => this.sysctl[file.replace('/proc/sys/', '').split('/').join('.')],
      has: async (p) => this.programs.has(p),
      resolve: async (host) => {
        if (host === 'vpn.example') return '198.51.100.7';
        throw new Error('NXDOMAIN');
      },
    };
  }

  capture(argv: string[]): string {
    const cmd = argv.join(' ');
    if (cmd.startsWith('ip link show dev ')) {
      if (!this.links.has(argv[4])) throw new Error('does not exist');
      return `1: ${argv[4]}: <UP> mtu 1420`;
    }
    if (cmd === 'ip -j -4 route show table all') return JSON.stringify(this.tables.map((t) => ({ dst: '10.255.0.0/24', table: t })));
    if (cmd === 'ip -j -6 route show table all') return '[]';
    if (cmd.startsWith('ip -j route get ')) return JSON.stringify([{ dst: argv[4], dev: 'up0', metrics: [{ mtu: 1460 }] }]);
    if (cmd === 'ip -j route show default') return JSON.stringify([{ dst: 'default', dev: 'up0' }]);
    if (cmd === 'ip -j link show dev up0') return JSON.stringify([{ ifname: 'up0', mtu: 1440 }]);
    if (cmd.startsWith('ip -j -6 address show dev')) return JSON.stringify([{ addr_info: [{ local: 'fe80::1234' }] }]);
    if (cmd === 'ip -4 rule show' || cmd === 'ip -6 rule show') return this.rules[argv[1] as '-4' | '-6'].join('\n') + '\n';
    if (cmd === 'nft list tables') return this.nft.map((t) => `table ${t}\n`).join('');
    throw new Error(`unexpected capture: ${cmd}`);
  }

  run(argv: string[], stdin?: string): void {
    this.ran.push(argv.join(' '));
    if (stdin !== undefined) this.stdin.push(stdin);
    if (this.failWhen(argv)) throw new Error('exit status 1');
    const [cmd, a1, a2, a3] = argv;
    if (cmd === 'ip' && a1 === 'link' && a2 === 'delete') {
      this.links.delete(argv[4]);
      this.daemons.delete(argv[4]);
    }
    if (cmd === 'ip' && a2 === 'rule' && a3 === 'add') this.rules[a1 as '-4' | '-6'].push(ruleText(argv.slice(4)));
    if (cmd === 'ip' && a2 === 'rule' && a3 === 'delete') {
      const key = argv.slice(4).join(' ');
      const list = this.rules[a1 as '-4' | '-6'];
      const i = list.findIndex((r) => (key.startsWith('table main') ? r.includes('suppress_prefixlength') : r.includes(`lookup ${argv[5]}`)));
      if (i >= 0) list.splice(i, 1);
    }
    if (cmd === 'sysctl') {
      const [k, v] = argv[2].split('=');
      this.sysctl[k] = v;
    }
    if (cmd === 'nft') this.applyNft(stdin ?? '');
  }

  applyNft(script: string): void {
    for (const m of script.matchAll(/^add table (\S+ \S+)$/gm)) this.nft.push(m[1]);
    for (const m of script.matchAll(/^delete table (\S+ \S+)$/gm)) this.nft = this.nft.filter((t) => t !== m[1]);
  }

  /** The machine with `up`'s leftovers the way a killed daemon leaves them: link gone, the rest in place. */
  killDaemon(iface: string): void {
    this.links.delete(iface);
    this.daemons.delete(iface);
  }
}

/** How `ip rule show` prints the two kinds of rule wg-quick adds. */
function ruleText(args: string[]): string {
  if (args[0] === 'not') return `32765:\tnot from all fwmark 0x${Number(args[2]).toString(16)} lookup ${args[4]}`;
  return `32764:\tfrom all lookup main suppress_prefixlength 0`;
}

let dir: string;
let m: FakeMachine;
let log: string[];

function env(): ApplyEnv {
  return {
    sys: m.system(),
    log: (l) => log.push(l),
    stateDir: dir,
    control: {
      daemonName: 'wiretund',
      startDaemon: async (iface) => {
        m.links.add(iface);
        m.daemons.set(iface, []);
      },
      set: async (iface, body) => {
        const d = m.daemons.get(iface);
        if (!d) throw new Error('ECONNREFUSED');
        d.push(body);
      },
      get: async (iface) => {
        const d = m.daemons.get(iface);
        if (!d) throw new Error('ECONNREFUSED');
        const mark = /fwmark=(\d+)/.exec(d.join(''))?.[1];
        return `${mark ? `fwmark=${mark}\n` : ''}allowed_ip=0.0.0.0/0\nallowed_ip=::/0\nerrno=0\n\n`;
      },
    },
  };
}

const lines = () => log.filter((l) => l.startsWith('[#]'));

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wiretun-apply-'));
  m = new FakeMachine();
  log = [];
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('applyUp', () => {
  it("prints and runs wg-quick's ops in wg-quick's order (default route, DNS, nft)", async () => {
    await applyUp(env(), fixture('wtp-full'), 'wtp-full', { configPath: '/x/wtp-full.conf' });
    const expected = readFileSync(path.join(FIXTURES, 'wtp-full.up'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('[#]') && !l.includes('type wireguard'))
      .map((l) => l.replace('wireguard-go', 'wiretund'))
      // src_valid_mark was 0 here as on the fixture machine; MTU: 1460 towards the endpoint, as there.
      .filter((l) => l !== '');
    // Besides wg-quick's ops: an unreachable default after each default route (ts/routing/fail-closed.ts).
    expect(lines().filter((l) => !l.includes(' unreachable default '))).toEqual(expected);
    expect(m.nft).toEqual(['ip6 wg-quick-wtp-full', 'ip wg-quick-wtp-full']);
    // The IPv6 firewall names the link-local address the link got once up.
    expect(m.stdin.find((s) => s.includes('ip6 daddr fe80::1234'))).toBeDefined();
  });

  it('sends the wg part over UAPI with hex keys, and never logs a key', async () => {
    const config = fixture('wtp-full');
    await applyUp(env(), config, 'wtp-full', { configPath: '/x/wtp-full.conf' });
    const [setconf, fwmark] = m.daemons.get('wtp-full') ?? [];
    expect(setconf).toBe(uapiConfigBody(config, {}));
    const key = config.device.privateKey as Buffer;
    expect(setconf).toContain(`private_key=${key.toString('hex')}\n`);
    expect(setconf).toContain('endpoint=[2001:db8::7]:51820\n');
    expect(fwmark).toBe('fwmark=51821\n');
    expect(log.join('\n')).not.toContain(key.toString('base64'));
    expect(log.join('\n')).not.toContain(key.toString('hex'));
  });

  it('resolves endpoint host names to numeric endpoints', () => {
    const config = parseConfig(
      '[Interface]\nPrivateKey = CI3MlxQI17uEaUJi7ooqiLcu6fTfs3SQ8+2KzajoXWs=\n[Peer]\nPublicKey = ZYW3Of/T2IHGIUv9yRRhn6gv8WSbM7Vs1KObFOkGaWY=\nEndpoint = vpn.example:4500\nAllowedIPs = 10.0.0.0/8\n',
    );
    expect(uapiConfigBody(config, { 'vpn.example': '198.51.100.7' })).toContain('endpoint=198.51.100.7:4500\n');
  });

  it('records the state before changing anything, 0600 in a 0700 directory', async () => {
    await applyUp(env(), fixture('wtp-full'), 'wtp-full', { configPath: '/x/wtp-full.conf' });
    const { state } = await readState('wtp-full', dir);
    expect(state).toMatchObject({ table: 51821, firewall: 'nft', dns: { tool: 'resolvconf', name: 'wtp-full' } });
    expect(state?.allowedIps).toEqual(['0.0.0.0/0', '::/0']);
    expect(statSync(statePath('wtp-full', dir)).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readFileSync(statePath('wtp-full', dir), 'utf8')).not.toContain('CI3Mlx');
  });

  it('refuses an interface that already exists, changing nothing', async () => {
    m.links.add('wtp-full');
    await expect(applyUp(env(), fixture('wtp-full'), 'wtp-full', { configPath: '/x' })).rejects.toThrow("`wtp-full' already exists");
    expect(m.ran).toEqual([]);
    expect((await readState('wtp-full', dir)).state).toBeUndefined();
  });

  it('stops before any change when an endpoint name does not resolve', async () => {
    const config = parseConfig(
      '[Interface]\n[Peer]\nPublicKey = ZYW3Of/T2IHGIUv9yRRhn6gv8WSbM7Vs1KObFOkGaWY=\nEndpoint = nowhere.invalid:1\nAllowedIPs = 10.0.0.0/8\n',
    );
    await expect(applyUp(env(), config, 'wt0', { configPath: '/x' })).rejects.toThrow('cannot resolve endpoint host "nowhere.invalid"');
    expect(m.ran).toEqual([]);
  });

  it('rolls everything back when a late step fails, and says so', async () => {
    const before = JSON.parse(JSON.stringify({ links: [...m.links], rules: m.rules, nft: m.nft }));
    m.failWhen = (argv) => argv[0] === 'sysctl';
    await expect(applyUp(env(), fixture('wtp-full'), 'wtp-full', { configPath: '/x' })).rejects.toThrow(
      'up wtp-full failed; everything it changed was undone',
    );
    expect({ links: [...m.links], rules: m.rules, nft: m.nft }).toEqual(before);
    const after = lines().slice(lines().indexOf('[#] sysctl -q net.ipv4.conf.all.src_valid_mark=1') + 1);
    expect(after).toEqual([
      '[#] resolvconf -d wtp-full -f',
      '[#] nft -f /dev/fd/63',
      '[#] ip -4 rule delete table 51821',
      '[#] ip -4 rule delete table main suppress_prefixlength 0',
      '[#] ip -6 rule delete table 51821',
      '[#] ip -6 rule delete table main suppress_prefixlength 0',
      '[#] ip link delete dev wtp-full',
    ]);
    expect(log).toContain("wiretun: `sysctl -q net.ipv4.conf.all.src_valid_mark=1' failed: exit status 1");
    expect((await readState('wtp-full', dir)).state).toBeUndefined();
  });

  it('rolls back a failing PostUp hook, with no hooks of its own', async () => {
    m.failWhen = (argv) => argv[0] === 'bash' && argv[2].includes('second-hook');
    await expect(applyUp(env(), fixture('wtp-messy'), 'wtp-messy', { configPath: '/x' })).rejects.toThrow(ApplyError);
    expect(m.links.has('wtp-messy')).toBe(false);
    expect(lines().at(-1)).toBe('[#] ip link delete dev wtp-messy');
  });

  it('when the daemon cannot start, has nothing to delete', async () => {
    const e = env();
    e.control.startDaemon = async () => {
      throw new Error('exit status 1');
    };
    await expect(applyUp(e, fixture('wtp-basic'), 'wtp-basic', { configPath: '/x' })).rejects.toThrow(ApplyError);
    expect(lines()).toEqual(['[#] wiretund wtp-basic']);
  });
});

describe('applyDown', () => {
  it("runs wg-quick's down with a live daemon and removes the state", async () => {
    await applyUp(env(), fixture('wtp-full'), 'wtp-full', { configPath: '/x' });
    log = [];
    expect(await applyDown(env(), fixture('wtp-full'), 'wtp-full')).toBe(0);
    const expected = readFileSync(path.join(FIXTURES, 'wtp-full.down'), 'utf8').split('\n').filter((l) => l.startsWith('[#]'));
    expect(lines()).toEqual(expected);
    expect(m.nft).toEqual([]);
    expect(m.rules['-4']).toEqual(['0:\tfrom all lookup local', '32766:\tfrom all lookup main']);
    expect((await readState('wtp-full', dir)).state).toBeUndefined();
  });

  it('cleans up rules, firewall and DNS from the recorded state after the daemon was killed', async () => {
    await applyUp(env(), fixture('wtp-full'), 'wtp-full', { configPath: '/x' });
    m.killDaemon('wtp-full');
    log = [];
    expect(await applyDown(env(), fixture('wtp-full'), 'wtp-full')).toBe(0);
    expect(lines()).toEqual([
      '[#] ip -4 rule delete table 51821',
      '[#] ip -4 rule delete table main suppress_prefixlength 0',
      '[#] ip -6 rule delete table 51821',
      '[#] ip -6 rule delete table main suppress_prefixlength 0',
      '[#] resolvconf -d wtp-full -f',
      '[#] nft -f /dev/fd/63',
    ]);
    expect(m.nft).toEqual([]);
  });

  it('also when the config file has lost its DNS and default route since', async () => {
    await applyUp(env(), fixture('wtp-full'), 'wtp-full', { configPath: '/x' });
    m.killDaemon('wtp-full');
    log = [];
    expect(await applyDown(env(), fixture('wtp-basic'), 'wtp-full')).toBe(0);
    expect(lines()).toContain('[#] resolvconf -d wtp-full -f');
    expect(lines()).toContain('[#] ip -4 rule delete table 51821');
  });

  it('refuses an interface it knows nothing about', async () => {
    await expect(applyDown(env(), fixture('wtp-full'), 'wtp-full')).rejects.toThrow("`wtp-full' is not a WireGuard interface");
  });

  it('keeps going past a failed step, reports it and keeps the state for another try', async () => {
    await applyUp(env(), fixture('wtp-full'), 'wtp-full', { configPath: '/x' });
    m.failWhen = (argv) => argv[0] === 'resolvconf';
    expect(await applyDown(env(), fixture('wtp-full'), 'wtp-full')).toBe(1);
    expect(m.nft).toEqual([]);
    expect((await readState('wtp-full', dir)).state).toBeDefined();
  });

  it('a failing PreDown leaves the interface up', async () => {
    await applyUp(env(), fixture('wtp-server'), 'wtp-server', { configPath: '/x' });
    m.failWhen = (argv) => argv[0] === 'bash' && argv[2].includes('pre-down');
    await expect(applyDown(env(), fixture('wtp-server'), 'wtp-server')).rejects.toThrow('is left up');
    expect(m.links.has('wtp-server')).toBe(true);
  });
});

describe('DNS through resolvectl when resolvconf is missing', () => {
  it('sets the link DNS and routing domain; down leaves it to the link deletion', async () => {
    m.programs.delete('resolvconf');
    m.programs.add('resolvectl');
    await applyUp(env(), fixture('wtp-full'), 'wtp-full', { configPath: '/x' });
    expect(lines().filter((l) => l.includes('resolv'))).toEqual([
      '[#] resolvectl dns wtp-full 10.66.0.1 fd66::1',
      '[#] resolvectl domain wtp-full ~. corp.example example.net',
      '[#] resolvectl default-route wtp-full true',
    ]);
    expect((await readState('wtp-full', dir)).state?.dns).toEqual({ tool: 'resolvectl', name: 'wtp-full' });
    log = [];
    expect(await applyDown(env(), fixture('wtp-full'), 'wtp-full')).toBe(0);
    expect(lines().filter((l) => l.includes('resolv'))).toEqual([]);
  });
});

describe('--masquerade', () => {
  it('turns forwarding on and NATs the tunnel subnet; down undoes exactly that', async () => {
    await applyUp(env(), fixture('wtp-server'), 'wtp-server', { configPath: '/x', masquerade: 'up0' });
    expect(m.sysctl['net.ipv4.ip_forward']).toBe('1');
    expect(m.nft).toEqual(['ip wiretun-masq-wtp-server']);
    expect(m.stdin).toContain(
      'add table ip wiretun-masq-wtp-server\n' +
        'add chain ip wiretun-masq-wtp-server postrouting { type nat hook postrouting priority 100; }\n' +
        'add rule ip wiretun-masq-wtp-server postrouting ip saddr 10.9.0.0/24 oifname "up0" masquerade\n',
    );
    // Before the PostUp hooks, which may rely on it.
    const i = lines().indexOf('[#] sysctl -q net.ipv4.ip_forward=1');
    expect(lines()[i + 2]).toMatch(/^\[#\] iptables -A FORWARD/);
    m.killDaemon('wtp-server');
    await applyDown(env(), fixture('wtp-server'), 'wtp-server');
    expect(m.sysctl['net.ipv4.ip_forward']).toBe('0');
    expect(m.nft).toEqual([]);
  });

  it('leaves forwarding alone when it was already on', async () => {
    m.sysctl['net.ipv4.ip_forward'] = '1';
    await applyUp(env(), fixture('wtp-server'), 'wtp-server', { configPath: '/x', masquerade: '' });
    expect(m.ran.filter((r) => r.includes('ip_forward'))).toEqual([]);
    expect(m.stdin.join('')).toContain('oifname != "wtp-server" masquerade');
    await applyDown(env(), fixture('wtp-server'), 'wtp-server');
    expect(m.sysctl['net.ipv4.ip_forward']).toBe('1');
  });
});
