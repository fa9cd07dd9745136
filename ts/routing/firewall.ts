// The firewall part of wg-quick's default-route handling, as text for `nft -f` or `iptables-restore -n`.
// Per family: drop packets addressed to the tunnel's own addresses that arrive on another interface (so that
// nobody on the LAN can reach them), and copy the fwmark of the tunnel's UDP packets into conntrack and back,
// so replies to the encrypted traffic keep bypassing the tunnel's table.
import { Family } from '../config/ip';

export function nftTable(iface: string): string {
  return `wg-quick-${iface}`;
}

/** The nft script wg-quick's add_default writes, byte for byte (including its trailing spaces). */
export function nftAddScript(family: Family, iface: string, table: number, addresses: string[]): string {
  const pf = family === 4 ? 'ip' : 'ip6';
  const t = `${pf} ${nftTable(iface)}`;
  let s = `add table ${t}\n`;
  s += `add chain ${t} preraw { type filter hook prerouting priority -300; }\n`;
  s += `add chain ${t} premangle { type filter hook prerouting priority -150; }\n`;
  s += `add chain ${t} postmangle { type filter hook postrouting priority -150; }\n`;
  for (const a of addresses) {
    s += `add rule ${t} preraw iifname != "${iface}" ${pf} daddr ${a} fib saddr type != local drop\n`;
  }
  s += `add rule ${t} postmangle meta l4proto udp mark ${table} ct mark set mark \n`;
  s += `add rule ${t} premangle meta l4proto udp meta mark set ct mark \n`;
  return s;
}

function marker(iface: string): string {
  return `-m comment --comment "wg-quick(8) rule for ${iface}"`;
}

/** The iptables-restore input wg-quick uses when nft is missing. */
export function iptablesAddScript(iface: string, table: number, addresses: string[]): string {
  const m = marker(iface);
  let s = '*raw\n';
  for (const a of addresses) s += `-I PREROUTING ! -i ${iface} -d ${a} -m addrtype ! --src-type LOCAL -j DROP ${m}\n`;
  s += 'COMMIT\n*mangle\n';
  s += `-I POSTROUTING -m mark --mark ${table} -p udp -j CONNMARK --save-mark ${m}\n`;
  s += `-I PREROUTING -p udp -j CONNMARK --restore-mark ${m}\nCOMMIT\n`;
  return s;
}

/** `delete table ...` for each of the interface's tables in `nft list tables` output, or '' if none. */
export function nftDeleteScript(iface: string, listTables: string[]): string {
  return listTables
    .map((l) => l.replace(/^[ \t]+|[ \t]+$/g, ''))
    .filter((l) => l.endsWith(` ${nftTable(iface)}`))
    .map((l) => `delete ${l}\n`)
    .join('');
}

/**
 * The iptables-restore input that deletes the interface's rules from `iptables-save` output: table headers,
 * COMMITs and the marked `-A` rules turned into `-D`. '' when there is no marked rule.
 */
export function iptablesDeleteScript(iface: string, save: string): string {
  let out = '';
  let found = false;
  for (const raw of save.split('\n')) {
    const line = raw.replace(/^[ \t]+|[ \t]+$/g, '');
    const ours = line.startsWith('-A ') && line.includes(marker(iface));
    if (!(line.startsWith('*') || line === 'COMMIT' || ours)) continue;
    if (ours) found = true;
    out += (line.startsWith('-A') ? '-D' + line.slice(2) : line) + '\n';
  }
  return found ? out : '';
}
