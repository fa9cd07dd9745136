// `wiretun serve` for real: the CLI serving in a server namespace (talked to with curl inside it), bringing the
// interface up with wiretund through the API, a client created through the API and brought up with
// `wiretun up` in a second namespace over a veth pair; its handshake shows in the API, /metrics agrees with
// `wiretun show dump`, disabling it takes it off the running interface, and the API takes the interface down.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePrivateKey } from '../../ts/keys';
import { REPO } from './lib/env';
import { killDaemons, removeSocket } from './lib/lab';
import { Background, must, run, runDetaching, start } from './lib/proc';
import { waitFor } from './lib/wait';

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('\n*** SKIPPED: test/netns/serve.test.ts needs root (namespaces, TUN) ***\n');

const NS_S = `wtsv-s-${process.pid}`;
const NS_C = `wtsv-c-${process.pid}`;
const IF_S = 'wtsv0';
const IF_C = 'wtsvc0';
const PORT = 51821;
const PASSWORD = 'a password for the netns test';
const BIN = path.join(REPO, 'bin', 'wiretun');

let work: string;
let serve: Background | undefined;
let csrf = '';

interface Answer {
  status: number;
  body: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One request to the console from inside the server namespace, with a cookie jar like a browser's. */
async function api(method: string, url: string, body?: unknown): Promise<Answer> {
  const args = ['-sS', '-X', method, '-b', path.join(work, 'jar'), '-c', path.join(work, 'jar'), '-w', '\n%{http_code}'];
  if (csrf) args.push('-H', `x-csrf-token: ${csrf}`);
  if (body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', JSON.stringify(body));
  const out = await must('curl', [...args, `http://127.0.0.1:${PORT}${url}`], { ns: NS_S });
  const cut = out.lastIndexOf('\n');
  const text = out.slice(0, cut);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: Number(out.slice(cut + 1)), body: text, json };
}

function wiretun(args: string[], ns: string) {
  const log = path.join(work, `wiretun-${ns}.log`);
  writeFileSync(log, '');
  return runDetaching(BIN, args, log, { ns, timeoutMs: 60_000 });
}

async function setup(): Promise<void> {
  work = mkdtempSync(path.join(tmpdir(), 'wtsv-'));
  for (const d of ['etc', 'client']) mkdirSync(path.join(work, d), { mode: 0o700 });
  await must('ip', ['netns', 'add', NS_S]);
  await must('ip', ['netns', 'add', NS_C]);
  for (const ns of [NS_S, NS_C]) await must('ip', ['link', 'set', 'lo', 'up'], { ns });
  await must('ip', ['link', 'add', 'sv0', 'type', 'veth', 'peer', 'name', 'sv1', 'netns', NS_C], { ns: NS_S });
  await must('ip', ['address', 'add', '192.0.2.2/24', 'dev', 'sv0'], { ns: NS_S });
  await must('ip', ['address', 'add', '192.0.2.1/24', 'dev', 'sv1'], { ns: NS_C });
  await must('ip', ['link', 'set', 'sv0', 'up'], { ns: NS_S });
  await must('ip', ['link', 'set', 'sv1', 'up'], { ns: NS_C });
}

async function cleanup(): Promise<void> {
  if (serve) serve.child.kill('SIGTERM');
  killDaemons([IF_S, IF_C], 'SIGKILL');
  for (const ns of [NS_S, NS_C]) await run('ip', ['netns', 'del', ns]);
  for (const i of [IF_S, IF_C]) removeSocket(i);
  for (const i of [IF_S, IF_C]) rmSync(`/var/run/wiretun/${i}.json`, { force: true });
  if (work) rmSync(work, { recursive: true, force: true });
}

/** `wiretun show IF dump`'s peer lines: key → [endpoint, allowed ips, handshake, rx, tx]. */
async function dumpPeers(): Promise<Map<string, string[]>> {
  const out = await must(BIN, ['show', IF_S, 'dump'], { ns: NS_S });
  const lines = out.trim().split('\n').slice(1);
  return new Map(lines.map((l) => l.split('\t')).map((f) => [f[0], [f[2], f[3], f[4], f[5], f[6]]]));
}

function metricValue(text: string, name: string, key: string): string | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`public_key="${key}"`));
  return line?.split(' ').pop();
}

const ping = async (to: string) => (await run('ping', ['-c', '1', '-W', '1', to], { ns: NS_C })).code === 0;

describe.skipIf(!isRoot)('wiretun serve against a real interface', () => {
  beforeAll(async () => {
    await setup();
    const conf = path.join(work, 'etc', `${IF_S}.conf`);
    const text = `[Interface]\nPrivateKey = ${generatePrivateKey()}\nListenPort = 51820\nAddress = 10.93.0.1/24\n# PublicEndpoint = 192.0.2.2\n`;
    writeFileSync(conf, text, { mode: 0o600 });
    const state = path.join(work, 'state');
    await must(BIN, ['serve', '--set-password', '--state', state], { input: `${PASSWORD}\n` });
    serve = start(BIN, ['serve', '--listen', `127.0.0.1:${PORT}`, '--state', state, conf], { ns: NS_S, timeoutMs: 300_000 });
    await waitFor('the console to answer', async () => (await run('curl', ['-s', `http://127.0.0.1:${PORT}/api/session`], { ns: NS_S })).code === 0);
  });

  afterAll(cleanup);

  it('logs in, brings the interface up, creates a client whose config connects, and sees it connected', async () => {
    const login = await api('POST', '/api/login', { password: PASSWORD });
    expect(login.status, login.body).toBe(200);
    csrf = login.json.csrfToken;
    const iface = await api('GET', `/api/interfaces/${IF_S}`);
    expect(iface.json.up).toBe(false);
    const up = await api('POST', `/api/interfaces/${IF_S}/up`);
    expect(up.status, `${up.body}\n${serve!.output()}`).toBe(200);
    expect(up.json).toMatchObject({ up: true, listenPort: 51820 });

    const created = await api('POST', `/api/interfaces/${IF_S}/clients`, { name: 'laptop' });
    expect(created.status, created.body).toBe(201);
    expect(created.json.addresses).toEqual(['10.93.0.2/32']);
    const conf = await api('GET', `/api/interfaces/${IF_S}/clients/${created.json.id}/config`);
    expect(conf.status).toBe(200);
    expect(conf.body).toContain('Endpoint = 192.0.2.2:51820');
    const clientFile = path.join(work, 'client', `${IF_C}.conf`);
    writeFileSync(clientFile, conf.body, { mode: 0o600 });
    const r = await wiretun(['up', clientFile], NS_C);
    expect(r.code, r.stderr).toBe(0);
    await waitFor('a ping through the tunnel', () => ping('10.93.0.1'), { timeoutMs: 15_000 });
    await waitFor('the client to show as connected', async () => {
      const c = await api('GET', `/api/interfaces/${IF_S}/clients/${created.json.id}`);
      return c.json.status.state === 'connected' && /^192\.0\.2\.1:\d+$/.test(c.json.status.endpoint ?? '') && c.json.status.rxBytes > 0;
    });
  });

  it('/metrics matches `wiretun show dump`', async () => {
    const key = (await api('GET', `/api/interfaces/${IF_S}/clients`)).json[0].publicKey as string;
    // Read both until no packet arrived in between (a passive keepalive may come late).
    await waitFor('/metrics and the dump to agree', async () => {
      const dump = (await dumpPeers()).get(key)!;
      const metrics = (await api('GET', '/metrics')).body;
      const [, allowed, handshake, rx, tx] = dump;
      return (
        metricValue(metrics, 'wireguard_received_bytes_total', key) === rx &&
        metricValue(metrics, 'wireguard_sent_bytes_total', key) === tx &&
        metricValue(metrics, 'wireguard_latest_handshake_seconds', key) === handshake &&
        metrics.includes(`allowed_ips="${allowed}"`) &&
        metrics.includes('friendly_name="laptop"') &&
        Number(handshake) > 0
      );
    });
  });

  it('disabling the client takes it off the running interface; the API takes the interface down', async () => {
    const [client] = (await api('GET', `/api/interfaces/${IF_S}/clients`)).json;
    const off = await api('PATCH', `/api/interfaces/${IF_S}/clients/${client.id}`, { enabled: false });
    expect(off.status, off.body).toBe(200);
    expect((await dumpPeers()).has(client.publicKey)).toBe(false);
    expect(await ping('10.93.0.1')).toBe(false);
    const down = await api('POST', `/api/interfaces/${IF_S}/down`);
    expect(down.status, down.body).toBe(200);
    expect(down.json.up).toBe(false);
    expect((await run('ip', ['link', 'show', IF_S], { ns: NS_S })).code).not.toBe(0);
  });
});
