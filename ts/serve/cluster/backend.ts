// The console in cluster mode: locations and clients in PostgreSQL, gateways reporting there. Its periodic round
// folds the gateways' counters into the shared history under an advisory lock, so that with several consoles
// each byte is counted once.
import { History } from '../history';
import { Route } from '../http';
import { Family, fam, labels, render, STATES } from '../metrics';
import { PgDatabase } from '../pg/connect';
import { ClusterStore } from '../pg/cluster';
import { locationRoutes } from '../api/locations';
import { ClusterClients } from './clients';
import { Locations } from './locations';
import { Rates } from './rates';
import { healthy, HEALTHY_MS } from './status';

const SAMPLE_LOCK = 0x77747368;

export class ClusterMode {
  readonly store: ClusterStore;
  readonly rates = new Rates();
  readonly clients: ClusterClients;
  readonly locations: Locations;

  constructor(
    readonly db: PgDatabase,
    private readonly history: History,
    private readonly now: () => number,
  ) {
    this.store = new ClusterStore(db);
    this.clients = new ClusterClients(this.store, this.rates, now);
    this.locations = new Locations(this.store, this.clients, now);
  }

  routes(): Route[] {
    return locationRoutes(this.locations, this.store, this.now);
  }

  /** One round: the gateways' fresh counters into rates and history. */
  async sample(): Promise<void> {
    const now = this.now();
    await this.db.transaction(async () => {
      await this.db.run('SELECT pg_advisory_xact_lock(?)', SAMPLE_LOCK);
      for (const loc of await this.store.locations()) {
        const rows = (await this.store.gatewayPeers(loc.name)).filter((r) => now - r.updated_at < HEALTHY_MS);
        this.rates.update(rows);
        for (const g of new Set(rows.map((r) => r.gateway))) {
          const peers = rows.filter((r) => r.gateway === g).map((r) => ({ publicKey: r.public_key, rxBytes: r.rx, txBytes: r.tx }));
          await this.history.record(loc.name, peers, g);
        }
      }
    });
  }

  /** The exporter's names with a `gateway` label (one series per gateway a client is on), plus gateway health. */
  async metrics(): Promise<string> {
    const now = this.now();
    const sent = fam('wireguard_sent_bytes_total', 'counter', 'Bytes sent to the peer');
    const received = fam('wireguard_received_bytes_total', 'counter', 'Bytes received from the peer');
    const handshake = fam('wireguard_latest_handshake_seconds', 'gauge', 'Unix time of the latest handshake with the peer (0 = never)');
    const up = fam('wiretun_interface_up', 'gauge', 'Whether the location has a healthy gateway (1) or not (0)');
    const peers = fam('wiretun_clients', 'gauge', 'Clients of the location by state');
    const gwUp = fam('wiretun_gateway_up', 'gauge', 'Whether the gateway reported in the last 30 s');
    const lag = fam('wiretun_gateway_revision_lag', 'gauge', "Revisions of its location the gateway has not applied yet");
    for (const loc of await this.store.locations()) {
      const gateways = await this.store.gateways(loc.name);
      up.samples.push(`${up.name}${labels({ interface: loc.name })} ${gateways.some((g) => healthy(g, now)) ? 1 : 0}`);
      const views = await this.clients.views(loc);
      for (const state of STATES) peers.samples.push(`${peers.name}${labels({ interface: loc.name, state })} ${views.filter((v) => v.status.state === state).length}`);
      for (const g of gateways) {
        gwUp.samples.push(`${gwUp.name}${labels({ gateway: g.name, interface: loc.name })} ${healthy(g, now) ? 1 : 0}`);
        lag.samples.push(`${lag.name}${labels({ gateway: g.name, interface: loc.name })} ${g.revision === null ? loc.revision : loc.revision - g.revision}`);
      }
      this.peerSeries(loc.name, views, await this.store.gatewayPeers(loc.name), [sent, received, handshake], now);
    }
    return render([sent, received, handshake, up, peers, gwUp, lag]);
  }

  private peerSeries(location: string, views: Awaited<ReturnType<ClusterClients['views']>>, rows: Awaited<ReturnType<ClusterStore['gatewayPeers']>>, [sent, received, handshake]: Family[], now: number): void {
    const byKey = new Map(views.map((v) => [v.publicKey, v]));
    for (const r of rows) {
      const v = byKey.get(r.public_key);
      if (!v || now - r.updated_at >= HEALTHY_MS) continue;
      const l = labels({ interface: location, public_key: r.public_key, allowed_ips: v.addresses.join(','), friendly_name: v.name ?? '', gateway: r.gateway });
      sent.samples.push(`${sent.name}${l} ${r.tx}`);
      received.samples.push(`${received.name}${l} ${r.rx}`);
      handshake.samples.push(`${handshake.name}${l} ${r.last_handshake === null ? 0 : Math.floor(r.last_handshake / 1000)}`);
    }
  }
}

