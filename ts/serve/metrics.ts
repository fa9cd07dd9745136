// /metrics in the Prometheus text format (0.0.4), with the names of prometheus_wireguard_exporter so existing
// dashboards work: per running peer wireguard_sent_bytes_total, wireguard_received_bytes_total and
// wireguard_latest_handshake_seconds (a Unix time, 0 = never), labelled interface, public_key, allowed_ips and
// friendly_name (the `# Name`); then what the exporter lacks: interfaces up and clients by state.
import { Clients, ClientState } from './clients';
import { Interfaces } from './interfaces';

/** A label value with `\`, `"` and line feeds escaped as the format requires. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function labels(pairs: Record<string, string>): string {
  return `{${Object.entries(pairs)
    .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
    .join(',')}}`;
}

export interface Family {
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  samples: string[];
}

export const fam = (name: string, type: Family['type'], help: string): Family => ({ name, type, help, samples: [] });

export function render(families: Family[]): string {
  return families
    .map((f) => [`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...f.samples].join('\n'))
    .join('\n')
    .concat('\n');
}

export const STATES: ClientState[] = ['connected', 'idle', 'never', 'disabled', 'down'];

export async function metricsText(interfaces: Interfaces, clients: Clients): Promise<string> {
  const sent = fam('wireguard_sent_bytes_total', 'counter', 'Bytes sent to the peer');
  const received = fam('wireguard_received_bytes_total', 'counter', 'Bytes received from the peer');
  const handshake = fam('wireguard_latest_handshake_seconds', 'gauge', 'Unix time of the latest handshake with the peer (0 = never)');
  const up = fam('wiretun_interface_up', 'gauge', 'Whether the interface is running (1) or not (0)');
  const peers = fam('wiretun_clients', 'gauge', 'Clients of the interface by state');
  for (const iface of (await interfaces.known()).keys()) {
    let loaded;
    try {
      loaded = await interfaces.load(iface);
    } catch {
      continue; // a broken file is reported by the API; metrics go on for the others
    }
    const live = await interfaces.live.device(iface);
    up.samples.push(`${up.name}${labels({ interface: iface })} ${live ? 1 : 0}`);
    const views = await clients.views(loaded, live);
    for (const state of STATES) {
      const n = views.filter((v) => v.status.state === state).length;
      peers.samples.push(`${peers.name}${labels({ interface: iface, state })} ${n}`);
    }
    const names = new Map(views.map((v) => [v.publicKey, v.name]));
    for (const p of live?.peers ?? []) {
      const key = p.publicKey.toString('base64');
      const l = labels({ interface: iface, public_key: key, allowed_ips: p.allowedIps.join(','), friendly_name: names.get(key) ?? '' });
      sent.samples.push(`${sent.name}${l} ${p.txBytes}`);
      received.samples.push(`${received.name}${l} ${p.rxBytes}`);
      handshake.samples.push(`${handshake.name}${l} ${p.lastHandshakeSec}`);
    }
  }
  return render([sent, received, handshake, up, peers]);
}
