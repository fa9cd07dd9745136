// What `wiretun peer add|list|remove` decide, as pure functions of the loaded config and the running device
// (undefined when the interface is down). The CLI does the I/O; tests call these directly.
import * as keys from '../keys';
import { DeviceState } from '../uapi/codec';
import { allocateAddresses } from './allocate';
import { clientConfig } from './client';
import { clientDefaults } from './defaults';
import { scanDisabled } from './disabled';
import { LivePeer } from './live';
import { appendSection, checkName, lineEnding, peerSectionText, publicEndpoint, removeSections, scanPeers, toFileText } from './sections';
import { LoadedConfig } from './store';

export class PeerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PeerError';
  }
}

export interface AddOptions {
  name?: string;
  /** Where clients reach the server; default: the file's `# PublicEndpoint = ...` comment. */
  endpoint?: string;
  /** What the client routes through the tunnel; default: the server's subnets. */
  allowedIps?: string[];
  /** The client's own addresses, already checked with checkAddresses; default: the next free ones. */
  addresses?: string[];
}

export interface AddPlan {
  /** The new file text (latin1, like LoadedConfig.text). */
  text: string;
  /** The peer as the server sees it, for the running interface. */
  peer: LivePeer;
  /** The client's wg-quick config (contains its private key: print it, never log it). */
  client: string;
  /** The client's private key, for a caller that keeps it (wiretun serve); never log it. */
  privateKey: string;
}

type KeySource = Pick<typeof keys, 'generatePrivateKey' | 'generatePresharedKey' | 'publicKeyFromPrivate'>;

const b64 = (buf: Buffer | null | undefined) => buf?.toString('base64');
const isKey = (s: string) => /^[A-Za-z0-9+/]{43}=$/.test(s);

function checkNewName(loaded: LoadedConfig, name: string | undefined): void {
  if (name === undefined) return;
  const problem = checkName(name);
  if (problem) throw new PeerError(problem);
  // A disabled peer (commented out by `wiretun serve`) keeps its name, so enabling it cannot make a duplicate.
  if ([...scanPeers(loaded.text), ...scanDisabled(loaded.text)].some((b) => b.name === name)) {
    throw new PeerError(`a peer named ${JSON.stringify(name)} already exists in ${loaded.path}`);
  }
}

/** Everything `peer add` writes and prints; nothing is applied here. */
export function planAdd(loaded: LoadedConfig, live: DeviceState | undefined, opts: AddOptions, k: KeySource = keys): AddPlan {
  checkNewName(loaded, opts.name);
  const serverKey = loaded.config.device.privateKey;
  if (!serverKey) throw new PeerError(`${loaded.path} has no PrivateKey, so clients cannot be given its public key`);
  const endpoint = opts.endpoint ?? publicEndpoint(loaded.text);
  if (!endpoint) {
    throw new PeerError(`the server's public address is not known: give --endpoint HOST:PORT (or add "# PublicEndpoint = HOST:PORT" to [Interface])`);
  }
  // Addresses in use: every peer in the file (disabled ones too) and, when up, every peer of the running interface.
  const taken = [
    ...loaded.config.device.peers.flatMap((p) => p.allowedIps),
    ...scanDisabled(loaded.text).flatMap((p) => p.allowedIps),
    ...(live?.peers ?? []).flatMap((p) => p.allowedIps),
  ];
  const addresses = opts.addresses ?? allocateAddresses(loaded.config.addresses, taken);
  // What the file's `# Client...` comments say new clients get (the console edits them; see ./defaults.ts).
  const defaults = clientDefaults(loaded.text);
  const privateKey = k.generatePrivateKey();
  const peer: LivePeer = { publicKey: k.publicKeyFromPrivate(privateKey), presharedKey: k.generatePresharedKey(), allowedIps: addresses };
  const client = clientConfig({
    privateKey,
    presharedKey: peer.presharedKey!,
    addresses,
    server: loaded.config,
    serverPublicKey: k.publicKeyFromPrivate(serverKey.toString('base64')),
    endpoint,
    listenPort: loaded.config.device.listenPort || live?.listenPort,
    allowedIps: opts.allowedIps ?? defaults.allowedIps,
    dns: defaults.dns,
    persistentKeepalive: defaults.persistentKeepalive,
  });
  const section = toFileText(peerSectionText({ name: opts.name, ...peer }, lineEnding(loaded.text)));
  return { text: appendSection(loaded.text, section), peer, client, privateKey };
}

export interface RemovePlan {
  text: string;
  /** The peers to remove from the running interface. */
  publicKeys: string[];
}

/** Finds the peer by `# Name` (exact) or public key; refuses a name that several peers share. */
export function planRemove(loaded: LoadedConfig, live: DeviceState | undefined, target: string): RemovePlan {
  const blocks = scanPeers(loaded.text);
  let matched = blocks.filter((b) => b.name === target);
  if (matched.length === 0 && isKey(target)) matched = blocks.filter((b) => b.publicKey === target);
  const publicKeys = [...new Set(matched.map((b) => b.publicKey).filter((k): k is string => !!k))];
  if (publicKeys.length > 1) {
    throw new PeerError(`${publicKeys.length} peers are named ${JSON.stringify(target)}: remove one by its public key`);
  }
  // A peer added at run time (wg set) and never saved: remove it from the interface only.
  const liveOnly = matched.length === 0 && isKey(target) && live?.peers.some((p) => b64(p.publicKey) === target);
  if (matched.length === 0 && !liveOnly) {
    throw new PeerError(`no peer named or with public key ${JSON.stringify(target)} in ${loaded.path}`);
  }
  if (liveOnly) return { text: loaded.text, publicKeys: [target] };
  // Every section of that key goes, so that a repeated one cannot bring the peer back.
  const all = blocks.filter((b) => b.publicKey === publicKeys[0] || matched.includes(b));
  return { text: removeSections(loaded.text, all), publicKeys };
}

export interface PeerRow {
  name?: string;
  publicKey: string;
  allowedIps: string[];
  inFile: boolean;
  /** Present only when the interface is up and has this peer. */
  live?: { endpoint: string | null; lastHandshake: Date | null; rxBytes: number; txBytes: number };
}

/** The file's peers (in file order) merged with the running interface's, then peers only the interface has. */
export function listPeers(loaded: LoadedConfig, live: DeviceState | undefined): PeerRow[] {
  const names = new Map(scanPeers(loaded.text).map((b) => [b.publicKey, b.name]));
  const running = new Map((live?.peers ?? []).map((p) => [b64(p.publicKey)!, p]));
  const rows: PeerRow[] = loaded.config.device.peers.map((p) => ({
    name: names.get(p.publicKey.toString('base64')),
    publicKey: p.publicKey.toString('base64'),
    allowedIps: p.allowedIps,
    inFile: true,
  }));
  const inFile = new Set(rows.map((r) => r.publicKey));
  for (const [key, p] of running) {
    if (!inFile.has(key)) rows.push({ publicKey: key, allowedIps: p.allowedIps, inFile: false });
  }
  for (const row of rows) {
    const p = running.get(row.publicKey);
    if (!p) continue;
    const ms = p.lastHandshakeSec * 1000 + Math.floor(p.lastHandshakeNsec / 1e6);
    row.allowedIps = p.allowedIps;
    row.live = { endpoint: p.endpoint ?? null, lastHandshake: p.lastHandshakeSec ? new Date(ms) : null, rxBytes: p.rxBytes, txBytes: p.txBytes };
  }
  return rows;
}
