// Keeping the interface equal to the database. One sync runs at a time: requests that arrive meanwhile (a
// doorbell, the 30 s reconcile, a reconnect) fold into one more run after it, so a burst of changes costs a
// few reads, not one per change. A failed run (the database unreachable, a daemon that refuses) changes
// nothing it did not finish and is retried a second later; the interface keeps running what it has.
import { DeviceUpdate, emptyDeviceUpdate, emptyPeerUpdate, PeerUpdate } from '../config/model';
import { WgQuickConfig } from '../config/wgquick';
import { decodeKey } from '../keys';
import { syncUpdate } from '../cli/syncconf';
import { clientPeer, DeviceSide, fits, shapeOf, wantedConfig } from './apply';
import { ChangesRead, Client, FullRead, GatewaySource, Location } from './source';

export interface SyncerOptions {
  source: Pick<GatewaySource, 'read' | 'location'>;
  device: DeviceSide;
  log(line: string): void;
  /** Delay before a failed sync is tried again. */
  retryMs?: number;
  /** Told each revision the interface runs once it is applied (the benchmark's clock). */
  onApplied?(revision: number): void;
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class Syncer {
  /** The location revision the interface runs; undefined until the first full sync. */
  applied: number | undefined;
  /** The location as last read (its endpoint drives the takeover). */
  location: Location | undefined;
  /** The last problem: a failed sync, or client rows left out; null when fine. */
  error: string | null = null;
  /** The config the interface was brought up with (`down` wants its hooks, which a gateway has none of). */
  private config: WgQuickConfig | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private wantFull = false;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastLogged: string | null = null;
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly o: SyncerOptions) {}

  get up(): boolean {
    return this.config !== undefined;
  }

  /** Asks for a sync (a full one with `full`); resolves when the run that covers this request is over. */
  request(full = false): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.wantFull ||= full;
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop().finally(() => (this.running = undefined));
    return this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      const full = this.wantFull || this.applied === undefined;
      this.wantFull = false;
      try {
        const problems: string[] = [];
        await this.once(full, problems);
        this.report(problems.length ? `${problems.length} client row(s) left out: ${problems.join('; ')}` : null);
      } catch (err) {
        this.wantFull ||= full;
        this.report(`sync failed (retrying every ${(this.o.retryMs ?? 1000) / 1000} s; the interface keeps what it runs): ${errorText(err)}`);
        this.scheduleRetry();
      }
    } while (this.again && !this.stopped);
  }

  /** Logs a problem once (not once a second while it lasts), and its end. */
  private report(problem: string | null): void {
    this.error = problem;
    if (problem === this.lastLogged) return;
    this.o.log(problem ?? 'in sync again');
    this.lastLogged = problem;
  }

  private scheduleRetry(): void {
    if (this.retry || this.stopped) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.request();
    }, this.o.retryMs ?? 1000);
  }

  private async once(full: boolean, problems: string[]): Promise<void> {
    const read = await this.o.source.read(full ? undefined : this.applied);
    await this.exclusive(async () => {
      if (this.stopped) return;
      if (read.kind === 'full') await this.applyFull(read, problems);
      else await this.applyChanges(read, problems);
    });
  }

  /** Runs `fn` while no sync changes the device (the takeover re-adds peers; a sync must not race it). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private async applyFull(read: FullRead, problems: string[]): Promise<void> {
    const loc = read.location;
    if (!loc) return this.vacate();
    const want = wantedConfig(loc, read.clients, problems);
    if (!this.config) await this.bringUp(want, loc);
    else if (!fits(await this.o.device.liveShape(), shapeOf(loc))) await this.restart(want, 'its addresses or MTU changed');
    else await this.reconcile(want);
    this.location = loc;
    this.applied = loc.revision;
    this.o.onApplied?.(loc.revision);
  }

  /** The location is gone (deleted, or no longer granted to this role): the interface keeps no client. */
  private async vacate(): Promise<void> {
    if (this.config && (await this.o.device.get())?.peers.length) {
      await this.o.device.set({ ...emptyDeviceUpdate(), replacePeers: true });
    }
    this.location = undefined;
    this.applied = undefined;
    throw new Error(`location ${this.o.source.location} is not in the database or not granted to this role: serving no client`);
  }

  /** First sync: up, or adopt an interface an earlier run of this gateway left running (sessions kept). */
  private async bringUp(want: WgQuickConfig, loc: Location): Promise<void> {
    const d = this.o.device;
    const existing = await d.existing();
    if (existing === 'foreign') {
      throw new Error(`${d.iface} already exists and was not brought up by wiretun gateway for ${this.o.source.location} (use --interface)`);
    }
    if (existing === 'stale') {
      this.o.log(`${d.iface}: its daemon is gone; cleaning up before bringing it up again`);
      await d.down(want);
    }
    if (existing === 'ours' && fits(await d.liveShape(), shapeOf(loc))) {
      this.o.log(`${d.iface} is already up (an earlier run of this gateway): taking it over as it is`);
      this.config = want;
      return this.reconcile(want);
    }
    if (existing === 'ours') await d.down(want);
    await d.up(want);
    this.config = want;
  }

  private async restart(want: WgQuickConfig, why: string): Promise<void> {
    this.o.log(`${this.o.device.iface}: ${why}: taking it down and up again`);
    await this.o.device.down(this.config!);
    this.config = undefined;
    await this.o.device.up(want);
    this.config = want;
  }

  /** The `wg syncconf` diff: only what differs is sent, so untouched peers keep their sessions. */
  private async reconcile(want: WgQuickConfig): Promise<void> {
    const have = await this.o.device.get();
    if (!have) return this.restart(want, 'its daemon is not answering');
    const update = await syncUpdate(want.device, have);
    if (hasChanges(update)) await this.o.device.set(update);
    this.config = want;
  }

  private async applyChanges(read: ChangesRead, problems: string[]): Promise<void> {
    const peers: PeerUpdate[] = [];
    for (const [key, client] of latest(read)) {
      try {
        peers.push(client?.enabled ? clientPeer(client) : { ...emptyPeerUpdate(decodeKey(key, 'a removed client')), remove: true });
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
    if (peers.length) await this.o.device.set({ ...emptyDeviceUpdate(), peers });
    this.location = read.location;
    this.applied = read.location.revision;
    this.o.onApplied?.(read.location.revision);
  }

  /** Stops syncing and takes the interface down if it is up, after any change to the device in progress (a
   * read still waiting on the database is not waited for: what it brings is dropped). */
  async stop(down: boolean): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    await this.exclusive(async () => {
      if (down && this.config) await this.o.device.down(this.config);
      this.config = undefined;
    });
  }
}

function hasChanges(u: DeviceUpdate): boolean {
  return u.peers.length > 0 || u.privateKey !== undefined || u.listenPort !== undefined || u.fwmark !== undefined;
}

/** Per public key, the newest of its client row and its tombstone (a client deleted and made again has both). */
export function latest(read: Pick<ChangesRead, 'clients' | 'removed'>): Map<string, Client | undefined> {
  const newest = new Map<string, { revision: number; client?: Client }>();
  const offer = (key: string, revision: number, client?: Client) => {
    const seen = newest.get(key);
    if (!seen || revision > seen.revision) newest.set(key, { revision, client });
  };
  for (const r of read.removed) offer(r.publicKey, r.revision);
  for (const c of read.clients) offer(c.publicKey, c.revision, c);
  return new Map([...newest].map(([k, v]) => [k, v.client]));
}
