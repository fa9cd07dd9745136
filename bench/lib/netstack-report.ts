// The rootless section of bench/RESULTS.md (a table of every path with wiretun proxy's ratios against each
// other client and the issues' targets, and memory per idle connection), bench/netstack.svg (single-stream -L
// throughput at 0 ms) and bench/netstack-loss.svg (upload on each lossy path, log scale).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ONETUN_VERSION } from './netstack-clients';
import { CLEAN, ConditionResult, Directions, HELD_CONNECTIONS, NetstackOptions, NetstackResult, PathSpec, pathName } from './netstack';

export const NETSTACK_HEADING = '## Rootless (netstack): one TCP stream through a forward';
const OURS = 'wiretun proxy (tcp2, default)';
const BBR = 'Linux BBR (TUN mode)';
const CUBIC = 'Linux CUBIC (TUN mode)';

/** The issues' targets, wiretun proxy ÷ another client: the rootless work's (≥ 1.5× gVisor and ≥ 10× onetun
 * lossless, never behind gVisor at loss) and issue 21's (lossless ≥ 0.95× TUN mode both ways; uploading at
 * 50 ms / 1% ≥ 0.6× Linux BBR and ahead of Linux CUBIC). */
function target(spec: PathSpec, dir: 'up' | 'down', other: string): number | undefined {
  if (spec.rttMs === 0) return { 'gVisor netstack': 1.5, onetun: 10, [BBR]: 0.95 }[other];
  if (other === 'gVisor netstack') return 1;
  if (dir === 'up' && spec.rttMs === 50 && spec.lossPercent === 1) return { [BBR]: 0.6, [CUBIC]: 1 }[other];
  return undefined;
}

const scale = (spec: PathSpec) => (spec.rttMs === 0 ? { div: 1e9, unit: 'Gb/s' } : { div: 1e6, unit: 'Mb/s' });
const num = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '–');

function rows(results: NetstackResult[], spec: PathSpec): string[] {
  const { div, unit } = scale(spec);
  const ours = results.find((r) => r.name === OURS);
  const others = results.filter((r) => r !== ours);
  const paths: { label: string; get: (c: ConditionResult) => Directions | undefined }[] = [
    { label: '-L forward (iperf3)', get: (c) => c.forward },
    ...(spec.rttMs === 0 ? [{ label: 'SOCKS5 (pump)', get: (c: ConditionResult) => c.socks }] : []),
  ];
  const when = pathName(spec);
  return paths.flatMap((p) => (['up', 'down'] as const).map((dir) => {
    const value = (r: NetstackResult) => {
      const c = r.runs[when];
      return c ? (p.get(c)?.[dir] ?? NaN) / div : NaN;
    };
    const ratios = others.map((o) => {
      const x = ours ? value(ours) / value(o) : NaN; // the subject may be left out by --clients
      if (!Number.isFinite(x)) return '–';
      const t = target(spec, dir, o.name);
      return `${x.toFixed(2)}×${t === undefined ? '' : x >= t ? ' ✓' : ` ✗ (≥ ${t})`}`;
    });
    return `| ${when} | ${p.label} | ${dir} (${unit}) | ${results.map((r) => num(value(r), spec.rttMs === 0 ? 3 : 2)).join(' | ')} | ${ratios.join(' | ')} |`;
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
    'capabilities); a full `npm run bench` includes it. `--netstack-seconds S` sets the 0 ms runs (default 5),',
    '`--lossy-seconds S` the lossy ones (default 8), `--paths 50/1,150/1` picks lossy paths (RTT ms / loss %; default all',
    'nine) and `--conns N` the held connections (default 1000); `--netstack-seconds 1 --lossy-seconds 2 --paths 50/1',
    '--conns 100` is a smoke test.',
    '',
    'The server is wiretund (TUN mode) in one namespace; each client runs in another, over veth, with its forwards on',
    'loopback: iperf3 (one stream, `-R` for down) through a `-L` forward, and bench/lib/pump.cjs (node, one stream) through',
    'SOCKS5 CONNECT. "up" is client to server, so in the "up" rows the client\'s TCP is the sender. Clients:',
    '`wiretun proxy` (wg-quick file, `-L`, `--socks5`) with `--tcp-engine tcp2` (issue 21\'s sender, the default) and with `--tcp-engine smoltcp`; gVisor',
    `netstack = bench/gvisor-forward, a minimal forwarder on wireguard-go's \`tun/netstack\` (the stack wireproxy uses) at`,
    `the pinned wireguard-go (${wireguardGoPin()}, tag 0.0.20250522); onetun ${ONETUN_VERSION} from crates.io (port`,
    'forwards only, no SOCKS5); and Linux itself, wiretund with a TUN in the client namespace, iperf3 and the pump',
    'straight to the server, with BBR (this machine\'s default) and with CUBIC (`iperf3 -C`, which the server side',
    'follows for `-R`; checked in its report). The lossy rows put a delay relay in a third namespace (half the RTT',
    'each way) with nftables drops on its egress, each direction (test/netns/lib/lossy.ts); iperf3 only.',
    `One run: ${o.seconds} s per stream at 0 ms, ${o.lossySeconds} s at loss. Ratios are wiretun proxy (tcp2) ÷ the other; ✓/✗ against the`,
    "issues' targets (≥ 1.5× gVisor, ≥ 10× onetun, ≥ 0.95× Linux BBR lossless; at loss ≥ 1× gVisor; up at 50 ms / 1% ≥ 0.6×",
    'Linux BBR and ≥ 1× Linux CUBIC).',
    '',
    '![Rootless single-stream throughput](netstack.svg)',
    '',
    '![Rootless upload on lossy paths](netstack-loss.svg)',
    '',
    `| condition | path | direction | ${results.map((r) => r.name).join(' | ')} |${others.map((r) => ` ${OURS} ÷ ${r.name} |`).join('')}`,
    `|---|---|---|${results.map(() => '---|').join('')}${others.map(() => '---|').join('')}`,
    ...[CLEAN, ...o.paths].flatMap((spec) => rows(results, spec)),
    '',
    `Memory per idle proxied connection: ${HELD_CONNECTIONS === o.conns ? '1,000' : o.conns} connections held open through the \`-L\` forward to a`,
    'server-side listener (each answered once, so its tunnel connection exists), RSS growth of the client process ÷ count.',
    '',
    '| implementation | RSS before (MiB) | RSS with them open (MiB) | per connection (KiB) |',
    '|---|---|---|---|',
    ...memory.map((r) => `| ${r.name} | ${num(r.rss!.before / 2 ** 20, 1)} | ${num(r.rss!.after / 2 ** 20, 1)} | ${num(r.rss!.perConnection / 1024, 1)} |`),
    '',
    ...results.filter((r) => r.skipped).map((r) => `Skipped: ${r.name} — ${r.skipped}.`),
    ...(errors.length ? ['Failed runs (– in the table):', ...errors, ''] : []),
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

const COLORS: Record<string, string> = {
  [OURS]: '#2f7d32', 'wiretun proxy (smoltcp)': '#9ccc65', 'gVisor netstack': '#5c6bc0', onetun: '#8d6e63', [BBR]: '#616161', [CUBIC]: '#bdbdbd',
};

/** Upload on each lossy path, one group of bars per path, on a log scale (the clients span 0.1 to 300 Mb/s). */
export function writeNetstackLossChart(file: string, results: NetstackResult[], paths: PathSpec[]): void {
  const shown = results.filter((r) => !r.skipped);
  const barH = 11;
  const groupH = shown.length * barH + 14;
  const [left, width, top] = [170, 760, 60];
  const [lo, hi] = [0.1, 1000];
  const x = (v: number) => ((Math.log10(Math.min(Math.max(v, lo), hi)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (width - left - 60);
  const groups = paths.map((spec, g) => {
    const y0 = top + g * groupH;
    const bars = shown.map((r, i) => {
      const v = (r.runs[pathName(spec)]?.forward.up ?? NaN) / 1e6;
      const w = Number.isFinite(v) ? x(v) : 0;
      const y = y0 + i * barH;
      return `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${COLORS[r.name] ?? '#5c6bc0'}"/>` +
        `<text x="${(left + w + 4).toFixed(1)}" y="${y + barH - 3}" font-size="9">${num(v, v < 10 ? 2 : 0)}</text>`;
    });
    return `<text x="${left - 8}" y="${y0 + groupH / 2}" text-anchor="end">${pathName(spec)}</text>${bars.join('')}`;
  });
  const ticks = [0.1, 1, 10, 100, 1000].map((t) =>
    `<line x1="${left + x(t)}" y1="${top - 6}" x2="${left + x(t)}" y2="${top + paths.length * groupH}" stroke="#e0e0e0"/>` +
    `<text x="${left + x(t)}" y="${top - 10}" text-anchor="middle" font-size="10">${t} Mb/s</text>`);
  // Three to a row: the names are too long for one.
  const legend = shown.map((r, i) => {
    const [x, y] = [10 + (i % 3) * 250, top + paths.length * groupH + 10 + Math.floor(i / 3) * 16];
    return `<rect x="${x}" y="${y}" width="10" height="10" fill="${COLORS[r.name] ?? '#5c6bc0'}"/>` +
      `<text x="${x + 14}" y="${y + 9}" font-size="10">${r.name}</text>`;
  });
  const height = top + paths.length * groupH + 16 * Math.ceil(shown.length / 3) + 20;
  writeFileSync(file, `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">` +
    '<text x="10" y="20" font-weight="bold">Rootless upload (client sends) through a -L forward on lossy paths, Mb/s, log scale (same run)</text>' +
    `${ticks.join('')}${groups.join('')}${legend.join('')}</svg>\n`);
}

export function writeNetstackChart(file: string, results: NetstackResult[]): void {
  const clean = pathName(CLEAN);
  const bars = results.filter((r) => r.runs[clean]).flatMap((r) => (['up', 'down'] as const).map((dir) => ({
    label: `${r.name} ${dir}`, name: r.name, value: r.runs[clean].forward[dir] / 1e9,
  })));
  const max = Math.max(...bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)), 0.001);
  const rowH = 30;
  const width = 680;
  const left = 230;
  const rowsSvg = bars.map((b, i) => {
    const y = 40 + i * rowH;
    const w = Number.isFinite(b.value) ? ((width - left - 90) * b.value) / max : 0;
    const color = COLORS[b.name] ?? '#5c6bc0';
    return `<text x="${left - 8}" y="${y + 15}" text-anchor="end">${b.label}</text>` +
      `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="22" fill="${color}"/>` +
      `<text x="${(left + w + 6).toFixed(1)}" y="${y + 15}">${num(b.value)} Gb/s</text>`;
  });
  writeFileSync(file, `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${50 + bars.length * rowH}" font-family="sans-serif" font-size="13">` +
    `<text x="10" y="22" font-weight="bold">Rootless: 1 TCP stream through a -L forward, 0 ms, Gb/s (same run)</text>${rowsSvg.join('')}</svg>\n`);
}
