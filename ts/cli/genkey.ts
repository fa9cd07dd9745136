// `wiretun genkey`: a new private key, base64, as `wg genkey` prints it.
import { fstatSync } from 'node:fs';
import { native } from '../native';
import { noArguments } from './common';

const USAGE = `Usage: wiretun genkey

  Prints a new random private key in base64 (same format as \`wg genkey\`).
  Example: wiretun genkey | tee private.key | wiretun pubkey > public.key
`;

export async function run(argv: string[]): Promise<number> {
  const stop = noArguments('genkey', argv, USAGE);
  if (stop !== undefined) return stop;
  warnIfReadableByOthers();
  process.stdout.write(`${native().generatePrivateKey().toString('base64')}\n`);
  return 0;
}

/** Like wg genkey: a key redirected into a file others can read is worth a warning, not a refusal. */
function warnIfReadableByOthers(): void {
  try {
    const st = fstatSync(1);
    if (st.isFile() && (st.mode & 0o007) !== 0) {
      process.stderr.write('Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.\n');
    }
  } catch {
    // stdout closed or not stat-able: nothing to warn about.
  }
}
