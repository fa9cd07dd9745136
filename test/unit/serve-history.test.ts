// wiretun serve: traffic history (samples, downsampling, ranges, restarts) and /metrics, read back with a strict
// Prometheus text-format parser and compared with the device's own numbers.
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Harness, IFACE, interfacesOf, start, startLoggedIn } from './serve-helpers';

let h: Harness;
let admin: Client;
const api = `/api/interfaces/${IFACE}`;

afterEach(async () => {
  await h?.cleanup();
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * The text exposition format 0.0.4, strictly: HELP/TYPE before a family's samples, each family once, known
 * types, label names and escapes as specified, counters ending in _total, no duplicate series, final newline.
 */
function parsePrometheus(text: string): { types: Map<string, string>; samples: Sample[] } {
  if (!text.endsWith('\n')) throw new Error('no final newline');
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  let current: string | undefined;
  for (const [i, line] of text.slice(0, -1).split('\n').entries()) {
    const where = `line ${i + 1}: ${line}`;
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      if (m[1] === 'TYPE') {
        if (types.has(m[2])) throw new Error(`${where}: family declared twice`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3])) throw new Error(`${where}: bad type`);
        if (m[3] === 'counter' && !m[2].endsWith('_total')) throw new Error(`${where}: counter without _total`);
        types.set(m[2], m[3]);
      }
      current = m[2];
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`${where}: not a sample`);
    if (m[1] !== current || !types.has(m[1])) throw new Error(`${where}: sample outside its family`);
    const labels: Record<string, string> = {};
    const body = m[3] ?? '';
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/gy;
    let consumed = 0;
    for (let l = re.exec(body); l; l = re.exec(body)) {
      if (Object.hasOwn(labels, l[1])) throw new Error(`${where}: label ${l[1]} twice`);
      labels[l[1]] = l[2].replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
      consumed = re.lastIndex;
    }
    if (consumed !== body.length) throw new Error(`${where}: bad labels`);
    const value = Number(m[4]);
    if (!/^-?\d+(\.\d+)?(e[+-]?\d+)?$/.test(m[4]) || Number.isNaN(value)) throw new Error(`${where}: bad value`);
    const key = `${m[1]}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`${where}: duplicate series`);
    seen.add(key);
    samples.push({ name: m[1], labels, value });
  }
  return { types, samples };
}

async function upWithClients(names: string[]): Promise<{ id: string; publicKey: string }[]> {
  await h.live.up(await interfacesOf(h.app).load(IFACE));
  const out = [];
  for (const name of names) out.push((await admin.post(`${api}/clients`, { name })).json);
  return out;
}

describe('wiretun serve: traffic history', () => {
  it('samples deltas, serves hour/day/month series and keeps every byte through downsampling and restarts', async () => {
    ({ h, admin } = await startLoggedIn());
    const [a] = await upWithClients(['laptop']);
    const peer = () => h.live.peer(IFACE, a.publicKey)!;
    peer().rxBytes = 5000; // before the first sample: not attributed to any span
    await h.app.tick();
    let rx = 0;
    // Two hours of samples every 10 s, 1000 bytes received and 10 sent each.
    for (let i = 0; i < 720; i++) {
      h.clock.advance(10_000);
      peer().rxBytes += 1000;
      peer().txBytes += 10;
      rx += 1000;
      await h.app.tick();
    }
    const hour = (await admin.get(`${api}/clients/${a.id}/history?range=hour`)).json;
    expect(hour.step).toBe(10);
    expect(hour.points).toHaveLength(360);
    expect(hour.points.reduce((s: number, p: { rx: number }) => s + p.rx, 0)).toBe(360 * 1000);
    const day = (await admin.get(`${api}/clients/${a.id}/history?range=day`)).json;
    expect(day.step).toBe(300);
    expect(day.points).toHaveLength(288);
    expect(day.points.reduce((s: number, p: { rx: number }) => s + p.rx, 0)).toBe(rx);
    // Rows older than an hour were folded into 5-minute rows.
    const tiers = await h.app.store.db.all<{ step: number; n: number }>('SELECT step, COUNT(*) AS n FROM samples GROUP BY step ORDER BY step');
    expect(tiers.map((t) => t.step)).toEqual([10, 300]);
    expect(tiers[0].n).toBeLessThanOrEqual(361);
    // A restart keeps the history and takes the next delta against the stored counters.
    h = await h.restart();
    admin = new Client(h.url);
    await admin.login();
    h.clock.advance(10_000);
    peer().rxBytes += 1000;
    rx += 1000;
    await h.app.tick();
    const month = (await admin.get(`${api}/clients/${a.id}/history?range=month`)).json;
    expect(month.step).toBe(3600);
    expect(month.points.reduce((s: number, p: { rx: number }) => s + p.rx, 0)).toBe(rx);
    expect((await admin.get(`${api}/clients/${a.id}/history?range=year`)).json.error.field).toBe('range');
    const view = (await admin.get(`${api}/clients/${a.id}`)).json;
    expect(view.status.rxRate).toBe(100);
  });

  it('drops history older than a month and counts a counter reset (interface restarted) as new traffic', async () => {
    ({ h, admin } = await startLoggedIn());
    const [a] = await upWithClients(['laptop']);
    const peer = () => h.live.peer(IFACE, a.publicKey)!;
    await h.app.tick();
    h.clock.advance(10_000);
    peer().rxBytes = 7000;
    await h.app.tick();
    h.clock.advance(10_000);
    peer().rxBytes = 300; // went down and up
    await h.app.tick();
    const day = (await admin.get(`${api}/clients/${a.id}/history?range=day`)).json;
    expect(day.points.reduce((s: number, p: { rx: number }) => s + p.rx, 0)).toBe(7300);
    h.clock.advance(32 * 86400_000);
    await h.app.tick();
    expect((await h.app.store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM samples'))!.n).toBe(0);
  });
});

describe('wiretun serve: the first bytes of a client', () => {
  it('counts them when the client was added, or its interface came up, after a sample', async () => {
    ({ h, admin } = await startLoggedIn());
    await h.app.tick(); // the interface is down: noted
    const [a] = await upWithClients(['laptop']);
    h.live.peer(IFACE, a.publicKey)!.rxBytes = 4000; // all of it since the interface came up
    h.clock.advance(10_000);
    await h.app.tick();
    const b = (await admin.post(`${api}/clients`, { name: 'phone' })).json;
    h.live.peer(IFACE, b.publicKey)!.txBytes = 900; // all of it since the client was added
    h.clock.advance(10_000);
    await h.app.tick();
    const sum = async (id: string, k: 'rx' | 'tx') =>
      (await admin.get(`${api}/clients/${id}/history?range=hour`)).json.points.reduce((s: number, p: Record<string, number>) => s + p[k], 0);
    expect(await sum(a.id, 'rx')).toBe(4000);
    expect(await sum(b.id, 'tx')).toBe(900);
  });
});

describe('wiretun serve: /metrics', () => {
  it('exports the device numbers under the exporter names, with names escaped, and clients by state', async () => {
    ({ h, admin } = await startLoggedIn());
    const [a, b] = await upWithClients(['laptop "work"\\x', 'phone']);
    const c = (await admin.post(`${api}/clients`, { name: 'old' })).json;
    await admin.patch(`${api}/clients/${c.id}`, { enabled: false });
    Object.assign(h.live.peer(IFACE, a.publicKey)!, { rxBytes: 1234, txBytes: 5678, lastHandshakeSec: Math.floor(h.clock.ms / 1000) - 5 });
    const r = await new Client(h.url).get('/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const { types, samples } = parsePrometheus(r.text);
    expect(types.get('wireguard_sent_bytes_total')).toBe('counter');
    expect(types.get('wireguard_latest_handshake_seconds')).toBe('gauge');
    const of = (name: string, key: string) => samples.find((s) => s.name === name && s.labels.public_key === key);
    expect(of('wireguard_received_bytes_total', a.publicKey)).toEqual({
      name: 'wireguard_received_bytes_total',
      labels: { interface: IFACE, public_key: a.publicKey, allowed_ips: '10.44.0.2/32,fd44::2/128', friendly_name: 'laptop "work"\\x' },
      value: 1234,
    });
    expect(of('wireguard_sent_bytes_total', a.publicKey)?.value).toBe(5678);
    expect(of('wireguard_latest_handshake_seconds', a.publicKey)?.value).toBe(Math.floor(h.clock.ms / 1000) - 5);
    expect(of('wireguard_latest_handshake_seconds', b.publicKey)?.value).toBe(0);
    expect(of('wireguard_sent_bytes_total', c.publicKey)).toBeUndefined();
    const state = (s: string) => samples.find((x) => x.name === 'wiretun_clients' && x.labels.state === s)?.value;
    expect([state('connected'), state('never'), state('disabled'), state('idle')]).toEqual([1, 1, 1, 0]);
    expect(samples.find((x) => x.name === 'wiretun_interface_up')?.value).toBe(1);
  });

  it('needs the metrics token when one is set', async () => {
    h = await start({ metricsToken: 'scrape-secret' });
    const c = new Client(h.url);
    expect((await c.get('/metrics')).status).toBe(401);
    expect((await c.get('/metrics', { authorization: 'Bearer wrong' })).status).toBe(401);
    const ok = await c.get('/metrics', { authorization: 'Bearer scrape-secret' });
    expect(ok.status).toBe(200);
    expect(parsePrometheus(ok.text).samples.find((s) => s.name === 'wiretun_interface_up')?.value).toBe(0);
    // The metrics token opens nothing else.
    expect((await c.get('/api/interfaces', { authorization: 'Bearer scrape-secret' })).status).toBe(401);
  });
});
