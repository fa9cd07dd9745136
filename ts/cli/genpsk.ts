// `wiretun genpsk`: a new preshared key, base64, as `wg genpsk` prints it.
import { native } from '../native';
import { noArguments } from './common';

const USAGE = `Usage: wiretun genpsk

  Prints a new random preshared key in base64 (same format as \`wg genpsk\`).
`;

export async function run(argv: string[]): Promise<number> {
  const stop = noArguments('genpsk', argv, USAGE);
  if (stop !== undefined) return stop;
  process.stdout.write(`${native().generatePresharedKey().toString('base64')}\n`);
  return 0;
}
