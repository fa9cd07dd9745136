// `npm run bench`: the same workloads through every implementation, one after another in one run, in
// namespaces this script creates and removes. Writes bench/RESULTS.md and bench/throughput.svg.
//   --reps N        repetitions per workload (default 3)
//   --seconds S     length of each iperf3 run (default 10)
//   --only a,b      implementations whose names start with these (e.g. wiretun,wireguard-go)
//   --quick         1 repetition of 3 s and no scale runs (a smoke test of the harness)
//   --scale-only    only the scale runs (configure time and memory per peer, no throughput), and only the
//                   scale section of bench/RESULTS.md is rewritten: those figures hardly depend on load,
//                   unlike the throughput table, which wants an idle machine
//   --netstack-only  only the rootless section (wiretun proxy on tcp2 and on smoltcp, gVisor netstack, onetun,
//                   Linux BBR and CUBIC in TUN mode through a forward and SOCKS5 at 0 ms, through the forward on
//                   each lossy path, memory per held connection); only that section of bench/RESULTS.md,
//                   bench/netstack.svg and bench/netstack-loss.svg are rewritten
//   --netstack-seconds S  length of each rootless stream at 0 ms (default 5)
//   --lossy-seconds S     length of each rootless stream on a lossy path (default 8)
//   --clients a,b   only the rootless clients whose names start with these (e.g. "wiretun proxy,Linux BBR")
//   --paths R/L,...  lossy paths as RTT ms / loss % (default the nine of 10, 50, 150 ms x 0.1, 1, 3 %; "none": the clean path only)
//   --conns N       connections held open for the rootless memory figure (default 1000)
import * as path from 'node:path';
import { implementations, Impl } from './lib/impls';
import { underlay, teardown, tunnel, stopTunnel, TUN, UNDER } from './lib/topology';
import { runSample } from './lib/workloads';
import { addPeers, ScaleResult, scaleSteps, THROUGHPUT_AT } from './lib/scale';
import { ImplResult, writeChart, writeResults, writeScaleSection } from './lib/report';
import { LOSSY_PATHS, NetstackOptions, PathSpec, runNetstack, stopAll as stopNetstack } from './lib/netstack';
import { rootlessClients } from './lib/netstack-clients';
import { writeNetstackChart, writeNetstackLossChart, writeNetstackSection } from './lib/netstack-report';

interface Options {
  reps: number;
  seconds: number;
  only?: string[];
  scale: boolean;
  scaleOnly: boolean;
  netstackOnly: boolean;
  clients?: string[];
  netstack: NetstackOptions;
}

/** `50/1,150/0.1`: lossy paths as RTT ms / loss %. */
function parsePaths(text: string): PathSpec[] {
  if (text === 'none') return [];
  return text.split(',').map((item) => {
    const m = /^(\d+)\/(\d+(?:\.\d{1,2})?)$/.exec(item.trim());
    const spec = m && { rttMs: Number(m[1]), lossPercent: Number(m[2]) };
    if (!spec || spec.rttMs < 2 || spec.rttMs > 2000 || spec.lossPercent > 100) {
      throw new Error(`--paths: ${JSON.stringify(item)} is not RTT/LOSS (RTT 2-2000 ms, loss 0-100 %, e.g. 50/1)`);
    }
    return spec;
  });
}

function options(argv: string[]): Options {
  const o: Options = { reps: 3, seconds: 10, scale: true, scaleOnly: false, netstackOnly: false, netstack: { seconds: 5, lossySeconds: 8, conns: 1000, paths: LOSSY_PATHS } };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--reps') o.reps = Number(argv[++i]);
    else if (a === '--seconds') o.seconds = Number(argv[++i]);
    else if (a === '--only') o.only = argv[++i].split(',');
    else if (a === '--quick') Object.assign(o, { reps: 1, seconds: 3, scale: false, netstack: { seconds: 1, lossySeconds: 2, conns: 100, paths: [{ rttMs: 50, lossPercent: 1 }] } });
    else if (a === '--scale-only') Object.assign(o, { reps: 1, scaleOnly: true });
    else if (a === '--netstack-only') o.netstackOnly = true;
    else if (a === '--netstack-seconds') o.netstack.seconds = Number(argv[++i]);
    else if (a === '--lossy-seconds') o.netstack.lossySeconds = Number(argv[++i]);
    else if (a === '--clients') o.clients = argv[++i].split(',');
    else if (a === '--paths') o.netstack.paths = parsePaths(argv[++i] ?? '');
    else if (a === '--conns') o.netstack.conns = Number(argv[++i]);
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

async function measure(impl: Impl | 'raw', o: Options): Promise<ImplResult> {
  const name = impl === 'raw' ? 'raw veth' : impl.name;
  const result: ImplResult = { name, handshakeMs: [], samples: [], scale: [] };
  for (let rep = 0; rep < o.reps; rep++) {
    await underlay();
    try {
      if (impl !== 'raw') result.handshakeMs.push(await tunnel(impl));
      if (!o.scaleOnly) {
        const target = impl === 'raw' ? UNDER.b : TUN.b;
        result.samples.push(await runSample(target, o.seconds, impl !== 'raw'));
        console.log(`  ${name} #${rep + 1}: ${result.samples.at(-1)!.tcpGbps.toFixed(2)} Gb/s`);
      }
      if (impl !== 'raw' && o.scale && rep === 0) result.scale = await scaleRuns(impl.name, o);
      if (impl !== 'raw') await stopTunnel();
    } finally {
      await teardown();
    }
  }
  return result;
}

async function scaleRuns(impl: string, o: Options): Promise<ScaleResult[]> {
  const out: ScaleResult[] = [];
  let configured = 0;
  for (const peers of scaleSteps(impl)) {
    const step = { ...(await addPeers(peers - configured)), peers };
    configured = peers;
    console.log(`    ${peers} peers: ${step.configureMs.toFixed(0)} ms, ${step.bytesPerPeer.toFixed(0)} bytes per peer`);
    if (peers === THROUGHPUT_AT && !o.scaleOnly) {
      step.gbpsWithPeers = (await runSample(TUN.b, Math.min(o.seconds, 5), true)).tcpGbps;
      console.log(`    with ${peers} peers: ${step.gbpsWithPeers.toFixed(2)} Gb/s`);
    }
    out.push(step);
  }
  return out;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (namespaces, TUN devices)');
  const o = options(process.argv.slice(2));
  const impls = await implementations(o.only);
  const results: ImplResult[] = [];
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => void stopNetstack().then(teardown).then(() => process.exit(signal === 'SIGINT' ? 130 : 143)));
  }
  if (o.netstackOnly) return netstack(o);
  if (!o.only && !o.scaleOnly) results.push(await measure('raw', o));
  for (const impl of impls) {
    if (impl.skipped) {
      console.log(`SKIPPED ${impl.name}: ${impl.skipped}`);
      results.push({ name: impl.name, skipped: impl.skipped, handshakeMs: [], samples: [], scale: [] });
      continue;
    }
    console.log(`measuring ${impl.name}`);
    results.push(await measure(impl, o));
  }
  if (o.scaleOnly) {
    writeScaleSection(path.join(__dirname, 'RESULTS.md'), results);
    console.log(`rewrote the scale section of ${path.join(__dirname, 'RESULTS.md')}`);
    return;
  }
  const version = require(path.join(__dirname, '..', 'package.json')).version as string;
  writeResults(path.join(__dirname, 'RESULTS.md'), results, { version, reps: o.reps, seconds: o.seconds });
  writeChart(path.join(__dirname, 'throughput.svg'), results);
  console.log(`wrote ${path.join(__dirname, 'RESULTS.md')}`);
  await netstack(o);
}

/** The rootless section, written into RESULTS.md in place of the one there (or after the rest). */
async function netstack(o: Options): Promise<void> {
  console.log('measuring rootless (netstack) clients');
  const clients = (await rootlessClients()).filter((c) => !o.clients || o.clients.some((p) => c.name.startsWith(p)));
  const results = await runNetstack(clients, o.netstack);
  writeNetstackSection(path.join(__dirname, 'RESULTS.md'), results, o.netstack);
  writeNetstackChart(path.join(__dirname, 'netstack.svg'), results);
  writeNetstackLossChart(path.join(__dirname, 'netstack-loss.svg'), results, o.netstack.paths);
  console.log(`wrote the rootless section of ${path.join(__dirname, 'RESULTS.md')} and netstack.svg`);
}

main().catch(async (err) => {
  console.error(err instanceof Error ? err.message : err);
  await stopNetstack();
  await teardown();
  process.exit(1);
});
