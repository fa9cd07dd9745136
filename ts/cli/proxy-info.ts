// `wiretun proxy --info ADDR`: wireproxy's `-i`. /readyz answers 200 once a peer has a handshake younger than
// three minutes (WireGuard's session limit), else 503; /metrics gives the peers' counters under the Prometheus
// exporter's metric names, so existing dashboards read it. Plain HTTP on a host socket; no key material.
import * as http from 'node:http';
import type { PeerStatus } from '../tunnel';
import type { AliveChecker } from './proxy-alive';

const FRESH_MS = 180_000;

export function readyz(peers: PeerStatus[], now = Date.now()): boolean {
  return peers.some((p) => p.lastHandshake !== null && now - p.lastHandshake.getTime() < FRESH_MS);
}

export function metrics(iface: string, peers: PeerStatus[]): string {
  const esc = (s: string): string => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  const out: string[] = [];
  const family = (name: string, type: string, help: string, value: (p: PeerStatus) => number): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const p of peers) {
      out.push(`${name}{interface="${esc(iface)}",public_key="${esc(p.publicKey)}",allowed_ips="${esc(p.allowedIps.join(','))}"} ${value(p)}`);
    }
  };
  family('wireguard_sent_bytes_total', 'counter', 'Bytes sent to the peer', (p) => p.txBytes);
  family('wireguard_received_bytes_total', 'counter', 'Bytes received from the peer', (p) => p.rxBytes);
  family('wireguard_latest_handshake_seconds', 'gauge', 'UNIX time of the latest handshake', (p) =>
    p.lastHandshake ? Math.floor(p.lastHandshake.getTime() / 1000) : 0);
  return `${out.join('\n')}\n`;
}

/** Serves /metrics and /readyz on `host:port`; resolves once listening, rejects (EADDRINUSE...) otherwise.
 * With CheckAlive, /readyz follows its pings (wireproxy's rule and JSON body) instead of the handshake. */
export function serveInfo(host: string, port: number, iface: string, peers: () => PeerStatus[], alive?: AliveChecker): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(metrics(iface, peers()) + (alive?.metrics() ?? ''));
    } else if (url === '/readyz' && alive) {
      res.writeHead(alive.ready() ? 200 : 503, { 'content-type': 'application/json' }).end(`${alive.json()}\n`);
    } else if (url === '/readyz') {
      const ok = readyz(peers());
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ready\n' : 'no recent handshake\n');
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
