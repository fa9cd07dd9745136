// A two-node tunnel for one implementation pair: A (initiator) knows B's endpoint, B (responder) only learns
// A's from the handshake. Both are configured with `wg set` only.
import { Impl, Pair } from './env';
import { addressTunnel, Iface, startDaemon, waitGone } from './daemon';
import { must } from './proc';
import { Lab, Node } from './lab';
import { genKeyPair, KeyPair, ping, wg } from './wg';
import { waitFor } from './wait';

export const PORT_A = 51820;
export const PORT_B = 51821;

export interface Side {
  iface: Iface;
  key: KeyPair;
  port: number;
}

export interface TwoNode {
  a: Side;
  b: Side;
}

export interface TunnelOptions {
  /** Outer transport family for A's configured endpoint. */
  outer?: 4 | 6;
  pskFileA?: string;
  pskFileB?: string;
  keepaliveA?: number;
}

export const endpointOf = (node: Node, port: number, family: 4 | 6) =>
  family === 4 ? `${node.v4}:${port}` : `[${node.v6}]:${port}`;

const hostRoutes = (i: Iface) => `${i.v4}/32,${i.v6}/128`;

async function side(lab: Lab, pair: Pair, which: 'a' | 'b'): Promise<Side> {
  const impl = which === 'a' ? pair.initiator : pair.responder;
  const node = lab.nodes[which === 'a' ? 0 : 1];
  const iface = await startDaemon(lab, impl, node);
  await addressTunnel(iface, which === 'a' ? 1 : 2);
  return { iface, key: await genKeyPair(lab.tmp), port: which === 'a' ? PORT_A : PORT_B };
}

/** Starts both daemons and configures them; does not wait for a handshake. */
export async function twoNode(lab: Lab, pair: Pair, opts: TunnelOptions = {}): Promise<TwoNode> {
  const a = await side(lab, pair, 'a');
  const b = await side(lab, pair, 'b');
  const peerA = ['peer', b.key.pub, 'endpoint', endpointOf(b.iface.node, b.port, opts.outer ?? 4), 'allowed-ips', hostRoutes(b.iface)];
  if (opts.pskFileA) peerA.push('preshared-key', opts.pskFileA);
  if (opts.keepaliveA) peerA.push('persistent-keepalive', String(opts.keepaliveA));
  const peerB = ['peer', a.key.pub, 'allowed-ips', hostRoutes(a.iface)];
  if (opts.pskFileB) peerB.push('preshared-key', opts.pskFileB);
  await wg(b.iface.node.ns, ['set', b.iface.name, 'private-key', b.key.file, 'listen-port', String(b.port), ...peerB]);
  await wg(a.iface.node.ns, ['set', a.iface.name, 'private-key', a.key.file, 'listen-port', String(a.port), ...peerA]);
  return { a, b };
}

/** Pings `to`'s tunnel address from `from` until one gets through (bounded). */
export async function waitPing(from: Side, to: Side, family: 4 | 6 = 4, timeoutMs = 10_000): Promise<void> {
  const addr = family === 4 ? to.iface.v4! : to.iface.v6!;
  await waitFor(`ping ${from.iface.name} -> ${addr} through the tunnel`, () => ping(from.iface.node.ns, addr), {
    timeoutMs,
    intervalMs: 100,
    maxTries: 60,
  });
}

export function describeTunnel(t: TwoNode): string {
  return `${t.a.iface.impl.name} ${t.a.iface.name}@${t.a.iface.node.ns} <-> ${t.b.iface.impl.name} ${t.b.iface.name}@${t.b.iface.node.ns}`;
}

/** Adds another responder of `impl` in `node` (tunnel host `host`) as a peer of `hub`, which knows its endpoint. */
export async function addSpoke(lab: Lab, hub: Side, impl: Impl, node: Node, host: number, port: number): Promise<Side> {
  const iface = await startDaemon(lab, impl, node);
  await addressTunnel(iface, host);
  const key = await genKeyPair(lab.tmp);
  await wg(node.ns, ['set', iface.name, 'private-key', key.file, 'listen-port', String(port), 'peer', hub.key.pub, 'allowed-ips', hostRoutes(hub.iface)]);
  await wg(hub.iface.node.ns, ['set', hub.iface.name, 'peer', key.pub, 'endpoint', endpointOf(node, port, 4), 'allowed-ips', hostRoutes(iface)]);
  return { iface, key, port };
}

/**
 * Replaces `side`'s daemon with a fresh one of the same implementation, key, port and tunnel address, configured
 * as a pure responder: all session state is gone and it doesn't know where `peer` is.
 */
export async function restartAsResponder(lab: Lab, side: Side, peer: Side, host: number): Promise<Side> {
  const old = side.iface;
  await must('ip', ['-n', old.node.ns, 'link', 'del', 'dev', old.name]);
  await waitGone(old.name);
  const iface = await startDaemon(lab, old.impl, old.node);
  await addressTunnel(iface, host);
  await wg(iface.node.ns, ['set', iface.name, 'private-key', side.key.file, 'listen-port', String(side.port), 'peer', peer.key.pub, 'allowed-ips', hostRoutes(peer.iface)]);
  return { ...side, iface };
}
