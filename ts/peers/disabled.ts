// A disabled peer stays in its config file, commented out with `#~` before each of its lines:
//
//   #~[Peer]
//   #~# Name = alice
//   #~PublicKey = ...
//   #~AllowedIPs = 10.0.0.2/32
//
// wg-quick and `wg setconf` read those lines as comments, so `up` of the file leaves the peer out, and the file
// alone still says everything about it: `peer add` keeps its address and name taken, and enabling it strips the
// prefix and gives back the exact bytes it had. The prefix is unusual enough not to collide with a person's own
// comments, which a plain `#` would make ambiguous on the way back.
import { PeerBlock, scanPeers } from './sections';

export const DISABLED_PREFIX = '#~';

export interface DisabledPeer {
  /** Lines [start, end) of the file. */
  start: number;
  end: number;
  publicKey?: string;
  name?: string;
  allowedIps: string[];
}

const lines = (text: string) => text.split('\n');
const isDisabledHeader = (line: string) => /^#~\s*\[peer\]/i.test(line);

/** Every disabled peer of the file, in order. */
export function scanDisabled(text: string): DisabledPeer[] {
  const all = lines(text);
  const out: DisabledPeer[] = [];
  for (let i = 0; i < all.length; i++) {
    if (!isDisabledHeader(all[i])) continue;
    let end = i + 1;
    while (end < all.length && all[end].startsWith(DISABLED_PREFIX) && !isDisabledHeader(all[end])) end++;
    const inner = all.slice(i, end).map((l) => l.slice(DISABLED_PREFIX.length)).join('\n');
    const [block] = scanPeers(inner);
    const allowedIps = inner
      .split('\n')
      .map((l) => /^\s*AllowedIPs\s*=([^#]*)/i.exec(l)?.[1])
      .filter((v): v is string => v !== undefined)
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter(Boolean);
    out.push({ start: i, end, publicKey: block?.publicKey, name: block?.name, allowedIps });
    i = end - 1;
  }
  return out;
}

/** The file with the given [Peer] sections commented out in place (see the file comment). */
export function disableSections(text: string, blocks: PeerBlock[]): string {
  const all = lines(text);
  for (const b of blocks) {
    for (let i = b.start; i < b.end; i++) all[i] = DISABLED_PREFIX + all[i];
  }
  return all.join('\n');
}

/** The file with a disabled peer restored to the bytes it had before it was disabled. */
export function enableSection(text: string, peer: DisabledPeer): string {
  const all = lines(text);
  for (let i = peer.start; i < peer.end; i++) all[i] = all[i].slice(DISABLED_PREFIX.length);
  return all.join('\n');
}

/** The file without a disabled peer (and the blank line before it, as removeSections does for live ones). */
export function deleteDisabled(text: string, peer: DisabledPeer): string {
  const all = lines(text);
  const from = peer.start > 0 && all[peer.start - 1].trim() === '' ? peer.start - 1 : peer.start;
  all.splice(from, peer.end - from);
  return all.join('\n');
}
