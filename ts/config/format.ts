// Writes a WgQuickConfig back as wg-quick text. parseConfig(formatConfig(c)) gives c back, and formatting that
// again gives the same text. Key order follows `wg showconf` and wg-quick's save_config.
import { PeerUpdate } from './model';
import { ConfigError, WgQuickConfig } from './wgquick';

function line(key: string, value: string | number): string {
  return `${key} = ${value}`;
}

/** A value that the parser would read back differently cannot be written. */
function checkWritable(key: string, value: string): string {
  // Only \n ends a line for wg-quick (bash `read`) and for parseConfig, so a \r inside a value reads back as is.
  if (/[#\n]/.test(value)) throw new ConfigError(`${key} cannot contain "#" or a line break in a wg-quick file`, { key });
  if (value !== value.trim()) throw new ConfigError(`${key} cannot start or end with whitespace in a wg-quick file`, { key });
  return value;
}

function fwmarkText(mark: number): string {
  return mark === 0 ? 'off' : `0x${mark.toString(16)}`;
}

function interfaceLines(c: WgQuickConfig): string[] {
  const d = c.device;
  const out = ['[Interface]'];
  if (d.privateKey) out.push(line('PrivateKey', d.privateKey.toString('base64')));
  if (d.listenPort !== undefined) out.push(line('ListenPort', d.listenPort));
  if (d.fwmark !== undefined) out.push(line('FwMark', fwmarkText(d.fwmark)));
  for (const a of c.addresses) out.push(line('Address', a));
  if (c.dns.length || c.dnsSearch.length) out.push(line('DNS', [...c.dns, ...c.dnsSearch].join(', ')));
  if (c.mtu !== undefined) out.push(line('MTU', c.mtu));
  if (c.table !== undefined) out.push(line('Table', c.table));
  if (c.saveConfig) out.push(line('SaveConfig', 'true'));
  const hooks: [string, string[]][] = [
    ['PreUp', c.preUp],
    ['PostUp', c.postUp],
    ['PreDown', c.preDown],
    ['PostDown', c.postDown],
  ];
  for (const [key, list] of hooks) {
    for (const h of list) out.push(h === '' ? `${key} =` : line(key, checkWritable(key, h)));
  }
  return out;
}

/** A peer as `wg setconf` reads it; removal and removeAllowedIps have no wg-quick spelling and are not written. */
function peerLines(p: PeerUpdate): string[] {
  const out = ['[Peer]', line('PublicKey', p.publicKey.toString('base64'))];
  if (p.presharedKey) out.push(line('PresharedKey', p.presharedKey.toString('base64')));
  if (p.allowedIps.length) out.push(line('AllowedIPs', p.allowedIps.join(', ')));
  if (p.endpoint !== undefined) out.push(line('Endpoint', p.endpoint));
  if (p.persistentKeepalive !== undefined) {
    out.push(line('PersistentKeepalive', p.persistentKeepalive === 0 ? 'off' : p.persistentKeepalive));
  }
  return out;
}

/** wg-quick text for the config: [Interface], then one [Peer] per peer, separated by blank lines. */
export function formatConfig(c: WgQuickConfig): string {
  const blocks = [interfaceLines(c), ...c.device.peers.map(peerLines)];
  return blocks.map((b) => b.join('\n') + '\n').join('\n');
}
