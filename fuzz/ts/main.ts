// node fuzz/target/ts/fuzz.js TARGET SECONDS [--corpus DIR] [--seeds DIR]... [--artifacts DIR] [--seed N]
// node fuzz/target/ts/fuzz.js TARGET --replay FILE...      (exit 1 if any input is still a finding)
// Built and run by fuzz/run.sh.
import { fuzz, replay } from './engine';
import { TARGETS } from './targets';

function usage(): never {
  console.error(`usage: fuzz.js ${Object.keys(TARGETS).join('|')} SECONDS [--corpus DIR] [--seeds DIR] [--artifacts DIR] [--seed N]`);
  console.error('       fuzz.js TARGET --replay FILE...');
  process.exit(2);
}

async function main(argv: string[]): Promise<void> {
  const target = TARGETS[argv[0]];
  if (!target) usage();
  if (argv[1] === '--replay') {
    process.exit((await replay(target, argv.slice(2))) ? 0 : 1);
  }
  const seconds = Number(argv[1]);
  if (!Number.isFinite(seconds) || seconds <= 0) usage();
  const o = { seconds, corpusDir: `corpus/${target.name}`, seedDirs: [] as string[], artifactsDir: `artifacts/${target.name}`, seed: Date.now() % 2 ** 31 };
  for (let i = 2; i < argv.length; i += 2) {
    const value = argv[i + 1];
    if (value === undefined) usage();
    if (argv[i] === '--corpus') o.corpusDir = value;
    else if (argv[i] === '--seeds') o.seedDirs.push(value);
    else if (argv[i] === '--artifacts') o.artifactsDir = value;
    else if (argv[i] === '--seed') o.seed = Number(value);
    else usage();
  }
  await fuzz(target, o);
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err);
  process.exit(1);
});
