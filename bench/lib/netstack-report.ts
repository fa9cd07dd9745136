// The rootless section of bench/RESULTS.md (a table of both conditions with wiretun proxy's ratios against each
// target, and memory per idle connection) and bench/netstack.svg, single-stream -L throughput at 0 ms.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ONETUN_VERSION } from './netstack-clients';
import { Condition, ConditionResult, Directions, HELD_CONNECTIONS, LOSSY, NetstackOptions, NetstackResult } from './netstack';

export const NETSTACK_HEADING = '## Rootless (netstack): one TCP stream through a forward';
const OURS = 'wiretun proxy';
/** The issue's targets: wiretun proxy ÷ each, per direction (at loss only gVisor's, no worse than it). */
const TARGETS: Record<Condition, Record<string, number>> = {
  clean: { 'gVisor netstack': 1.5, onetun: 10, 'wiretun TUN (ceiling)': 0.6 },
  lossy: { 'gVisor netstack': 1 },
};

const scale = (cond: Condition) => (cond === 'clean' ? { div: 1e9, unit: 'Gb/s' } : { div: 1e6, unit: 'Mb/s' });
const num = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '–');

function rows(results: NetstackResult[], cond: Condition): string[] {
  const { div, unit } = scale(cond);
  const ours = results.find((r) => r.name === OURS);
  const others = results.filter((r) => r !== ours);
  const paths: { label: string; get: (c: ConditionResult) => Directions | undefined }[] = [
    { label: '-L forward (iperf3)', get: (c) => c.forward },
    { label: 'SOCKS5 (pump)', get: (c) => c.socks },
  ];
  const when = cond === 'clean' ? '0 ms' : `${2 * LOSSY.delayMs} ms RTT, ${LOSSY.lossPercent}% loss`;
  return paths.flatMap((p) => (['up', 'down'] as const).map((dir) => {
    const value = (r: NetstackResult) => {
      const c = r[cond];
      return c ? (p.get(c)?.[dir] ?? NaN) / div : NaN;
    };
    const ratios = others.map((o) => {
      const x = value(ours!) / value(o);
      if (!Number.isFinite(x)) return '–';
      const target = TARGETS[cond][o.name];
      return `${x.toFixed(2)}×${target === undefined ? '' : x >= target ? ' ✓' : ` ✗ (≥ ${target})`}`;
    });
    return `| ${when} | ${p.label} | ${dir} (${unit}) | ${results.map((r) => num(value(r), cond === 'clean' ? 3 : 2)).join(' | ')} | ${ratios.join(' | ')} |`;
  }));
}

/** The wireguard-go pseudo-version bench/gvisor-forward is pinned to (its go.mod). */
function wireguardGoPin(): string {
  const mod = readFileSync(path.join(__dirname, '..', 'gvisor-forward', 'go.mod'), 'utf8');
  return /golang\.zx2c4\.com\/wireguard (\S+)/.exec(mod)?.[1] ?? 'unknown';
}

export function netstackSection(results: NetstackResult[], o: NetstackOptions): string[] {
  const ours = results.find((r) => r.name === OURS);
  const others = results.filter((r) => r !== ours);
  const memory = results.filter((r) => r.rss);
  const errors = results.flatMap((r) => r.errors.map((e) => `- ${r.name}: ${e}`));
  return [
    NETSTACK_HEADING,
    '',
    `Generated on ${new Date().toISOString().slice(0, 10)}. Re-run this section alone (the rest of the file is kept) with`,
    '`sudo npm run bench -- --netstack-only` (root builds the namespaces; every rootless client runs as nobody with no',
    'capabilities); a full `npm run bench` includes it. `--netstack-seconds S` sets the 0 ms runs (default 5; the lossy',
    'ones get 3 × S) and `--conns N` the held connections (default 1000); `--netstack-seconds 1 --conns 100` is a smoke test.',
    '',
    'The server is wiretund (TUN mode) in one namespace; each client runs in another, over veth, with its forwards on',
    'loopback: iperf3 (one stream, `-R` for down) through a `-L` forward, and bench/lib/pump.cjs (node, one stream) through',
    'SOCKS5 CONNECT. "up" is client to server. Clients: `wiretun proxy` (wg-quick file, `-L`, `--socks5`); gVisor',
    `netstack = bench/gvisor-forward, a minimal forwarder on wireguard-go's \`tun/netstack\` (the stack wireproxy uses) at`,
    `the pinned wireguard-go (${wireguardGoPin()}, tag 0.0.20250522); onetun ${ONETUN_VERSION} from crates.io (port`,
    'forwards only, no SOCKS5); and the ceiling, wiretund with a TUN in the client namespace, iperf3 and the pump',
    'straight to the server. The lossy rows put a delay relay in a third',
    `namespace (${LOSSY.delayMs} ms each way) with ${LOSSY.lossPercent}% nftables drops on its egress, each direction (test/netns/lib/lossy.ts).`,
    `One run: ${o.seconds} s per stream at 0 ms, ${o.lossySeconds} s at loss. Ratios are wiretun proxy ÷ the other; ✓/✗ against the`,
    "issue's targets (≥ 1.5× gVisor, ≥ 10× onetun, ≥ 0.6× TUN mode; at loss ≥ 1× gVisor).",
    '',
    '![Rootless single-stream throughput](netstack.svg)',
    '',
    `| condition | path | direction | ${results.map((r) => r.name).join(' | ')} |${others.map((r) => ` ${OURS} ÷ ${r.name} |`).join('')}`,
    `|---|---|---|${results.map(() => '---|').join('')}${others.map(() => '---|').join('')}`,
    ...rows(results, 'clean'),
    ...rows(results, 'lossy'),
    '',
    `Memory per idle proxied connection: ${HELD_CONNECTIONS === o.conns ? '1,000' : o.conns} connections held open through the \`-L\` forward to a`,
    'server-side listener (each answered once, so its tunnel connection exists), RSS growth of the client process ÷ count.',
    '',
    '| implementation | RSS before (MiB) | RSS with them open (MiB) | per connection (KiB) |',
    '|---|---|---|---|',
    ...memory.map((r) => `| ${r.name} | ${num(r.rss!.before / 2 ** 20, 1)} | ${num(r.rss!.after / 2 ** 20, 1)} | ${num(r.rss!.perConnection / 1024, 1)} |`),
    '',
    ...results.filter((r) => r.skipped).map((r) => `Skipped: ${r.name} — ${r.skipped}.`),
    ...(errors.length ? ['Failed runs (– in the table):', ...errors] : []),
    '',
  ];
}

/** Replaces the rootless section of `file` (or appends it), keeping the rest as it was. */
export function writeNetstackSection(file: string, results: NetstackResult[], o: NetstackOptions): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n\n';
  const section = netstackSection(results, o).join('\n');
  const start = text.indexOf(NETSTACK_HEADING);
  if (start < 0) return writeFileSync(file, `${text.trimEnd()}\n\n${section}`);
  const next = text.indexOf('\n## ', start + NETSTACK_HEADING.length);
  writeFileSync(file, text.slice(0, start) + section + (next >= 0 ? text.slice(next + 1) : ''));
}

export function writeNetstackChart(file: string, results: NetstackResult[]): void {
  const bars = results.filter((r) => r.clean).flatMap((r) => (['up', 'down'] as const).map((dir) => ({
    label: `${r.name} ${dir}`, name: r.name, value: r.clean!.forward[dir] / 1e9,
  })));
  const max = Math.max(...bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)), 0.001);
  const rowH = 30;
  const width = 680;
  const left = 230;
  const rowsSvg = bars.map((b, i) => {
    const y = 40 + i * rowH;
    const w = Number.isFinite(b.value) ? ((width - left - 90) * b.value) / max : 0;
    const color = b.name === OURS ? '#2f7d32' : b.name.startsWith('wiretun TUN') ? '#9e9e9e' : '#5c6bc0';
    return `<text x="${left - 8}" y="${y + 15}" text-anchor="end">${b.label}</text>` +
      `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="22" fill="${color}"/>` +
      `<text x="${(left + w + 6).toFixed(1)}" y="${y + 15}">${num(b.value)} Gb/s</text>`;
  });
  writeFileSync(file, `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${50 + bars.length * rowH}" font-family="sans-serif" font-size="13">` +
    `<text x="10" y="22" font-weight="bold">Rootless: 1 TCP stream through a -L forward, 0 ms, Gb/s (same run)</text>${rowsSvg.join('')}</svg>\n`);
}
