// Transfer rates in cluster mode, from what the gateways report every 10 s: each console keeps the previous
// report of every (gateway, client) and divides the difference by the time between the two reports, so every
// console shows the same rates whichever of them wrote the history.
import type { GatewayPeerRow } from '../pg/cluster';
import { HEALTHY_MS } from './status';

export class Rates {
  private readonly last = new Map<string, { rx: number; tx: number; at: number; rxRate: number; txRate: number }>();

  /** Takes a fresh set of reports. */
  update(rows: GatewayPeerRow[]): void {
    for (const r of rows) {
      const k = `${r.location}\0${r.public_key}\0${r.gateway}`;
      const prev = this.last.get(k);
      if (prev && prev.at === r.updated_at) continue;
      const seconds = prev ? (r.updated_at - prev.at) / 1000 : 0;
      const ok = prev && seconds > 0 && r.rx >= prev.rx && r.tx >= prev.tx;
      this.last.set(k, {
        rx: r.rx,
        tx: r.tx,
        at: r.updated_at,
        rxRate: ok ? (r.rx - prev.rx) / seconds : 0,
        txRate: ok ? (r.tx - prev.tx) / seconds : 0,
      });
    }
  }

  /** Bytes per second summed over the gateways reporting the client now. */
  rate(location: string, publicKey: string, now: number): { rx: number; tx: number } {
    const sum = { rx: 0, tx: 0 };
    const prefix = `${location}\0${publicKey}\0`;
    for (const [k, v] of this.last) {
      if (!k.startsWith(prefix) || now - v.at >= HEALTHY_MS) continue;
      sum.rx += v.rxRate;
      sum.tx += v.txRate;
    }
    return sum;
  }
}
