// Edits a wg-quick file as text, so that everything we do not touch (comments, blank lines, key spelling,
// order) stays byte-for-byte. The text is the file decoded as latin1, which maps every byte to one char and
// back; `toFileText` turns our own (UTF-8) additions into that form.
//
// Lines are read with the parser's rules (ts/config/parse.ts): a `#` starts a comment, a trimmed line starting
// with `[` is a section header, wg keys match case-insensitively with all whitespace removed.

/** One [Peer] section: lines [start, end) of the file, `end` just past its last key or `# Name` line. */
export interface PeerBlock {
  start: number;
  end: number;
  publicKey?: string;
  /** From a `# Name = ...` comment line inside the section (decoded as UTF-8). */
  name?: string;
}

const NAME_LINE = /^\s*#\s*Name\s*=\s*(.*?)\s*$/i;
const PUBLIC_ENDPOINT_LINE = /^\s*#\s*PublicEndpoint\s*=\s*(.*?)\s*$/i;

export function toFileText(utf8: string): string {
  return Buffer.from(utf8, 'utf8').toString('latin1');
}

function fromFileText(latin1: string): string {
  return Buffer.from(latin1, 'latin1').toString('utf8');
}

function splitLines(text: string): string[] {
  return text.split('\n');
}

/** The section a line opens (lower-cased, e.g. `[peer]`), or undefined when it is not a header. */
function header(line: string): string | undefined {
  const trimmed = line.split('#')[0].trim();
  return trimmed.startsWith('[') ? trimmed.toLowerCase() : undefined;
}

/** The wg-style key and value of a line, or undefined for blank and comment-only lines. */
function keyValue(line: string): { key: string; value: string } | undefined {
  const content = line.split('#')[0];
  const eq = content.indexOf('=');
  if (eq < 0) return undefined;
  return { key: content.slice(0, eq).replace(/\s+/g, '').toLowerCase(), value: content.slice(eq + 1).replace(/\s+/g, '') };
}

/** Every [Peer] section of the file, in order. */
export function scanPeers(text: string): PeerBlock[] {
  const lines = splitLines(text);
  const blocks: PeerBlock[] = [];
  let current: PeerBlock | undefined;
  lines.forEach((line, i) => {
    const h = header(line);
    if (h !== undefined) {
      current = h === '[peer]' ? { start: i, end: i + 1 } : undefined;
      if (current) blocks.push(current);
      return;
    }
    if (!current) return;
    const name = NAME_LINE.exec(line);
    if (name && current.name === undefined) {
      current.name = fromFileText(name[1]);
      current.end = i + 1;
      return;
    }
    const kv = keyValue(line);
    if (!kv) return;
    current.end = i + 1;
    if (kv.key === 'publickey') current.publicKey = kv.value;
  });
  return blocks;
}

/** A `# PublicEndpoint = host[:port]` comment in [Interface]: where clients reach this server. */
export function publicEndpoint(text: string): string | undefined {
  let inInterface = false;
  for (const line of splitLines(text)) {
    const h = header(line);
    if (h !== undefined) inInterface = h === '[interface]';
    const m = inInterface ? PUBLIC_ENDPOINT_LINE.exec(line) : null;
    if (m && m[1]) return fromFileText(m[1]);
  }
  return undefined;
}

export interface NewPeerSection {
  name?: string;
  publicKey: string;
  presharedKey?: string;
  allowedIps: string[];
}

/** A name must fit on its comment line and read back the same. */
export function checkName(name: string): string | undefined {
  if (name.trim() === '') return 'the name is empty';
  if (name !== name.trim()) return 'the name cannot start or end with whitespace';
  if (/[\r\n#\0]/.test(name)) return 'the name cannot contain "#", NUL or a line break';
  return undefined;
}

/** The [Peer] section for a new peer, lines joined with `eol`, ending in `eol`. */
export function peerSectionText(p: NewPeerSection, eol = '\n'): string {
  const lines = ['[Peer]'];
  if (p.name !== undefined) lines.push(`# Name = ${p.name}`);
  lines.push(`PublicKey = ${p.publicKey}`);
  if (p.presharedKey) lines.push(`PresharedKey = ${p.presharedKey}`);
  if (p.allowedIps.length) lines.push(`AllowedIPs = ${p.allowedIps.join(', ')}`);
  return lines.join(eol) + eol;
}

/** The file's line ending: CRLF if it uses it, else LF. */
export function lineEnding(text: string): string {
  return text.includes('\r\n') ? '\r\n' : '\n';
}

/** The file with `section` (already in file text form) appended after one blank line; the rest unchanged. */
export function appendSection(text: string, section: string): string {
  const eol = lineEnding(text);
  if (text === '') return section;
  const terminated = text.endsWith('\n') ? text : text + eol;
  // One blank line between sections, unless the file already ends with one.
  const gap = /(^|\n)[ \t\r]*\n$/.test(terminated) ? '' : eol;
  return terminated + gap + section;
}

/**
 * The file without the given sections. Each goes from its header to its last key (or `# Name`) line, plus the
 * one blank line before the header that separated it. Comments after its last key stay: they usually describe
 * what follows.
 */
export function removeSections(text: string, blocks: PeerBlock[]): string {
  const lines = splitLines(text);
  const drop = new Set<number>();
  for (const b of blocks) {
    for (let i = b.start; i < b.end; i++) drop.add(i);
    if (b.start > 0 && lines[b.start - 1].trim() === '' && !drop.has(b.start - 1)) drop.add(b.start - 1);
  }
  return lines.filter((_, i) => !drop.has(i)).join('\n');
}
