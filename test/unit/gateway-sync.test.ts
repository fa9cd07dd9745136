// The gateway's sync logic against a fake database and a fake device (the real ones are in
// test/netns/gateway.test.ts): what goes to the device for a first sync, an incremental one, a full reconcile,
// a changed interface, a lost database, a deleted location; and that requests fold into one more run.
import { describe, expect, it } from 'vitest';
import { DeviceState, DeviceUpdate, PeerState } from '../../ts/config/model';
import { WgQuickConfig } from '../../ts/config/wgquick';
import { DeviceSide, Existing, Shape } from '../../ts/gateway/apply';
import { Client, Location, Read } from '../../ts/gateway/source';
import { latest, Syncer } from '../../ts/gateway/sync';
import { formatSet } from '../../ts/uapi/codec';

const key = (n: number) => Buffer.alloc(32, n).toString('base64');
const hex = (n: number) => Buffer.alloc(32, n).toString('hex');

const LOC: Location = {
  name: 'loc',
  privateKey: key(200),
  listenPort: 51820,
  addresses: '10.9.0.1/24',
  mtu: null,
  endpoint: '192.0.2.1:51820',
  revision: 5,
  configRevision: 1,
};

const client = (n: number, over: Partial<Client> = {}): Client => ({
  publicKey: key(n),
  presharedKey: null,
  addresses: `10.9.0.${n}/32`,
  enabled: true,
  revision: 2,
  ...over,
});

function peerState(n: number, over: Partial<PeerState> = {}): PeerState {
  return {
    publicKey: Buffer.alloc(32, n),
    presharedKey: null,
    endpoint: null,
    lastHandshakeSec: 0,
    lastHandshakeNsec: 0,
    rxBytes: 0,
    txBytes: 0,
    persistentKeepalive: 0,
    allowedIps: [`10.9.0.${n}/32`],
    ...over,
  };
}

/** A device that records what it is asked and holds a state the test sets. */
class FakeDevice implements DeviceSide {
  readonly iface = 'loc';
  calls: string[] = [];
  sets: string[] = [];
  state: DeviceState | undefined;
  exists: Existing = 'none';
  shape: Shape = { addresses: ['10.9.0.1/24'], mtu: 1420 };

  async get() {
    return this.state;
  }
  async set(u: DeviceUpdate) {
    this.sets.push(formatSet(u));
  }
  async existing() {
    return this.exists;
  }
  async liveShape() {
    return this.shape;
  }
  async up(c: WgQuickConfig) {
    this.calls.push(`up ${c.device.peers.length} peers, table ${c.table}`);
    this.state = { privateKey: c.device.privateKey!, listenPort: c.device.listenPort!, fwmark: 0, peers: c.device.peers.map((p) => peerState(p.publicKey[0])) };
  }
  async down() {
    this.calls.push('down');
    this.state = undefined;
  }
}

function setup(reads: (applied: number | undefined) => Read | Promise<Read>) {
  const device = new FakeDevice();
  const asked: (number | undefined)[] = [];
  const logs: string[] = [];
  const syncer = new Syncer({
    source: { location: 'loc', read: async (a) => (asked.push(a), reads(a)) },
    device,
    log: (l) => logs.push(l),
    retryMs: 20,
  });
  return { device, asked, logs, syncer };
}

const full = (clients: Client[], loc: Location | null = LOC): Read => ({ kind: 'full', location: loc ?? undefined, clients });

describe('gateway sync', () => {
  it('brings the location up with its usable enabled clients, table off, and reports a bad row', async () => {
    const { device, syncer } = setup(() => full([client(1), client(2), client(3, { addresses: 'nonsense' })]));
    await syncer.request();
    expect(device.calls).toEqual(['up 2 peers, table off']);
    expect(syncer.applied).toBe(5);
    expect(syncer.error).toMatch(/1 client row\(s\) left out: client .* addresses: "nonsense" is not an address/);
  });

  it('applies only what changed after the applied revision: adds, removals, tombstones', async () => {
    let n = 0;
    const { device, asked, syncer } = setup((applied) => {
      if (n++ === 0) return full([client(1), client(2)]);
      expect(applied).toBe(5);
      return {
        kind: 'changes',
        location: { ...LOC, revision: 9 },
        clients: [client(3, { revision: 6, presharedKey: key(77) }), client(2, { enabled: false, revision: 7 }), client(4, { revision: 6 })],
        removed: [{ publicKey: key(4), revision: 8 }],
      };
    });
    await syncer.request();
    await syncer.request();
    expect(asked).toEqual([undefined, 5]);
    expect(syncer.applied).toBe(9);
    const body = device.sets[0];
    expect(body).toContain(`public_key=${hex(3)}\npreshared_key=${hex(77)}\nreplace_allowed_ips=true\nallowed_ip=10.9.0.3/32\n`);
    expect(body).toContain(`public_key=${hex(2)}\nremove=true\n`);
    expect(body).toContain(`public_key=${hex(4)}\nremove=true\n`);
    expect(body).not.toContain(hex(1));
  });

  it('a full reconcile of a running interface sends only the difference', async () => {
    let clients = [client(1), client(2)];
    const { device, syncer } = setup(() => full(clients));
    await syncer.request();
    device.state!.peers[0].lastHandshakeSec = 1_700_000_000; // a live session on peer 1
    clients = [client(1), client(2, { addresses: '10.9.0.2/32,10.9.1.0/24' }), client(3)];
    await syncer.request(true);
    expect(device.calls).toEqual(['up 2 peers, table off']);
    expect(device.sets).toHaveLength(1);
    expect(device.sets[0]).not.toContain(hex(1));
    expect(device.sets[0]).toContain(`public_key=${hex(2)}\nreplace_allowed_ips=true\nallowed_ip=10.9.0.2/32\nallowed_ip=10.9.1.0/24\n`);
    expect(device.sets[0]).toContain(`public_key=${hex(3)}\n`);
  });

  it('a changed address or MTU takes the interface down and up; a new key or port does not', async () => {
    let loc = LOC;
    const { device, syncer } = setup(() => full([client(1)], loc));
    await syncer.request();
    loc = { ...LOC, listenPort: 51821, revision: 6, configRevision: 6 };
    await syncer.request(true);
    expect(device.calls).toEqual(['up 1 peers, table off']);
    expect(device.sets[0]).toBe('listen_port=51821\n');
    loc = { ...loc, addresses: '10.9.0.1/24,fd09::1/64', revision: 7, configRevision: 7 };
    await syncer.request(true);
    expect(device.calls).toEqual(['up 1 peers, table off', 'down', 'up 1 peers, table off']);
  });

  it('while the database is away nothing on the device changes, and it is retried until it answers', async () => {
    let down = true;
    const { device, logs, syncer } = setup(() => {
      if (down) throw new Error('connect ECONNREFUSED');
      return full([client(1)]);
    });
    await syncer.request();
    expect(syncer.error).toMatch(/sync failed .*ECONNREFUSED/);
    expect(device.calls).toEqual([]);
    down = false;
    await expect.poll(() => syncer.applied, { timeout: 2_000 }).toBe(5);
    expect(device.calls).toEqual(['up 1 peers, table off']);
    expect(logs.filter((l) => l.includes('ECONNREFUSED'))).toHaveLength(1); // said once, not once per retry
    expect(logs).toContain('in sync again');
  });

  it('requests during a run fold into one more run', async () => {
    let release: () => void = () => undefined;
    let reads = 0;
    const { syncer } = setup(async () => {
      reads++;
      if (reads === 1) await new Promise<void>((r) => (release = r));
      return full([client(1)]);
    });
    const first = syncer.request();
    await expect.poll(() => reads).toBe(1);
    void syncer.request();
    void syncer.request(true);
    const last = syncer.request();
    release();
    await Promise.all([first, last]);
    expect(reads).toBe(2);
  });

  it('a location that is gone empties the interface', async () => {
    let loc: Location | null = LOC;
    const { device, syncer } = setup(() => full([client(1)], loc));
    await syncer.request();
    loc = null;
    await syncer.request(true);
    expect(device.sets).toEqual(['replace_peers=true\n']);
    expect(syncer.error).toMatch(/location loc is not in the database or not granted/);
    await syncer.stop(false);
  });

  it("takes over an interface an earlier run left up (sessions kept), refuses another's", async () => {
    const { device, syncer } = setup(() => full([client(1), client(2)]));
    device.exists = 'ours';
    device.state = { privateKey: Buffer.alloc(32, 200), listenPort: 51820, fwmark: 0, peers: [peerState(1), peerState(9)] };
    await syncer.request();
    expect(device.calls).toEqual([]);
    expect(device.sets).toEqual([`public_key=${hex(9)}\nremove=true\npublic_key=${hex(2)}\nreplace_allowed_ips=true\nallowed_ip=10.9.0.2/32\n`]);

    const other = setup(() => full([client(1)]));
    other.device.exists = 'foreign';
    await other.syncer.request();
    expect(other.syncer.error).toMatch(/loc already exists and was not brought up by wiretun gateway/);
    await other.syncer.stop(false);
  });

  it('of a client row and its tombstone the newer wins', () => {
    const out = latest({ clients: [client(1, { revision: 3 }), client(2, { revision: 5 })], removed: [{ publicKey: key(1), revision: 4 }, { publicKey: key(2), revision: 4 }] });
    expect(out.get(key(1))).toBeUndefined();
    expect(out.has(key(1))).toBe(true);
    expect(out.get(key(2))?.revision).toBe(5);
  });
});
