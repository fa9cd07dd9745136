// Traffic history: every sample adds each peer's byte deltas to a 10-second row; as rows age they are folded
// into 5-minute rows (after an hour) and hourly rows (after a day), and dropped after a month. Rows are moved,
// never copied, so summing every row of a span counts each byte once whatever its resolution. The device
// counters of the last sample are stored too, so a restart takes its first delta against them.
import { Store } from './store';

export const SAMPLE_SECONDS = 10;

/** [row size in seconds, how long rows of that size are kept before being folded into the next]. */
const TIERS: [number, number][] = [
  [10, 3600],
  [300, 86400],
  [3600, 31 * 86400],
];

export const RANGES = { hour: { seconds: 3600, step: 10 }, day: { seconds: 86400, step: 300 }, month: { seconds: 30 * 86400, step: 3600 } };
export type Range = keyof typeof RANGES;

export interface PeerCounters {
  publicKey: string;
  rxBytes: number;
  txBytes: number;
}

export interface Series {
  range: Range;
  /** Seconds per point. */
  step: number;
  /** One point per step, oldest first: its start (Unix seconds) and the bytes received/sent in it. */
  points: { t: number; rx: number; tx: number }[];
}

export class History {
  /** Bytes per second over the last sample interval, per `iface\0key`. */
  private readonly rates = new Map<string, { rx: number; tx: number; at: number }>();
  /** Interfaces this process has sampled (up) or found down. A peer first seen on one of them was added, or
   * its interface came up, since that look: its counters started at zero after it, so all they show is new. */
  private readonly watched = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly now: () => number,
  ) {}

  /** Notes that an interface is down (or unreadable) at this round. */
  down(iface: string, source = ''): void {
    this.watched.add(`${iface}\0${source}`);
  }

  /** Records one sample of an interface's counters, as one device (`source`: a gateway's name in cluster mode)
   * counts them. */
  async record(iface: string, peers: PeerCounters[], source = ''): Promise<void> {
    const seen = `${iface}\0${source}`;
    const watched = this.watched.has(seen);
    this.watched.add(seen);
    const nowMs = this.now();
    const bucket = Math.floor(nowMs / 1000 / SAMPLE_SECONDS) * SAMPLE_SECONDS;
    const db = this.store.db;
    await db.transaction(async () => {
      for (const p of peers) {
        const last = await db.get<{ rx: number; tx: number }>(
          'SELECT rx, tx FROM counters WHERE interface = ? AND public_key = ? AND source = ?',
          iface,
          p.publicKey,
          source,
        );
        await db.run(
          `INSERT INTO counters (interface, public_key, source, rx, tx) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (interface, public_key, source) DO UPDATE SET rx = excluded.rx, tx = excluded.tx`,
          iface,
          p.publicKey,
          source,
          p.rxBytes,
          p.txBytes,
        );
        // First sight on an interface this process had not looked at before: the bytes so far belong to no
        // known span. On one it had (a new client, or the interface came up since), they are all new. A
        // counter that went down restarted (the interface went down and up): everything it shows is new.
        if (!last && !watched) continue;
        const from = last ?? { rx: 0, tx: 0 };
        const rx = p.rxBytes >= from.rx ? p.rxBytes - from.rx : p.rxBytes;
        const tx = p.txBytes >= from.tx ? p.txBytes - from.tx : p.txBytes;
        const key = `${iface}\0${p.publicKey}\0${source}`;
        const prev = this.rates.get(key);
        const seconds = prev ? (nowMs - prev.at) / 1000 : SAMPLE_SECONDS;
        this.rates.set(key, { rx: seconds > 0 ? rx / seconds : 0, tx: seconds > 0 ? tx / seconds : 0, at: nowMs });
        if (rx === 0 && tx === 0) continue;
        await db.run(
          `INSERT INTO samples (interface, public_key, step, t, rx, tx) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (interface, public_key, step, t) DO UPDATE SET rx = samples.rx + excluded.rx, tx = samples.tx + excluded.tx`,
          iface,
          p.publicKey,
          SAMPLE_SECONDS,
          bucket,
          rx,
          tx,
        );
      }
    });
  }

  /** The rate over the last sample summed over the devices that count it, leaving out samples older than two
   * intervals. */
  rate(iface: string, publicKey: string, sources: string[] = ['']): { rx: number; tx: number } {
    const sum = { rx: 0, tx: 0 };
    for (const source of sources) {
      const r = this.rates.get(`${iface}\0${publicKey}\0${source}`);
      if (!r || this.now() - r.at > 2.5 * SAMPLE_SECONDS * 1000) continue;
      sum.rx += r.rx;
      sum.tx += r.tx;
    }
    return sum;
  }

  /** Folds aged rows into the next tier and drops what is older than the last. */
  async downsample(): Promise<void> {
    const nowSec = Math.floor(this.now() / 1000);
    const db = this.store.db;
    await db.transaction(async () => {
      for (let i = 0; i < TIERS.length; i++) {
        const [step, keep] = TIERS[i];
        const next = TIERS[i + 1];
        if (!next) {
          await db.run('DELETE FROM samples WHERE step = ? AND t < ?', step, nowSec - keep);
          continue;
        }
        // A multiple of the next size, so that a coarse row is never made from part of its span.
        const cutoff = Math.floor((nowSec - keep) / next[0]) * next[0];
        await db.run(
          // The sizes are our own constants, written into the text: PostgreSQL matches GROUP BY to the select list
          // by expression, and two parameters are two expressions to it even with one value.
          `INSERT INTO samples (interface, public_key, step, t, rx, tx)
           SELECT interface, public_key, ${next[0]}, (t / ${next[0]}) * ${next[0]}, SUM(rx), SUM(tx) FROM samples WHERE step = ? AND t < ?
           GROUP BY interface, public_key, (t / ${next[0]}) * ${next[0]}
           ON CONFLICT (interface, public_key, step, t) DO UPDATE SET rx = samples.rx + excluded.rx, tx = samples.tx + excluded.tx`,
          step,
          cutoff,
        );
        await db.run('DELETE FROM samples WHERE step = ? AND t < ?', step, cutoff);
      }
    });
  }

  async series(iface: string, publicKey: string, range: Range): Promise<Series> {
    const { seconds, step } = RANGES[range];
    const end = Math.floor(this.now() / 1000 / step) * step;
    const start = end - seconds + step;
    const rows = await this.store.db.all<{ b: number; rx: number; tx: number }>(
      `SELECT (t / ?) * ? AS b, SUM(rx) AS rx, SUM(tx) AS tx FROM samples
       WHERE interface = ? AND public_key = ? AND t >= ? GROUP BY b`,
      step,
      step,
      iface,
      publicKey,
      start,
    );
    const byBucket = new Map(rows.map((r) => [r.b, r]));
    const points: Series['points'] = [];
    for (let t = start; t <= end; t += step) {
      const r = byBucket.get(t);
      points.push({ t, rx: r?.rx ?? 0, tx: r?.tx ?? 0 });
    }
    return { range, step, points };
  }
}
