// `wiretun serve --store postgres://... --import wg0`: one machine's interface becomes a location. The config
// file gives the server identity, the clients (enabled and `#~`-disabled) and the client defaults kept as
// comments; the console's SQLite file beside it (--state) gives what the file has no place for (the private
// keys of clients the console made, their routes and expiry) and the traffic history. All of it lands in one
// transaction, or nothing does.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { clientDefaults } from '../../peers/defaults';
import { scanDisabled } from '../../peers/disabled';
import { listPeers } from '../../peers/manage';
import { loadConfig } from '../../peers/store';
import { scanPeers } from '../../peers/sections';
import type { App } from '../app';
import { sectionPresharedKey } from '../peer-text';
import { ClientMeta, Store } from '../store';

interface ImportedClient {
  publicKey: string;
  name: string | undefined;
  presharedKey: string | undefined;
  addresses: string[];
  enabled: boolean;
}

function fileClients(text: string, enabled: { publicKey: string; allowedIps: string[] }[], names: Map<string, string | undefined>): ImportedClient[] {
  const blocks = new Map(scanPeers(text).map((b) => [b.publicKey, b]));
  const out: ImportedClient[] = enabled.map((p) => {
    const b = blocks.get(p.publicKey);
    const psk = b ? sectionPresharedKey(text, { ...b, disabled: false }) : undefined;
    return { publicKey: p.publicKey, name: names.get(p.publicKey), presharedKey: psk, addresses: p.allowedIps, enabled: true };
  });
  for (const d of scanDisabled(text)) {
    if (!d.publicKey || out.some((c) => c.publicKey === d.publicKey)) continue;
    const psk = sectionPresharedKey(text, { ...d, disabled: true });
    out.push({ publicKey: d.publicKey, name: d.name, presharedKey: psk, addresses: d.allowedIps, enabled: false });
  }
  return out;
}

/** Names are required and unique per location: an unnamed peer is named after its key. */
function uniqueName(c: ImportedClient, used: Set<string>): string {
  let name = c.name ?? `peer-${Buffer.from(c.publicKey, 'base64').toString('base64url').slice(0, 8)}`;
  for (let i = 2; used.has(name); i++) name = `${c.name ?? 'peer'}-${i}`;
  used.add(name);
  return name;
}

export async function importInterface(app: App, arg: string, stateDir: string): Promise<string> {
  if (app.mode.kind !== 'cluster') throw new Error('--import needs --store');
  const { store } = app.mode.cluster;
  const loaded = await loadConfig(arg);
  const name = loaded.interfaceName;
  const key = loaded.config.device.privateKey;
  if (!key) throw new Error(`${loaded.path} has no PrivateKey`);
  if (!loaded.config.device.listenPort) throw new Error(`${loaded.path} has no ListenPort: gateways need a fixed one`);
  if (await store.location(name)) throw new Error(`the database already has a location named ${name}; nothing was imported`);
  const d = clientDefaults(loaded.text);
  const names = new Map(listPeers(loaded, undefined).map((r) => [r.publicKey, r.name]));
  const peers = loaded.config.device.peers.map((p) => ({ publicKey: p.publicKey.toString('base64'), allowedIps: p.allowedIps }));
  const clients = fileClients(loaded.text, peers, names);
  const dbFile = path.join(stateDir, 'serve.db');
  const local = existsSync(dbFile) ? await Store.open(dbFile) : undefined;
  try {
    const meta: Map<string, ClientMeta> = local ? await local.clients(name) : new Map();
    const samples = local ? await local.db.all<{ public_key: string; step: number; t: number; rx: number; tx: number }>('SELECT * FROM samples WHERE interface = ?', name) : [];
    const now = app.now();
    await store.db.transaction(async () => {
      await store.createLocation({
        name,
        private_key: key.toString('base64'),
        listen_port: loaded.config.device.listenPort!,
        addresses: loaded.config.addresses.join(','),
        mtu: loaded.config.mtu ?? null,
        endpoint: d.endpoint ?? null,
        dns: [...loaded.config.dns, ...loaded.config.dnsSearch].join(',') || null,
        client_allowed_ips: d.allowedIps?.join(',') ?? null,
        persistent_keepalive: d.persistentKeepalive ?? null,
        created_at: now,
      });
      const rev = await store.bump(name);
      const used = new Set<string>();
      for (const c of clients) {
        const m = meta.get(c.publicKey);
        await store.putClient(
          {
            location: name,
            public_key: c.publicKey,
            name: uniqueName(c, used),
            private_key: m?.privateKey ?? null,
            preshared_key: c.presharedKey ?? null,
            addresses: c.addresses.join(','),
            client_allowed_ips: m?.clientAllowedIps?.join(',') ?? null,
            enabled: c.enabled,
            expires_at: m?.expiresAt ?? null,
            created_at: m?.createdAt ?? now,
          },
          rev,
        );
      }
      for (const s of samples) {
        await store.db.run('INSERT INTO samples (interface, public_key, step, t, rx, tx) VALUES (?, ?, ?, ?, ?, ?)', name, s.public_key, s.step, s.t, s.rx, s.tx);
      }
    });
    const withKeys = clients.filter((c) => meta.get(c.publicKey)?.privateKey).length;
    return `imported ${loaded.path} as location ${name}: ${clients.length} client(s), ${withKeys} with their private key, ${samples.length} history row(s); take the interface down here and run \`wiretun gateway --location ${name}\` where it should run`;
  } finally {
    await local?.close();
  }
}
