// The soak, as long as you like: `npx vite-node bench/soak.ts --minutes 15` (root). Two wiretund nodes in
// namespaces this script creates (A drops to nobody after set-up unless --no-user), paced UDP both ways and a
// ping throughout, batches of throw-away peers added and removed every few seconds. Prints an RSS line per
// sample and a summary; exits 1 if anything went wrong or a measurement is out of bounds (BOUNDS in
// test/netns/lib/soak.ts). The one-minute CI variant is test/netns/soak.test.ts.
//   --minutes N      length (default 15)
//   --batch N        throw-away peers per batch and daemon (default 200)
//   --every S        seconds between batches (default 3)
//   --rate R         UDP rate per direction, iperf3 notation (default 40M)
//   --json FILE      also write the full report (every sample) there
import { writeFileSync } from 'node:fs';
import { skipReason, assertAvailable, WIRETUND } from '../test/netns/lib/env';
import { Lab } from '../test/netns/lib/lab';
import { outOfBounds, soak, SoakReport } from '../test/netns/lib/soak';

interface Options {
  minutes: number;
  batch: number;
  every: number;
  rate: string;
  user: boolean;
  json?: string;
}

function options(argv: string[]): Options {
  const o: Options = { minutes: 15, batch: 200, every: 3, rate: '40M', user: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--minutes') o.minutes = Number(argv[++i]);
    else if (a === '--batch') o.batch = Number(argv[++i]);
    else if (a === '--every') o.every = Number(argv[++i]);
    else if (a === '--rate') o.rate = argv[++i];
    else if (a === '--json') o.json = argv[++i];
    else if (a === '--no-user') o.user = false;
    else throw new Error(`unknown option ${a}`);
  }
  if (!(o.minutes > 0 && o.batch > 0 && o.batch <= 254 && o.every > 0)) throw new Error('bad --minutes/--batch/--every');
  return o;
}

const mib = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`;

function summary(r: SoakReport, warmupS: number): string {
  const rss = (k: 'rssA' | 'rssB') => {
    const v = r.samples.map((s) => s[k]);
    const after = r.samples.find((s) => s.t >= warmupS)?.[k] ?? NaN;
    return `start ${mib(v[0])}, after warm-up ${mib(after)}, end ${mib(v[v.length - 1])}, max ${mib(Math.max(...v))}`;
  };
  const dir = (d: SoakReport['aToB']) =>
    `${d.mbits.toFixed(1)} Mbit/s, ${(d.bytes / 1e9).toFixed(2)} GB received, loss ${d.lossPercent.toFixed(2)} %, longest silence ${d.longestSilentIntervals} s`;
  return [
    `soak: ${r.seconds / 60} min, ${r.samples.length} samples`,
    `  RSS A      ${rss('rssA')}; growth after warm-up ${mib(r.growthKb.a)}`,
    `  RSS B      ${rss('rssB')}; growth after warm-up ${mib(r.growthKb.b)}`,
    `  CPU        A ${r.cpuSeconds.a.toFixed(0)} s, B ${r.cpuSeconds.b.toFixed(0)} s`,
    `  A -> B     ${dir(r.aToB)}`,
    `  B -> A     ${dir(r.bToA)}`,
    `  ping       ${r.ping.received}/${r.ping.sent} replies, longest gap ${r.ping.longestGapMs} ms (ending at ${r.ping.longestGapEndS} s)`,
    `  churn      ${r.churn.rounds} rounds, ${r.churn.added} peers added, ${r.churn.removed} removed, slowest wg set ${r.churn.slowestSetMs} ms`,
    `  problems   ${r.problems.length ? r.problems.join('\n             ') : 'none'}`,
    `  bounds     ${outOfBounds(r).join('; ') || 'all met'}`,
  ].join('\n');
}

async function main(): Promise<number> {
  const o = options(process.argv.slice(2));
  if (skipReason) throw new Error(skipReason);
  assertAvailable(WIRETUND);
  const warmupMs = Math.min(60_000, (o.minutes * 60_000) / 4);
  const lab = await Lab.create(2);
  // Ctrl-C still removes the namespaces and daemons (the next Lab would sweep them, but not right away).
  process.once('SIGINT', () => void lab.destroy().finally(() => process.exit(130)));
  try {
    await lab.waitUnderlay(lab.nodes[0], lab.nodes[1]);
    const report = await soak(lab, {
      durationMs: o.minutes * 60_000,
      warmupMs,
      batch: o.batch,
      churnEveryMs: o.every * 1000,
      rate: o.rate,
      argsA: o.user ? ['--user', 'nobody'] : undefined,
      log: (l) => console.log(l),
    });
    console.log(summary(report, warmupMs / 1000));
    if (o.json) writeFileSync(o.json, JSON.stringify(report, null, 1));
    return report.problems.length || outOfBounds(report).length ? 1 : 0;
  } finally {
    await lab.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
