// What an idle peer costs the daemon: 10,000 peers added with `wg addconf` (1-4 allowed IPs each, as in the
// benchmark) must cost less than 2 KiB of resident memory each beyond what the daemon had before, and all of
// them must be there afterwards. A bound on memory, not a timing: the benchmark reports the actual figures.
// Also: the TUN the daemon creates has a transmit queue of 1000 packets (up from the default 500).
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peersConf, rssBytes } from '../../bench/lib/scale';
import { startDaemon } from './lib/daemon';
import { assertAvailable, skipReason, WIRETUND } from './lib/env';
import { daemonPids, Lab } from './lib/lab';
import { must } from './lib/proc';
import { dump, genKeyPair, wg } from './lib/wg';

const PEERS = 10_000;
const BYTES_PER_PEER_LIMIT = 2048;

describe.skipIf(skipReason !== undefined)('daemon resources: memory per idle peer, TUN queue (root)', () => {
  let lab: Lab;

  beforeAll(async () => {
    assertAvailable(WIRETUND);
    lab = await Lab.create(1);
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it(`${PEERS} peers cost under ${BYTES_PER_PEER_LIMIT} bytes each, and all of them are configured`, async () => {
    const node = lab.nodes[0];
    const iface = await startDaemon(lab, WIRETUND, node);
    const key = await genKeyPair(lab.tmp);
    await wg(node.ns, ['set', iface.name, 'private-key', key.file, 'listen-port', '0']);
    const file = path.join(lab.tmp, 'peers.conf');
    writeFileSync(file, peersConf(PEERS), { mode: 0o600 });
    const [pid] = daemonPids([iface.name]);
    const before = rssBytes(pid);
    await wg(node.ns, ['addconf', iface.name, file]);
    const perPeer = (rssBytes(pid) - before) / PEERS;
    const peers = (await dump(node.ns, iface.name)).peers;
    expect(peers).toHaveLength(PEERS);
    expect(peers.reduce((n, p) => n + p.allowedIps.split(',').length, 0)).toBe(25_000);
    expect(perPeer, `resident memory per peer: ${perPeer.toFixed(0)} bytes`).toBeLessThan(BYTES_PER_PEER_LIMIT);
  }, 120_000);

  it('the TUN lets the kernel queue 1000 packets for us (a burst waits instead of being dropped)', async () => {
    const iface = await startDaemon(lab, WIRETUND, lab.nodes[0]);
    const link = await must('ip', ['-n', lab.nodes[0].ns, 'link', 'show', 'dev', iface.name]);
    expect(link).toMatch(/ qlen 1000\b/);
  });
});
