// `wiretun pubkey`: private key (base64) on stdin, public key (base64) on stdout, as `wg pubkey` does.
import { native } from '../native';
import { noArguments } from './common';

const USAGE = `Usage: wiretun pubkey < private.key

  Reads a base64 private key on stdin and prints its public key in base64 (same as \`wg pubkey\`).
`;

// 32 bytes in base64 are always 43 characters and one '='; anything else is not a WireGuard key.
const KEY_B64 = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** Decodes a base64 WireGuard key; undefined when the text is not exactly one. Never echoes the input. */
export function decodeKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  return KEY_B64.test(trimmed) ? Buffer.from(trimmed, 'base64') : undefined;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function run(argv: string[]): Promise<number> {
  const stop = noArguments('pubkey', argv, USAGE);
  if (stop !== undefined) return stop;
  if (process.stdin.isTTY) process.stderr.write('wiretun pubkey: reading a private key from stdin...\n');
  const key = decodeKey(await readStdin());
  if (!key) {
    // The input may be a private key with a typo: say what was expected, not what was read.
    process.stderr.write('wiretun pubkey: stdin is not a base64 private key (expected 44 characters encoding 32 bytes, as `wiretun genkey` prints)\n');
    return 1;
  }
  process.stdout.write(`${native().publicKeyFromPrivate(key).toString('base64')}\n`);
  return 0;
}
