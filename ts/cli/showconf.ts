// `wiretun showconf IF`: the running configuration in wg's config format, the same text as `wg showconf`
// (private key included, as wg does: this is the command for saving a configuration).
import { errorText, loadDevice } from './wg-device';
import { formatShowconf } from './wg-format';

const USAGE = 'Usage: wiretun showconf <interface>\n';

export async function run(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === '-h' || argv[0] === '--help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (argv.length !== 1 || argv[0].startsWith('-')) {
    process.stderr.write(`wiretun showconf: ${argv.length ? `unexpected \`${argv.slice(1).join(' ') || argv[0]}'` : 'missing <interface>'}\n${USAGE}`);
    return 1;
  }
  try {
    process.stdout.write(formatShowconf(await loadDevice(argv[0])));
    return 0;
  } catch (err) {
    process.stderr.write(`wiretun showconf: Unable to access interface: ${errorText(err)}\n`);
    return 1;
  }
}
