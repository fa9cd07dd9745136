// The "Cluster" section of bench/RESULTS.md: propagation latency percentiles per offered rate, in cluster mode
// and in one machine's file mode, and the time three gateways take to bring up a large location.
import { readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';

/** File-mode creations per rate step at most: each rewrites the whole file, so a step's cost grows with its square. */
export const FILE_CAP = 300;

export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

export function percentiles(values: number[]): Percentiles {
  const v = [...values].sort((a, b) => a - b);
  const at = (q: number) => v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), max: v[v.length - 1] ?? NaN };
}

export interface RateRow {
  rate: number;
  changes: number;
  achieved: number;
  p: Percentiles;
}

export interface ClusterResults {
  propagation: RateRow[];
  /** Per gateway: ms from start to running the whole location. */
  reconcile: number[];
  clients: number;
  file: RateRow[];
  seconds: number;
  /** The 1-minute load average when the run started. */
  load: number;
}

export const CLUSTER_HEADING = '## Cluster: a change reaching every gateway (`npm run bench:cluster`)';

const ms = (x: number) => (Number.isFinite(x) ? (x < 10 ? x.toFixed(1) : x.toFixed(0)) : '-');

export function clusterSection(r: ClusterResults): string[] {
  const rows = r.propagation.map((c) => {
    const f = r.file.find((x) => x.rate === c.rate);
    const file = f ? `${f.changes} | ${f.achieved.toFixed(0)}/s | ${ms(f.p.p50)} | ${ms(f.p.p99)}` : '- | - | - | -';
    return `| ${c.rate}/s | ${c.changes} | ${c.achieved.toFixed(0)}/s | ${ms(c.p.p50)} | ${ms(c.p.p99)} | ${file} |`;
  });
  const secs = r.reconcile.map((x) => (x / 1000).toFixed(2));
  return [
    CLUSTER_HEADING,
    '',
    `Run on ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores (load average ${r.load.toFixed(1)} at the start), PostgreSQL 15 (Debian) on the same machine, three`,
    '`wiretun gateway` processes of one location in their own namespaces. A change is one client created in one',
    "transaction as the console makes it (the location's revision bumped, the row written, NOTIFY), offered at a",
    `steady rate for ${r.seconds} s; its latency runs from its commit to the moment the last of the three gateways has`,
    'applied it to its running interface (UAPI set returned). File mode: the same creations through one machine\'s',
    'console, which writes the config file and the running interface before answering; latency from when the change',
    `was due to its answer; each rate on a fresh interface, at most ${FILE_CAP} creations (each rewrites the whole file).`,
    '',
    '| offered | changes | cluster: achieved | cluster p50 (ms) | cluster p99 (ms) | file mode: changes | achieved | file p50 (ms) | file p99 (ms) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    'Where cluster mode achieves less than offered, the writers queued, not the gateways: every change of one location',
    "takes its row lock (that is what keeps two consoles from handing out one address), so one location's changes",
    'commit one after another; changes to different locations do not wait for each other.',
    '',
    `Full reconcile: ${r.clients.toLocaleString('en-US')} clients, three gateways started at once from cold (interface`,
    `created, every peer set): ${secs.join(' s, ')} s until each ran the whole location.`,
    '',
  ];
}

export function writeClusterSection(file: string, r: ClusterResults): void {
  const text = readFileSync(file, 'utf8');
  const section = clusterSection(r).join('\n');
  const start = text.indexOf(CLUSTER_HEADING);
  if (start < 0) {
    writeFileSync(file, `${text.trimEnd()}\n\n${section}`);
    return;
  }
  const next = text.indexOf('\n## ', start + CLUSTER_HEADING.length);
  writeFileSync(file, text.slice(0, start) + section + (next >= 0 ? text.slice(next + 1) : ''));
}
