// `[Interface]` CheckAlive / CheckAliveInterval (wireproxy's): the listed addresses are pinged through the
// tunnel every interval; /readyz is 200 only while each answered within the last interval + 2 s (wireproxy's
// leeway for the round trip), and its body is wireproxy's JSON of each address's last reply (Unix seconds,
// 0 = never). The pings are control traffic on a timer, one echo per address per interval.
import type { CheckAlive } from './proxy-config';

const LEEWAY_MS = 2000;

export class AliveChecker {
  /** Last reply per address, ms since the epoch (0 = never), and the last round-trip time in ms. */
  readonly #last = new Map<string, { at: number; rttMs: number }>();
  readonly #spec: CheckAlive;
  readonly #ping: (ip: string, timeoutMs: number) => Promise<number>;
  readonly #log: (line: string) => void;
  #timer: NodeJS.Timeout | undefined;
  #up = new Map<string, boolean>();

  constructor(spec: CheckAlive, ping: (ip: string, timeoutMs: number) => Promise<number>, log: (line: string) => void) {
    this.#spec = spec;
    this.#ping = ping;
    this.#log = log;
    for (const ip of spec.ips) this.#last.set(ip, { at: 0, rttMs: 0 });
  }

  /** Pings at once and then every interval; the timer does not keep the process alive. */
  start(): void {
    this.round();
    this.#timer = setInterval(() => this.round(), this.#spec.interval * 1000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** One echo to each address (exported for tests); resolves when all have answered or timed out. */
  async round(): Promise<void> {
    await Promise.all(this.#spec.ips.map(async (ip) => {
      try {
        const rttMs = await this.#ping(ip, this.#spec.interval * 1000);
        this.#last.set(ip, { at: Date.now(), rttMs });
        this.#note(ip, true, `answers (${rttMs.toFixed(1)} ms)`);
      } catch (err) {
        this.#note(ip, false, `does not answer: ${(err as Error).message}`);
      }
    }));
  }

  #note(ip: string, up: boolean, what: string): void {
    if (this.#up.get(ip) !== up) this.#log(`CheckAlive ${ip} ${what}`);
    this.#up.set(ip, up);
  }

  ready(now = Date.now()): boolean {
    const limit = this.#spec.interval * 1000 + LEEWAY_MS;
    return [...this.#last.values()].every((r) => r.at > 0 && now - r.at <= limit);
  }

  /** wireproxy's /readyz body: `{"ip": unixSeconds, ...}`. */
  json(): string {
    return JSON.stringify(Object.fromEntries([...this.#last].map(([ip, r]) => [ip, Math.floor(r.at / 1000)])));
  }

  /** Prometheus lines: whether each address answered in time, its last reply and round-trip time. */
  metrics(now = Date.now()): string {
    const limit = this.#spec.interval * 1000 + LEEWAY_MS;
    const rows = [...this.#last];
    const family = (name: string, help: string, value: (r: { at: number; rttMs: number }) => number): string[] => [
      `# HELP ${name} ${help}`, `# TYPE ${name} gauge`, ...rows.map(([ip, r]) => `${name}{target="${ip}"} ${value(r)}`),
    ];
    return `${[
      ...family('wiretun_proxy_check_alive_up', 'Whether the CheckAlive address answered a ping within the interval + 2 s',
        (r) => (r.at > 0 && now - r.at <= limit ? 1 : 0)),
      ...family('wiretun_proxy_check_alive_last_reply_seconds', 'UNIX time of the last ping reply (0 = never)', (r) => Math.floor(r.at / 1000)),
      ...family('wiretun_proxy_check_alive_rtt_seconds', 'Round-trip time of the last ping reply', (r) => r.rttMs / 1000),
    ].join('\n')}\n`;
  }
}
