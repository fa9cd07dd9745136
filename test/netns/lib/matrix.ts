// The interop matrix: wiretund against each implementation it claims to work with. The pinned peers come from
// .ci/install-peers (run by .ci/setup); without them their rows are skipped loudly, except in CI, where a missing
// peer is a broken setup and fails like a missing wiretund build does (assertAvailable).
import * as path from 'node:path';
import { BORINGTUN_CLI, installed, INSTALLER, LATEST_WIREGUARD_GO, PeerBinary } from '../../../bench/lib/peers';
import { Impl, Pair, REPO, skipReason, WIREGUARD_GO, WIRETUND } from './env';

export const inCI = process.env.CI === 'true' || process.env.CI === '1';

export interface MatrixPeer {
  label: string;
  impl: Impl;
  /** Why it cannot run here (not installed), or undefined. */
  missing?: string;
}

function pinned(p: PeerBinary): MatrixPeer {
  const missing = installed(p) ? undefined : `${p.command} is not installed: run \`bash ${path.relative(REPO, INSTALLER)}\``;
  return { label: p.name, impl: { name: p.name, command: p.command, args: p.args }, missing };
}

export const MATRIX_PEERS: MatrixPeer[] = [
  { label: 'wiretund', impl: WIRETUND },
  { label: 'wireguard-go (Debian)', impl: WIREGUARD_GO },
  pinned(LATEST_WIREGUARD_GO),
  pinned(BORINGTUN_CLI),
];

for (const p of MATRIX_PEERS) {
  if (p.missing && !inCI && !skipReason) {
    console.warn(`\n*** SKIPPED: interop matrix against ${p.label}: ${p.missing} ***\n`);
  }
}

/** Skipped only outside CI; in CI the row runs and fails on this. */
export function assertPeerInstalled(p: MatrixPeer): void {
  if (p.missing) throw new Error(`${p.label}: ${p.missing} (CI is set, so a missing peer fails instead of skipping)`);
}

export interface MatrixCase {
  label: string;
  pair: Pair;
  psk: boolean;
}

/** wiretund in both roles against the peer (one role against itself), each without and with a preshared key. */
export function matrixCases(p: MatrixPeer): MatrixCase[] {
  const pairs: Pair[] = [{ label: `wiretund → ${p.label}`, initiator: WIRETUND, responder: p.impl }];
  if (p.impl !== WIRETUND) pairs.push({ label: `${p.label} → wiretund`, initiator: p.impl, responder: WIRETUND });
  return pairs.flatMap((pair) => [false, true].map((psk) => ({ label: `${pair.label}, PSK ${psk ? 'on' : 'off'}`, pair, psk })));
}
