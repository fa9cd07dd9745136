// Edits of one peer's section in place, enabled or disabled (`#~`-prefixed, ../peers/disabled.ts), keeping every
// other byte of the file. The console's rename and address change go through here.
import { DISABLED_PREFIX, DisabledPeer, scanDisabled } from '../peers/disabled';
import { lineEnding, PeerBlock, scanPeers, toFileText } from '../peers/sections';

/** One peer's place in the file, whichever form it is in. */
export interface PeerPlace {
  start: number;
  end: number;
  disabled: boolean;
  name?: string;
}

/** Every section of `publicKey`, enabled and disabled. */
export function findPeer(text: string, publicKey: string): { enabled: PeerBlock[]; disabled: DisabledPeer[] } {
  return {
    enabled: scanPeers(text).filter((b) => b.publicKey === publicKey),
    disabled: scanDisabled(text).filter((b) => b.publicKey === publicKey),
  };
}

const NAME_LINE = /^\s*#\s*Name\s*=/i;
const ALLOWED_LINE = /^\s*AllowedIPs\s*=/i;

/** Applies `edit` to the section's lines, as they read when enabled, and puts them back in the same form. */
function editLines(text: string, place: PeerPlace, edit: (lines: string[], cr: string) => string[]): string {
  const all = text.split('\n');
  const strip = (l: string) => (place.disabled ? l.slice(DISABLED_PREFIX.length) : l);
  const wrap = (l: string) => (place.disabled ? DISABLED_PREFIX + l : l);
  const cr = lineEnding(text) === '\r\n' ? '\r' : '';
  const lines = edit(all.slice(place.start, place.end).map(strip), cr).map(wrap);
  all.splice(place.start, place.end - place.start, ...lines);
  return all.join('\n');
}

/** Sets the `# Name = ...` line (added after the header when missing). */
export function renamePeer(text: string, place: PeerPlace, name: string): string {
  return editLines(text, place, (lines, cr) => {
    const line = toFileText(`# Name = ${name}`) + cr;
    const at = lines.findIndex((l) => NAME_LINE.test(l));
    if (at >= 0) lines[at] = line;
    else lines.splice(1, 0, line);
    return lines;
  });
}

/** Replaces every AllowedIPs line of the section with one, where the first was (or at the end). */
export function setPeerAllowedIps(text: string, place: PeerPlace, allowedIps: string[]): string {
  return editLines(text, place, (lines, cr) => {
    const first = lines.findIndex((l) => ALLOWED_LINE.test(l.split('#')[0]));
    const kept = lines.filter((l) => !ALLOWED_LINE.test(l.split('#')[0]));
    const line = `AllowedIPs = ${allowedIps.join(', ')}${cr}`;
    kept.splice(first >= 0 ? first : kept.length, 0, line);
    return kept;
  });
}

/** The PresharedKey of a section's text (for a peer being enabled), if any. */
export function sectionPresharedKey(text: string, place: PeerPlace): string | undefined {
  const all = text.split('\n').slice(place.start, place.end);
  for (const raw of all) {
    const l = (place.disabled ? raw.slice(DISABLED_PREFIX.length) : raw).split('#')[0];
    const m = /^\s*PresharedKey\s*=\s*(\S+)\s*$/i.exec(l);
    if (m) return m[1];
  }
  return undefined;
}
