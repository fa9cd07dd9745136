// Which suites can run here, and the implementations/pairs under test.
import { accessSync, constants, existsSync } from 'node:fs';
import * as path from 'node:path';
import { localBinary } from '../../../ts/native-loader';

export const REPO = path.resolve(__dirname, '..', '..', '..');

const REQUIRED_TOOLS = ['ip', 'wg', 'wg-quick', 'wireguard-go', 'iperf3', 'ping', 'ss', 'sysctl', 'nft'];

function onPath(tool: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    try {
      accessSync(path.join(dir, tool), constants.X_OK);
      return true;
    } catch {
      /* keep looking */
    }
  }
  return false;
}

/** Why the netns suites cannot run here, or undefined when they can. */
function computeSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'netns tests need root (namespaces, TUN devices, /var/run/wireguard)';
  const missing = REQUIRED_TOOLS.filter((t) => !onPath(t));
  if (missing.length) return `netns tests need these tools, missing: ${missing.join(', ')}`;
  if (!existsSync('/dev/net/tun')) return 'netns tests need /dev/net/tun';
  return undefined;
}

export const skipReason = computeSkipReason();
if (skipReason) {
  console.warn(`\n*** SKIPPED: ${skipReason} ***\n*** The interop suite did NOT run. ***\n`);
}

export interface Impl {
  /** `wireguard-go` is Debian's; the other two are the pinned peers of the interop matrix (lib/matrix.ts). */
  name: 'wiretund' | 'wireguard-go' | 'wireguard-go (latest)' | 'boringtun-cli';
  command: string;
  /** Options placed before the interface name (which stays last: daemonPids() finds daemons by it). */
  args?: string[];
}

/** WIRETUN_TEST_WIRETUND points the suite at another wiretund build (or, to test the harness, a stand-in). */
export const WIRETUND: Impl = { name: 'wiretund', command: process.env.WIRETUN_TEST_WIRETUND ?? path.join(REPO, 'bin', 'wiretund') };
export const WIREGUARD_GO: Impl = { name: 'wireguard-go', command: '/usr/bin/wireguard-go' };

export const baselineEnabled = process.env.WIRETUN_TEST_BASELINE === '1';

export interface Pair {
  label: string;
  /** Side A: configured with B's endpoint, sends first. */
  initiator: Impl;
  /** Side B: learns A's endpoint from the handshake. */
  responder: Impl;
}

/** Baseline cases say so in their label: `-t baseline` selects exactly them while wiretund is not built. */
const isBaseline = (...used: Impl[]) => used.every((i) => i.name === 'wireguard-go');
const suffix = (...used: Impl[]) => (isBaseline(...used) ? ' (baseline)' : '');

function pair(a: Impl, b: Impl): Pair {
  return { label: `${a.name}→${b.name}${suffix(a, b)}`, initiator: a, responder: b };
}

export function pairs(): Pair[] {
  const list = [pair(WIRETUND, WIRETUND), pair(WIRETUND, WIREGUARD_GO), pair(WIREGUARD_GO, WIRETUND)];
  if (baselineEnabled) list.push(pair(WIREGUARD_GO, WIREGUARD_GO));
  return list;
}

export function impls(): { impl: Impl; label: string }[] {
  const list = baselineEnabled ? [WIRETUND, WIREGUARD_GO] : [WIRETUND];
  return list.map((impl) => ({ impl, label: `${impl.name}${suffix(impl)}` }));
}

export function comparisons(): { label: string; subject: Impl; reference: Impl }[] {
  const list = [{ subject: WIRETUND, reference: WIREGUARD_GO }];
  if (baselineEnabled) list.push({ subject: WIREGUARD_GO, reference: WIREGUARD_GO });
  return list.map((c) => ({ ...c, label: `${c.subject.name} ~ ${c.reference.name}${suffix(c.subject)}` }));
}

/**
 * Throws (so the test fails rather than skips) when the implementation is not built: in CI a missing wiretund
 * is a broken build, not an unsupported machine.
 */
export function assertAvailable(impl: Impl): void {
  if (impl.name !== 'wiretund') return;
  const missing = [impl.command, localBinary(REPO)].filter((f) => !existsSync(f));
  if (missing.length) {
    throw new Error(
      `wiretund is not built: missing ${missing.join(', ')}. Run \`npm run build\` first ` +
        '(to validate the harness alone: WIRETUN_TEST_BASELINE=1 npx vitest run test/netns -t baseline).',
    );
  }
}
