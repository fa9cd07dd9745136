// wiretun serve: clients over the API against real config files: created as `wiretun peer add` would, edited,
// disabled (commented out with #~, gone from the running interface, still gone after `up`), deleted, expired;
// their .conf and one-time links; bad input refused with the field named and the file untouched.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../ts/config/parse';
import { LINK_TTL_MS } from '../../ts/serve/api/clients';
import { MAX_BODY_BYTES } from '../../ts/serve/http';
import { assertBuilt, wiretun } from './cli-helpers';
import { Client, Harness, IFACE, interfacesOf, startLoggedIn } from './serve-helpers';

let h: Harness;
let admin: Client;
const api = `/api/interfaces/${IFACE}`;

afterEach(async () => {
  await h?.cleanup();
});

const file = () => readFileSync(h.confPath, 'latin1');
const peersUp = () => parseConfig(readFileSync(h.confPath, 'utf8')).config.device.peers.map((p) => p.publicKey.toString('base64'));

async function up(): Promise<void> {
  await h.live.up(await interfacesOf(h.app).load(IFACE));
}

describe('wiretun serve: clients', () => {
  it('creates clients with the next free addresses, in the file and on the running interface', async () => {
    ({ h, admin } = await startLoggedIn());
    await up();
    const a = await admin.post(`${api}/clients`, { name: 'laptop' });
    expect(a.status).toBe(201);
    expect(a.json.addresses).toEqual(['10.44.0.2/32', 'fd44::2/128']);
    expect(a.json.allowedIps).toEqual(['10.44.0.0/24', 'fd44::/64']);
    expect(a.json.status.state).toBe('never');
    const b = await admin.post(`${api}/clients`, { name: 'phone', allowedIps: ['0.0.0.0/0', '::/0'] });
    expect(b.json.addresses).toEqual(['10.44.0.3/32', 'fd44::3/128']);
    expect(file()).toContain(`# Name = phone\nPublicKey = ${b.json.publicKey}`);
    expect(h.live.peer(IFACE, b.json.publicKey)?.allowedIps).toEqual(['10.44.0.3/32', 'fd44::3/128']);
    const conf = await admin.get(`${api}/clients/${b.json.id}/config`);
    expect(conf.headers.get('content-disposition')).toBe('attachment; filename="phone.conf"');
    const client = parseConfig(conf.text).config;
    expect(client.addresses).toEqual(['10.44.0.3/32', 'fd44::3/128']);
    expect(client.device.peers[0].endpoint).toBe('vpn.example.test:51820');
    expect(client.device.peers[0].allowedIps).toEqual(['0.0.0.0/0', '::/0']);
    const serverSide = parseConfig(file()).config.device.peers.find((p) => p.publicKey.toString('base64') === b.json.publicKey)!;
    expect(client.device.peers[0].presharedKey!.equals(serverSide.presharedKey!)).toBe(true);
    const list = await admin.get(`${api}/clients`);
    expect(list.json.map((c: { name: string }) => c.name)).toEqual(['laptop', 'phone']);
  });

  it('refuses bad input with 400 naming the field, and changes nothing', async () => {
    ({ h, admin } = await startLoggedIn());
    await admin.post(`${api}/clients`, { name: 'laptop' });
    const before = file();
    const cases: [unknown, number, string | undefined][] = [
      [{ name: 'x', addresses: ['10.99.0.5'] }, 400, 'addresses[0]'],
      [{ name: 'x', addresses: ['10.44.0.2'] }, 400, 'addresses[0]'],
      [{ name: 'x', addresses: ['10.44.0.9', 'nonsense'] }, 400, 'addresses[1]'],
      [{ name: 'laptop' }, 400, 'name'],
      [{ name: 'bad # name' }, 400, 'name'],
      [{ name: '' }, 400, 'name'],
      [{ name: 'x', expiresAt: 'next tuesday' }, 400, 'expiresAt'],
      [{ name: 'x', expiresAt: '2020-01-01' }, 400, 'expiresAt'],
      [{ name: 'x', allowedIps: ['10.0.0.0/33'] }, 400, 'allowedIps[0]'],
      [{ name: 'x', colour: 'red' }, 400, 'colour'],
      [{ name: 42 }, 400, 'name'],
      [{}, 400, 'name'],
      [null, 400, undefined],
    ];
    for (const [body, status, field] of cases) {
      const r = await admin.post(`${api}/clients`, body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.json.error.field, JSON.stringify(body)).toBe(field);
    }
    const big = await admin.post(`${api}/clients`, JSON.stringify({ name: 'x'.repeat(MAX_BODY_BYTES) }));
    expect(big.status).toBe(413);
    const notJson = await admin.post(`${api}/clients`, '{"name":', {});
    expect(notJson.status).toBe(400);
    const form = await admin.request('POST', `${api}/clients`, 'name=x', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    const id = (await admin.get(`${api}/clients`)).json[0].id;
    expect((await admin.post(`${api}/clients/${id}/links`, { ttl: 5 })).json.error.message).toBe('this route takes no body');
    expect((await admin.post(`${api}/clients/${id}/links`, {})).status).toBe(201);
    expect(file()).toBe(before);
    expect((await admin.get(`${api}/clients`)).json).toHaveLength(1);
  });

  it('counts lengths in characters as JSON Schema does, so a name of 64 emoji is 64 long', async () => {
    ({ h, admin } = await startLoggedIn());
    expect((await admin.post(`${api}/clients`, { name: '\u{1F680}'.repeat(64) })).status).toBe(201);
    expect((await admin.post(`${api}/clients`, { name: '\u{1F680}'.repeat(65) })).json.error.field).toBe('name');
  });

  it('disables a client by commenting it out: off the running interface, left out by `up`, back byte for byte', async () => {
    ({ h, admin } = await startLoggedIn());
    await up();
    const a = (await admin.post(`${api}/clients`, { name: 'laptop' })).json;
    const withPeer = file();
    const off = await admin.patch(`${api}/clients/${a.id}`, { enabled: false });
    expect(off.status).toBe(200);
    expect(off.json.enabled).toBe(false);
    expect(off.json.status.state).toBe('disabled');
    expect(file()).toContain(`#~[Peer]\n#~# Name = laptop\n#~PublicKey = ${a.publicKey}`);
    expect(peersUp()).not.toContain(a.publicKey);
    expect(h.live.peer(IFACE, a.publicKey)).toBeUndefined();
    // The disabled client's address and name stay taken, here and for `wiretun peer add`'s planner.
    const b = (await admin.post(`${api}/clients`, { name: 'phone' })).json;
    expect(b.addresses).toEqual(['10.44.0.3/32', 'fd44::3/128']);
    expect((await admin.post(`${api}/clients`, { name: 'laptop' })).json.error.field).toBe('name');
    const on = await admin.patch(`${api}/clients/${a.id}`, { enabled: true });
    expect(on.json.enabled).toBe(true);
    expect(h.live.peer(IFACE, a.publicKey)?.allowedIps).toEqual(a.addresses);
    expect(file().startsWith(withPeer.trimEnd())).toBe(true);
    expect(peersUp()).toContain(a.publicKey);
    // With SaveConfig, `down` would write the running peers over the file: disabling is refused.
    writeFileSync(h.confPath, file().replace('ListenPort = 51820', 'ListenPort = 51820\nSaveConfig = true'));
    const refused = await admin.patch(`${api}/clients/${a.id}`, { enabled: false });
    expect(refused.status).toBe(409);
    expect(refused.json.error.field).toBe('enabled');
    expect((await admin.get(api)).json.saveConfig).toBe(true);
  });

  it('renames and re-addresses a client, enabled or disabled; refuses addresses outside the subnets or in use', async () => {
    ({ h, admin } = await startLoggedIn());
    await up();
    const a = (await admin.post(`${api}/clients`, { name: 'laptop' })).json;
    await admin.post(`${api}/clients`, { name: 'phone' });
    const moved = await admin.patch(`${api}/clients/${a.id}`, { name: 'work laptop', addresses: ['10.44.0.20/32'] });
    expect(moved.status).toBe(200);
    expect(moved.json).toMatchObject({ name: 'work laptop', addresses: ['10.44.0.20/32'] });
    expect(h.live.peer(IFACE, a.publicKey)?.allowedIps).toEqual(['10.44.0.20/32']);
    expect((await admin.patch(`${api}/clients/${a.id}`, { addresses: ['10.45.0.1'] })).json.error.field).toBe('addresses[0]');
    expect((await admin.patch(`${api}/clients/${a.id}`, { addresses: ['10.44.0.3'] })).json.error.field).toBe('addresses[0]');
    expect((await admin.patch(`${api}/clients/${a.id}`, { name: 'phone' })).json.error.field).toBe('name');
    await admin.patch(`${api}/clients/${a.id}`, { enabled: false });
    const renamed = await admin.patch(`${api}/clients/${a.id}`, { name: 'old laptop' });
    expect(renamed.json).toMatchObject({ name: 'old laptop', enabled: false });
    expect(file()).toContain('#~# Name = old laptop');
    expect((await admin.get(`${api}/clients/AAAA`)).json.error.field).toBe('id');
  });

  it('refuses an edit with a stale If-Match (409) and leaves the file as the first edit made it', async () => {
    ({ h, admin } = await startLoggedIn());
    const a = (await admin.post(`${api}/clients`, { name: 'laptop' })).json;
    const tag = (await admin.get(`${api}/clients/${a.id}`)).headers.get('etag')!;
    expect(tag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    const first = await admin.request('PATCH', `${api}/clients/${a.id}`, { name: 'laptop-anna' }, { 'if-match': tag });
    expect(first.status).toBe(200);
    expect(first.headers.get('etag')).not.toBe(tag);
    const before = file();
    const second = await admin.request('PATCH', `${api}/clients/${a.id}`, { name: 'laptop-bob' }, { 'if-match': tag });
    expect(second.status).toBe(409);
    expect(second.json.error.code).toBe('conflict');
    expect((await admin.request('DELETE', `${api}/clients/${a.id}`, undefined, { 'if-match': tag })).status).toBe(409);
    expect(file()).toBe(before);
    expect((await admin.request('DELETE', `${api}/clients/${a.id}`, undefined, { 'if-match': first.headers.get('etag')! })).status).toBe(204);
  });

  it('deletes enabled and disabled clients from the file, the interface and the store', async () => {
    ({ h, admin } = await startLoggedIn());
    await up();
    const a = (await admin.post(`${api}/clients`, { name: 'laptop' })).json;
    const b = (await admin.post(`${api}/clients`, { name: 'phone' })).json;
    await admin.patch(`${api}/clients/${b.id}`, { enabled: false });
    expect((await admin.del(`${api}/clients/${a.id}`)).status).toBe(204);
    expect((await admin.del(`${api}/clients/${b.id}`)).status).toBe(204);
    expect(file()).not.toContain(a.publicKey);
    expect(file()).not.toContain(b.publicKey);
    expect(h.live.devices.get(IFACE)!.peers).toEqual([]);
    expect(await h.app.store.client(IFACE, a.publicKey)).toBeUndefined();
    expect((await admin.del(`${api}/clients/${a.id}`)).status).toBe(404);
  });

  it('disables clients when they expire (on the periodic task, with the clock)', async () => {
    ({ h, admin } = await startLoggedIn());
    await up();
    const expires = new Date(h.clock.ms + 3600_000).toISOString();
    const a = (await admin.post(`${api}/clients`, { name: 'guest', expiresAt: expires })).json;
    expect(a.expiresAt).toBe(expires);
    await h.app.tick();
    expect((await admin.get(`${api}/clients/${a.id}`)).json.enabled).toBe(true);
    h.clock.advance(3600_000);
    await h.app.tick();
    expect((await admin.get(`${api}/clients/${a.id}`)).json.enabled).toBe(false);
    expect(h.live.peer(IFACE, a.publicKey)).toBeUndefined();
    const refused = await admin.patch(`${api}/clients/${a.id}`, { enabled: true });
    expect(refused.json.error.field).toBe('expiresAt');
    const later = new Date(h.clock.ms + 86400_000).toISOString();
    expect((await admin.patch(`${api}/clients/${a.id}`, { enabled: true, expiresAt: later })).json.enabled).toBe(true);
  });
});

describe('wiretun serve: one-time links', () => {
  it('give the .conf once, within 15 minutes, without credentials', async () => {
    ({ h, admin } = await startLoggedIn());
    const a = (await admin.post(`${api}/clients`, { name: 'laptop' })).json;
    const conf = (await admin.get(`${api}/clients/${a.id}/config`)).text;
    const link = await admin.post(`${api}/clients/${a.id}/links`);
    expect(link.status).toBe(201);
    expect(link.json.url).toMatch(/^\/api\/links\/[A-Za-z0-9_-]{22}$/);
    const anon = new Client(h.url);
    const first = await anon.get(link.json.url);
    expect(first.status).toBe(200);
    expect(first.text).toBe(conf);
    expect((await anon.get(link.json.url)).status).toBe(404);
    const late = await admin.post(`${api}/clients/${a.id}/links`);
    h.clock.advance(LINK_TTL_MS);
    expect((await anon.get(late.json.url)).status).toBe(404);
    const inTime = await admin.post(`${api}/clients/${a.id}/links`);
    h.clock.advance(LINK_TTL_MS - 1000);
    expect((await anon.get(inTime.json.url)).status).toBe(200);
  });
});

describe('wiretun serve: the config file stays the source of truth', () => {
  beforeAll(() => assertBuilt());

  it('shows edits made with an editor and `wiretun peer add` while serving; concurrent adds lose nothing', async () => {
    ({ h, admin } = await startLoggedIn());
    writeFileSync(h.confPath, file().replace('ListenPort = 51820', 'ListenPort = 51999'));
    expect((await admin.get(api)).json.listenPort).toBe(51999);
    // The console's client defaults are comments in the file that `peer add` honours too.
    const patched = await admin.patch(api, { clientDefaults: { dns: ['10.44.0.1'], persistentKeepalive: 25 } });
    expect(patched.status).toBe(200);
    const cli = wiretun(['peer', 'add', h.confPath, '--name', 'from-cli']);
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/DNS = 10\.44\.0\.1/);
    expect(cli.stdout).toMatch(/PersistentKeepalive = 25/);
    const list = (await admin.get(`${api}/clients`)).json;
    expect(list.map((c: { name: string }) => c.name)).toEqual(['from-cli']);
    expect(list[0].hasConfig).toBe(false);
    // API creates and CLI adds at the same time: every one that succeeded is in the file, no address twice.
    const apiAdds = Array.from({ length: 6 }, (_, i) => admin.post(`${api}/clients`, { name: `api-${i}` }));
    const { spawn } = await import('node:child_process');
    const cliAdds = Array.from({ length: 3 }, (_, i) =>
      new Promise<number>((resolve) => {
        const p = spawn(process.execPath, ['bin/wiretun', 'peer', 'add', h.confPath, '--name', `cli-${i}`], { stdio: 'ignore' });
        p.on('exit', (code) => resolve(code ?? 1));
      }),
    );
    const results = await Promise.all(apiAdds);
    const codes = await Promise.all(cliAdds);
    expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201, 201, 201]);
    const names = parseConfig(readFileSync(h.confPath, 'utf8')).config.device.peers.length;
    const text = file();
    const expected = ['from-cli', ...results.map((_, i) => `api-${i}`), ...codes.flatMap((c, i) => (c === 0 ? [`cli-${i}`] : []))];
    for (const n of expected) expect(text).toContain(`# Name = ${n}\n`);
    expect(names).toBe(expected.length);
    const addresses = parseConfig(readFileSync(h.confPath, 'utf8')).config.device.peers.flatMap((p) => p.allowedIps);
    expect(new Set(addresses).size).toBe(addresses.length);
    // Both take the file's lock from read to write, so neither is told to try again.
    expect(codes).toEqual([0, 0, 0]);
  });
});
