// `wiretun gateway`: one WireGuard server of a location, following the database. What makes it sync: the
// location's doorbell (LISTEN/NOTIFY, whose payload is the new revision), every (re)connection of that
// doorbell (NOTIFY is not queued for a listener that was away, so it catches up then), and a full reconcile
// every 30 s (a safety net, and what repairs a device changed by hand). Health goes out every 10 s. The
// database being away never takes peers down: the interface runs what it had until the database is back.
import { ApplyEnv } from '../routing/apply';
import { Doorbell, pgOptions } from '../serve/pg/connect';
import { channelOf } from '../serve/pg/schema';
import { realDevice } from './apply';
import { HealthReporter } from './health';
import { GatewaySource } from './source';
import { Syncer } from './sync';
import { AddressWatch, floatingAddress } from './takeover';

export interface GatewayOptions {
  /** postgres://ROLE:PASSWORD@HOST/DB; the role is one `wiretun gateway grant` made. */
  store: string;
  location: string;
  /** This gateway's name in the gateways table (default: the host name). */
  name: string;
  iface: string;
  version: string;
  /** ApplyEnv of `wiretun up` (realEnv()); `log` also carries the gateway's own lines. */
  env: ApplyEnv;
  healthMs?: number;
  reconcileMs?: number;
  /** Log `applied revision R at MS` (wall clock, sub-millisecond) for every revision applied: bench/cluster.ts
   * times propagation with it. */
  trace?: boolean;
}

export class Gateway {
  private readonly source: GatewaySource;
  private readonly syncer: Syncer;
  private readonly doorbell: Doorbell;
  private readonly health: HealthReporter;
  private readonly watch: AddressWatch;
  private readonly timers: NodeJS.Timeout[] = [];
  private stopping = false;

  constructor(private readonly o: GatewayOptions) {
    const log = (line: string) => o.env.log(`wiretun gateway: ${line}`);
    const env: ApplyEnv = { ...o.env, interrupted: () => this.stopping };
    const device = realDevice(o.iface, o.location, env);
    this.source = GatewaySource.connect(o.store, o.location, o.name);
    const onApplied = o.trace ? (rev: number) => log(`applied revision ${rev} at ${(performance.timeOrigin + performance.now()).toFixed(3)}`) : undefined;
    this.syncer = new Syncer({ source: this.source, device, log, onApplied });
    const startedAt = Date.now();
    this.health = new HealthReporter({
      source: this.source,
      device,
      log,
      state: () => ({ version: o.version, startedAt, revision: this.syncer.applied ?? null, error: this.syncer.error }),
    });
    this.doorbell = new Doorbell(
      pgOptions(o.store, `wiretun gateway ${o.name} (doorbell)`),
      channelOf(o.location),
      (payload) => {
        if (!(Number(payload) <= (this.syncer.applied ?? -1))) void this.syncer.request();
      },
      () => void this.syncer.request(),
    );
    this.watch = new AddressWatch({
      source: this.source,
      device,
      exclusive: (fn) => this.syncer.exclusive(fn),
      log,
      address: () => (this.syncer.up ? floatingAddress(this.syncer.location?.endpoint ?? null) : undefined),
    });
  }

  /** Starts following the database; the interface comes up with the first successful read. */
  start(): void {
    void this.syncer.request(true).then(() => this.health.round());
    this.doorbell.start();
    this.watch.start();
    this.timers.push(setInterval(() => void this.syncer.request(true), this.o.reconcileMs ?? 30_000));
    this.timers.push(setInterval(() => void this.health.round(), this.o.healthMs ?? 10_000));
  }

  /** Stops everything; takes the interface down unless `keepUp`. */
  async stop(keepUp = false): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.watch.stop();
    await this.doorbell.stop();
    try {
      await this.syncer.stop(!keepUp);
    } finally {
      await this.source.close().catch(() => undefined);
    }
  }
}
