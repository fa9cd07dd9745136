// `wiretun peer list` output: one aligned row per peer, times and sizes in the style of `wg show`.
import { PeerRow } from './manage';

/** `3 minutes, 2 seconds ago`-style age, coarse enough to read at a glance. */
export function ago(then: Date, now = Date.now()): string {
  let s = Math.max(0, Math.round((now - then.getTime()) / 1000));
  const parts: string[] = [];
  for (const [unit, size] of [['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]] as const) {
    const n = Math.floor(s / size);
    s -= n * size;
    if (n > 0) parts.push(`${n} ${unit}${n === 1 ? '' : 's'}`);
    if (parts.length === 2) break;
  }
  return parts.length ? `${parts.join(', ')} ago` : 'now';
}

/** Bytes as `wg show` prints them: B, KiB, MiB, GiB, TiB with two decimals. */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(2)} ${units[i]}`;
}

function cells(r: PeerRow, up: boolean, now: number): string[] {
  const name = r.name ?? (r.inFile ? '-' : '(not in file)');
  const base = [name, r.publicKey, r.allowedIps.join(', ') || '(none)'];
  if (!up) return base;
  if (!r.live) return [...base, '(not running)', '-', '-'];
  const hs = r.live.lastHandshake ? ago(r.live.lastHandshake, now) : 'never';
  return [...base, r.live.endpoint ?? '(none)', hs, `${bytes(r.live.rxBytes)} received, ${bytes(r.live.txBytes)} sent`];
}

/** The table; the live columns appear only when the interface is up. */
export function peerTable(rows: PeerRow[], up: boolean, now = Date.now()): string {
  const head = ['NAME', 'PUBLIC KEY', 'ALLOWED IPS'];
  if (up) head.push('ENDPOINT', 'LATEST HANDSHAKE', 'TRANSFER');
  const table = [head, ...rows.map((r) => cells(r, up, now))];
  const widths = head.map((_, c) => Math.max(...table.map((row) => row[c].length)));
  return table.map((row) => row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ')).join('\n') + '\n';
}
