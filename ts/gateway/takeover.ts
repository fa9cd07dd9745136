// Failover without touching the clients. Gateways of a location share its key behind one address (a floating
// IP moved by keepalived or the like). When that address lands on this host, the clients still hold sessions
// with the gateway that had it: their packets arrive here under session indexes this device never made, and
// are dropped without a reply (a gateway never answers what it cannot authenticate). A client would notice
// only after about 15 s without answers (KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) and handshake again. So the new
// holder initiates instead: for every client that some other gateway saw within REJECT_AFTER_TIME (a session
// may still be alive there), it points the peer at the endpoint that gateway saw and makes the device send a
// handshake initiation now. The trigger is plain UAPI: turning persistent keepalive on sends one keepalive at
// once (wiretund and wireguard-go alike), and a keepalive without a session starts a handshake.
import { isIP } from 'node:net';
import * as os from 'node:os';
import { parseIp, formatIp } from '../config/ip';
import { emptyDeviceUpdate, emptyPeerUpdate, PeerState, PeerUpdate } from '../config/model';
import { DeviceSide } from './apply';
import { peerStat } from './health';
import { GatewaySource, Sighting } from './source';

/** REJECT_AFTER_TIME: a handshake older than this left no session anywhere; that client initiates itself. */
export const RECENT_MS = 180_000;

/** The host of a location's endpoint (`host`, `host:port`, `[v6]:port`, or a bare IPv6) when it is an IP. */
export function floatingAddress(endpoint: string | null): string | undefined {
  if (!endpoint) return undefined;
  const e = endpoint.trim();
  let host = e;
  if (e.startsWith('[')) host = e.slice(1, e.indexOf(']'));
  else if (e.split(':').length === 2) host = e.slice(0, e.indexOf(':'));
  return isIP(host) ? canonicalIp(host) : undefined;
}

const canonicalIp = (ip: string) => {
  const parsed = parseIp(ip.replace(/%.*$/, ''));
  return parsed ? formatIp(parsed) : ip;
};

/** Whether one of this host's interfaces (in this network namespace) has the address. */
export function isLocalAddress(ip: string): boolean {
  return Object.values(os.networkInterfaces()).some((list) => list?.some((a) => canonicalIp(a.address) === ip));
}

/** The UAPI changes that make the device initiate to `endpoint`: a session this device may still hold for the
 * peer is dropped first (remove and add again), so what goes out is a new initiation, not a stale keepalive. */
export function initiationUpdates(p: PeerState, endpoint: string, now: number): PeerUpdate[] {
  const own = peerStat(p).lastHandshake ?? 0;
  const out: PeerUpdate[] = [];
  if (own > 0 && now - own < RECENT_MS) {
    out.push({ ...emptyPeerUpdate(p.publicKey), remove: true });
    out.push({ ...emptyPeerUpdate(p.publicKey), presharedKey: p.presharedKey ?? null, replaceAllowedIps: true, allowedIps: [...p.allowedIps] });
  }
  const only = { ...emptyPeerUpdate(p.publicKey), updateOnly: true };
  // Keepalive off first, so turning it on is a change (which is what sends); then back to what it was.
  out.push({ ...only, endpoint, persistentKeepalive: 0 });
  out.push({ ...only, persistentKeepalive: 1 });
  out.push({ ...only, persistentKeepalive: p.persistentKeepalive });
  return out;
}

/** The device peers whose latest handshake anywhere was with another gateway, with where it saw them. */
export function movedPeers(peers: PeerState[], seen: Map<string, Sighting>, self: string): { peer: PeerState; endpoint: string }[] {
  const out: { peer: PeerState; endpoint: string }[] = [];
  for (const peer of peers) {
    const s = seen.get(peer.publicKey.toString('base64'));
    if (!s || s.gateway === self) continue;
    if ((peerStat(peer).lastHandshake ?? 0) >= s.lastHandshake) continue; // the newest session is already here
    out.push({ peer, endpoint: s.endpoint });
  }
  return out;
}

export interface TakeoverOptions {
  source: Pick<GatewaySource, 'sightings' | 'gateway'>;
  device: Pick<DeviceSide, 'get' | 'set'>;
  /** Runs `fn` while no sync changes the device (a sync could remove a peer this re-adds). */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  log(line: string): void;
}

/** Initiates to every client that moved here; returns how many. */
export async function takeOver(o: TakeoverOptions, now = Date.now()): Promise<number> {
  const seen = await o.source.sightings(now - RECENT_MS);
  return o.exclusive(async () => {
    const device = await o.device.get();
    if (!device) throw new Error('the interface is not running');
    const moved = movedPeers(device.peers, seen, o.source.gateway);
    const peers = moved.flatMap((m) => initiationUpdates(m.peer, m.endpoint, now));
    if (peers.length) await o.device.set({ ...emptyDeviceUpdate(), peers });
    return moved.length;
  });
}

export interface WatchOptions extends TakeoverOptions {
  /** The address to watch (from the location's endpoint), undefined while unknown or not an IP. */
  address(): string | undefined;
  intervalMs?: number;
  /** How long a failed takeover is retried; after that the clients have handshaken again by themselves. */
  retryForMs?: number;
}

/** Polls the host's addresses; on the address arriving (or found at start), takes over until that works. */
export class AddressWatch {
  private timer: NodeJS.Timeout | undefined;
  private held = false;
  private pendingSince: number | undefined;
  private busy = false;
  private lastTry = 0;

  constructor(private readonly o: WatchOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.o.intervalMs ?? 500);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    const address = this.o.address();
    if (address === undefined || this.busy) return;
    const held = isLocalAddress(address);
    if (held && !this.held) {
      this.o.log(`${address} is now on this host: initiating to the clients other gateways served`);
      this.pendingSince = Date.now();
    }
    this.held = held;
    if (!held) this.pendingSince = undefined;
    if (this.pendingSince === undefined || Date.now() - this.lastTry < 1000) return;
    await this.attempt();
  }

  private async attempt(): Promise<void> {
    this.busy = true;
    this.lastTry = Date.now();
    try {
      const n = await takeOver(this.o);
      this.o.log(`initiated handshakes to ${n} client(s)`);
      this.pendingSince = undefined;
    } catch (err) {
      const giveUp = Date.now() - this.pendingSince! > (this.o.retryForMs ?? 30_000);
      this.o.log(`takeover failed${giveUp ? ', giving up' : ', retrying'}: ${err instanceof Error ? err.message : String(err)}`);
      if (giveUp) this.pendingSince = undefined;
    } finally {
      this.busy = false;
    }
  }
}
