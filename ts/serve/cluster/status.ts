// What the gateways report, folded per client: counters summed over the gateways that report it now (each
// counts only the traffic that went through it), and the gateway, endpoint and handshake of the most recent
// handshake (a session lives on one gateway).
import type { GatewayPeerRow, GatewayRow } from '../pg/cluster';

/** A gateway that has not written for this long is not counted as serving anything (it writes every 10 s). */
export const HEALTHY_MS = 30_000;

export interface PeerStatus {
  rxBytes: number;
  txBytes: number;
  lastHandshake: number | null;
  endpoint: string | null;
  gateway: string | null;
}

export const healthy = (g: Pick<GatewayRow, 'last_seen'>, now: number) => g.last_seen !== null && now - g.last_seen < HEALTHY_MS;

export function peerStatus(rows: GatewayPeerRow[], now: number): Map<string, PeerStatus> {
  const out = new Map<string, PeerStatus>();
  for (const r of rows) {
    if (now - r.updated_at >= HEALTHY_MS) continue;
    const s = out.get(r.public_key) ?? { rxBytes: 0, txBytes: 0, lastHandshake: null, endpoint: null, gateway: null };
    s.rxBytes += r.rx;
    s.txBytes += r.tx;
    if (r.last_handshake !== null && (s.lastHandshake === null || r.last_handshake > s.lastHandshake)) {
      s.lastHandshake = r.last_handshake;
      s.endpoint = r.endpoint;
      s.gateway = r.gateway;
    }
    out.set(r.public_key, s);
  }
  return out;
}
