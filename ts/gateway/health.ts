// The gateway's report to the console, every 10 s: its own row (version, since when, last seen, the revision
// it runs, how many peers, its last problem) and one row per device peer with the device's counters, last
// handshake and endpoint. The counters are this gateway's alone (they restart with its daemon): the console
// sums them over the location's gateways.
import { PeerState } from '../config/model';
import { DeviceSide } from './apply';
import { GatewaySource, Health, PeerStat } from './source';

export function peerStat(p: PeerState): PeerStat {
  const handshake = p.lastHandshakeSec * 1000 + Math.floor(p.lastHandshakeNsec / 1e6);
  return {
    publicKey: p.publicKey.toString('base64'),
    rx: p.rxBytes,
    tx: p.txBytes,
    lastHandshake: handshake > 0 ? handshake : null,
    endpoint: p.endpoint ?? null,
  };
}

export interface HealthOptions {
  source: Pick<GatewaySource, 'writeHealth'>;
  device: Pick<DeviceSide, 'get'>;
  /** The gateway's state at the time of the round. */
  state(): Omit<Health, 'peers'>;
  log(line: string): void;
}

/** One round; a failure is logged once until a round works again (the database may be down for a while). */
export class HealthReporter {
  private failing: string | undefined;

  constructor(private readonly o: HealthOptions) {}

  async round(): Promise<void> {
    try {
      const device = await this.o.device.get();
      const peers = (device?.peers ?? []).map(peerStat);
      const state = this.o.state();
      const error = device ? state.error : [state.error, 'the interface is not running'].filter(Boolean).join('; ');
      await this.o.source.writeHealth({ ...state, error, peers: peers.length }, peers);
      if (this.failing !== undefined) this.o.log('health reports are written again');
      this.failing = undefined;
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      if (this.failing !== text) this.o.log(`cannot write the health report: ${text}`);
      this.failing = text;
    }
  }
}
