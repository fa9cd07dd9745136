// The benchmark's report: what RESULTS.md claims is what the samples say, and nothing measured is dropped.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ImplResult, writeResults, writeScaleSection } from '../../bench/lib/report';
import { scaleSteps } from '../../bench/lib/scale';
import { Sample } from '../../bench/lib/workloads';

const dir = mkdtempSync(path.join(os.tmpdir(), 'wiretun-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sample(tcpGbps: number): Sample {
  const rtt = { min: 0.1, avg: 0.2, p99: 0.4 };
  return {
    tcpGbps,
    tcpReverseGbps: tcpGbps,
    tcp4Gbps: tcpGbps,
    udpGbps: 1,
    udpLossPct: 0,
    rttIdle: rtt,
    rttLoaded: rtt,
    cpuSecPerGB: 3,
    peakRssMiB: 50,
  };
}

function report(results: ImplResult[]): string {
  const file = path.join(dir, 'RESULTS.md');
  writeResults(file, results, { version: '0.0.0', reps: 3, seconds: 10 });
  return readFileSync(file, 'utf8');
}

describe('bench report', () => {
  const wiretun: ImplResult = {
    name: 'wiretun',
    handshakeMs: [5],
    samples: [sample(3), sample(4), sample(5)],
    scale: [
      { peers: 1000, configureMs: 80, bytesPerPeer: 1500 },
      { peers: 10000, configureMs: 400, bytesPerPeer: 1200, gbpsWithPeers: 3.5 },
      { peers: 65535, configureMs: 300, bytesPerPeer: 480 },
      { peers: 100000, configureMs: 450, bytesPerPeer: 470 },
    ],
  };
  const peer: ImplResult = { name: 'wireguard-go (latest)', handshakeMs: [9], samples: [sample(2)], scale: [] };
  const goScaled: ImplResult = {
    ...peer,
    scale: [
      { peers: 1000, configureMs: 90, bytesPerPeer: 3000 },
      { peers: 10000, configureMs: 900, bytesPerPeer: 2500, gbpsWithPeers: 1.5 },
      { peers: 65535, configureMs: 9000, bytesPerPeer: 2400 },
    ],
  };
  const boringtun: ImplResult = {
    name: 'boringtun-cli',
    handshakeMs: [9],
    samples: [sample(1)],
    scale: [
      { peers: 1000, configureMs: 100, bytesPerPeer: 4000 },
      { peers: 10000, configureMs: 1000, bytesPerPeer: 4000, gbpsWithPeers: 1 },
    ],
  };

  it('reports medians with their spread and the ratio to each peer', () => {
    const row = report([wiretun, peer]).split('\n').find((l) => l.startsWith('| TCP 1 stream A→B'));
    expect(row).toBe('| TCP 1 stream A→B (Gb/s) | 4.00 (3.00–5.00) | 2.00 | 2.00× |');
  });

  it('reports throughput with 10,000 peers configured on that row only', () => {
    const text = report([wiretun, peer]);
    expect(text).toContain('| wiretun | 10000 | 400 | 1200 | 3.50 |');
    expect(text).toContain('| wiretun | 1000 | 80.00 | 1500 | – |');
  });

  it('puts the rows of each peer count side by side, and names who stopped before 100,000', () => {
    const lines = report([wiretun, goScaled, boringtun]).split('\n');
    const rows = lines.filter((l) => /^\| [a-z].* \| \d+ \|/.test(l)).map((l) => l.split(' | ').slice(0, 2).join(' | '));
    expect(rows).toEqual([
      '| wiretun | 1000', '| wireguard-go (latest) | 1000', '| boringtun-cli | 1000',
      '| wiretun | 10000', '| wireguard-go (latest) | 10000', '| boringtun-cli | 10000',
      '| wiretun | 65535', '| wireguard-go (latest) | 65535',
      '| wiretun | 100000',
    ]);
    expect(lines).toContain('| wiretun | 100000 | 450 | 470 | – |');
    expect(lines).toContain('| wireguard-go (latest) | 65535 | 9000 | 2400 | – |');
    expect(lines).toContain('Not run at 100000 peers: wireguard-go (latest), boringtun-cli.');
  });

  it('runs wiretun to 100,000 peers, both wireguard-go builds to their limit of 65,536, boringtun-cli to 10,000', () => {
    expect(scaleSteps('wiretun')).toEqual([1000, 10_000, 65_535, 100_000]);
    for (const name of ['wireguard-go (Debian)', 'wireguard-go (latest)']) {
      expect(scaleSteps(name)).toEqual([1000, 10_000, 65_535]);
    }
    expect(scaleSteps('boringtun-cli')).toEqual([1000, 10_000]);
  });

  it('names a skipped implementation and why', () => {
    const skipped: ImplResult = { name: 'boringtun-cli', skipped: 'cargo not found', handshakeMs: [], samples: [], scale: [] };
    expect(report([wiretun, skipped])).toContain('Skipped: boringtun-cli — cargo not found.');
  });

  it('a --scale-only run replaces the scale section and keeps the full run\'s tables', () => {
    const file = path.join(dir, 'RESULTS.md');
    writeResults(file, [wiretun, peer, { name: 'x', skipped: 'not here', handshakeMs: [], samples: [], scale: [] }], { version: '0.0.0', reps: 3, seconds: 10 });
    const before = readFileSync(file, 'utf8');
    writeScaleSection(file, [{ ...wiretun, samples: [] }, { ...goScaled, samples: [] }]);
    const after = readFileSync(file, 'utf8');
    expect(after).toContain('| TCP 1 stream A→B (Gb/s) | 4.00 (3.00–5.00) | 2.00 | 2.00× |');
    expect(after).toContain('| wireguard-go (latest) | 65535 | 9000 | 2400 | – |');
    expect(after).toMatch(/Scale rows from a `--scale-only` run on \d{4}-\d\d-\d\d/);
    expect(after).toContain('Skipped: x — not here.');
    expect(after.split('## Scale').length).toBe(2);
    expect(after.slice(0, after.indexOf('## Scale'))).toBe(before.slice(0, before.indexOf('## Scale')));
  });
});
