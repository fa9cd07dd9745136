// What new clients of a server get, kept as comments in the server's [Interface] (where `# PublicEndpoint`
// already lives), so the file stays the one source and `wiretun peer add` and `wiretun serve` agree:
//
//   # PublicEndpoint = vpn.example.com:51820
//   # ClientDNS = 10.0.0.1, home.lan
//   # ClientAllowedIPs = 0.0.0.0/0, ::/0
//   # ClientPersistentKeepalive = 25
//
// wg-quick and wg ignore them. Absent: the server's own DNS, its subnets, no keepalive.
import { parseDns } from '../config/values';
import { lineEnding, toFileText } from './sections';

export const DEFAULT_KEYS = ['PublicEndpoint', 'ClientDNS', 'ClientAllowedIPs', 'ClientPersistentKeepalive'] as const;
export type DefaultKey = (typeof DEFAULT_KEYS)[number];

export interface ClientDefaults {
  endpoint?: string;
  /** Nameservers and search domains, in wg-quick's split. */
  dns?: { servers: string[]; search: string[] };
  allowedIps?: string[];
  persistentKeepalive?: number;
}

const commentLine = (key: string) => new RegExp(`^\\s*#\\s*${key}\\s*=\\s*(.*?)\\s*$`, 'i');
const header = (line: string) => {
  const t = line.split('#')[0].trim();
  return t.startsWith('[') ? t.toLowerCase() : undefined;
};

/** The [Interface] section's lines [start, end): end is just past its last non-blank line. */
function interfaceRange(lines: string[]): { start: number; end: number } | undefined {
  const start = lines.findIndex((l) => header(l) === '[interface]');
  if (start < 0) return undefined;
  let end = start + 1;
  for (let i = start + 1; i < lines.length && header(lines[i]) === undefined; i++) {
    if (lines[i].trim() !== '' && !lines[i].startsWith('#~')) end = i + 1;
  }
  return { start, end };
}

/** The raw `# KEY = value` of [Interface] (decoded as UTF-8), or undefined. */
export function interfaceComment(text: string, key: DefaultKey): string | undefined {
  const lines = text.split('\n');
  const range = interfaceRange(lines);
  if (!range) return undefined;
  const re = commentLine(key);
  for (let i = range.start; i < range.end; i++) {
    const m = re.exec(lines[i]);
    if (m && m[1]) return Buffer.from(m[1], 'latin1').toString('utf8');
  }
  return undefined;
}

/** The file with `# KEY = value` set (replaced in place, or added at the end of [Interface]) or removed. */
export function setInterfaceComment(text: string, key: DefaultKey, value: string | undefined): string {
  if (value !== undefined && /[\r\n]/.test(value)) throw new Error(`${key} cannot contain a line break`);
  const lines = text.split('\n');
  const range = interfaceRange(lines);
  if (!range) throw new Error('the file has no [Interface] section');
  const re = commentLine(key);
  const eol = lineEnding(text);
  const cr = eol === '\r\n' ? '\r' : '';
  const at = lines.slice(range.start, range.end).findIndex((l) => re.test(l));
  const replacement = value === undefined ? [] : [toFileText(`# ${key} = ${value}`) + cr];
  if (at >= 0) lines.splice(range.start + at, 1, ...replacement);
  else lines.splice(range.end, 0, ...replacement);
  return lines.join('\n');
}

const list = (v: string | undefined) => v?.split(',').map((s) => s.trim()).filter(Boolean);

/** The defaults the file names; values that do not parse are left out (the API refuses them on the way in). */
export function clientDefaults(text: string): ClientDefaults {
  const out: ClientDefaults = {};
  out.endpoint = interfaceComment(text, 'PublicEndpoint');
  const dns = interfaceComment(text, 'ClientDNS');
  if (dns !== undefined) {
    try {
      out.dns = parseDns(dns, { key: 'ClientDNS' });
    } catch {
      /* ignored, see above */
    }
  }
  out.allowedIps = list(interfaceComment(text, 'ClientAllowedIPs'));
  const keepalive = Number(interfaceComment(text, 'ClientPersistentKeepalive'));
  if (Number.isInteger(keepalive) && keepalive > 0 && keepalive <= 65535) out.persistentKeepalive = keepalive;
  return out;
}
