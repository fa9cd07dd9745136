// The file-mode side of bench/cluster.ts: one machine's console creating clients at the same offered rates, each
// creation a config-file rewrite plus a UAPI set on the running interface (a real wiretund in a namespace of its
// own), answered when both are done. Latency runs from when a creation was due to its answer.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generatePrivateKey } from '../../ts/keys';
import { App } from '../../ts/serve/app';
import { Lab } from '../../test/netns/lib/lab';
import { must } from '../../test/netns/lib/proc';
import { FILE_CAP, percentiles, RateRow } from './cluster-report';
import { now, openLoop } from './open-loop';

const BIN = path.join(__dirname, '..', '..', 'bin', 'wiretun');

/** One rate step on a fresh interface (so each step starts from an empty file). */
async function step(lab: Lab, dir: string, rate: number, count: number): Promise<RateRow> {
  const iface = lab.ifname();
  const conf = path.join(dir, `${iface}.conf`);
  writeFileSync(conf, `[Interface]\nPrivateKey = ${generatePrivateKey()}\nListenPort = 51998\nAddress = 10.96.0.1/12\n# PublicEndpoint = 192.0.2.1\n`, { mode: 0o600 });
  await must('ip', ['netns', 'exec', lab.nodes[0].ns, BIN, 'up', conf], { timeoutMs: 30_000 });
  const app = await App.open({ stateDir: path.join(dir, `state-${iface}`), names: [conf], sampleSeconds: 0, log: () => {} });
  try {
    const latencies: number[] = [];
    const start = now();
    await openLoop(rate, count, async (i, due) => {
      await app.clients.create(iface, { name: `f${i}` });
      latencies.push(now() - due);
    });
    return { rate, changes: count, achieved: count / ((now() - start) / 1000), p: percentiles(latencies) };
  } finally {
    await app.close();
    await must('ip', ['netns', 'exec', lab.nodes[0].ns, BIN, 'down', conf], { timeoutMs: 30_000 }).catch(() => undefined);
  }
}

export async function fileModeLatencies(rates: number[], seconds: number): Promise<RateRow[]> {
  const lab = await Lab.create(1);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wiretun-bench-file-'));
  const out: RateRow[] = [];
  try {
    for (const rate of rates) {
      const row = await step(lab, dir, rate, Math.min(FILE_CAP, Math.round(rate * seconds)));
      out.push(row);
      process.stderr.write(`file mode: ${rate}/s offered, ${row.achieved.toFixed(0)}/s achieved, p50 ${row.p.p50.toFixed(1)} ms, p99 ${row.p.p99.toFixed(1)} ms\n`);
    }
  } finally {
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
