// `wiretun strip CONFIG_FILE | INTERFACE`: prints the wg(8) part of a wg-quick config, exactly as
// `wg-quick strip` does, e.g. for `wg syncconf wg0 <(wiretun strip wg0)`. Unlike wg-quick it first checks the
// whole file, so a mistake is reported with its line instead of surfacing later inside `wg`.
import { readConfigFile } from '../config/locate';
import { parseConfig } from '../config/parse';
import { stripConfig } from '../config/strip';
import { ConfigError } from '../config/wgquick';

const USAGE = 'Usage: wiretun strip [ CONFIG_FILE | INTERFACE ]\n';

function writeOut(text: string): Promise<void> {
  // latin1 both ways keeps the file's bytes as they were, whatever their encoding.
  return new Promise((resolve, reject) => {
    process.stdout.write(Buffer.from(text, 'latin1'), (err) => (err ? reject(err) : resolve()));
  });
}

export async function run(argv: string[]): Promise<number> {
  if (argv.length !== 1 || argv[0] === '-h' || argv[0] === '--help') {
    process.stderr.write(USAGE);
    return argv.length === 1 ? 0 : 1;
  }
  try {
    const located = await readConfigFile(argv[0]);
    for (const w of located.warnings) process.stderr.write(`${w}\n`);
    const { warnings } = parseConfig(located.data.toString('utf8'), { file: located.path });
    for (const w of warnings) process.stderr.write(`wiretun: warning: ${w}\n`);
    await writeOut(stripConfig(located.data.toString('latin1'), located.path));
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`wiretun: ${err.message}\n`);
    return 1;
  }
}
