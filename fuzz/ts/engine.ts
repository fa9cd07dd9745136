// A small coverage-guided fuzzer for TypeScript parsers. Jazzer.js would be the usual choice, but its
// prebuilt addon needs glibc 2.38 and older releases download theirs from GitHub at install time.
//
// Inputs are strings. Each batch is part fresh fast-check samples (grammar-shaped, see targets.ts), part
// mutations of the corpus. Coverage is V8's own block coverage (inspector Profiler, binary mode): a block
// counts once it runs where it had been seen not to. Coverage is read once per batch, and only a batch that
// found something is replayed input by input to see which inputs go into the corpus.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { Coverage } from './coverage';
import { mutate, Random } from './mutate';
import { Watchdog } from './watchdog';

export interface Target {
  name: string;
  /** Fresh inputs, shaped like what the parser expects. */
  generate: fc.Arbitrary<string>;
  /** Tokens mutations insert. */
  dictionary: string[];
  /** Throws on a finding. */
  run(input: string): void | Promise<void>;
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
}

export interface Options {
  seconds: number;
  corpusDir: string;
  seedDirs: string[];
  artifactsDir: string;
  seed: number;
}

const BATCH = 64;
const FRESH_PER_BATCH = 12;
const MAX_CORPUS = 5000;
const MAX_INPUT = 16_384;
const HANG_MS = 10_000;

function describe(err: unknown): string {
  const e = err as Error & { cause?: unknown };
  const cause = e?.cause === undefined ? '' : `\ncaused by: ${describe(e.cause)}`;
  return `${e?.stack ?? String(err)}${cause}`;
}

/** Files hold inputs as UTF-8, or as a JSON string when the input is not well-formed UTF-16. */
export function readInput(file: string): string {
  const text = fs.readFileSync(file, 'utf8');
  return file.endsWith('.json') ? (JSON.parse(text) as string) : text;
}

function writeInput(dir: string, prefix: string, input: string): string {
  const wellFormed = !/\p{Surrogate}/u.test(input);
  const name = `${prefix}${createHash('sha1').update(input).digest('hex')}${wellFormed ? '' : '.json'}`;
  const file = path.join(dir, name);
  fs.writeFileSync(file, wellFormed ? input : JSON.stringify(input));
  return file;
}

function loadDir(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .sort()
    .map((f) => readInput(path.join(dir, f)));
}

export async function fuzz(target: Target, o: Options): Promise<void> {
  fs.mkdirSync(o.corpusDir, { recursive: true });
  fs.mkdirSync(o.artifactsDir, { recursive: true });
  const rnd = new Random(o.seed);
  const coverage = new Coverage(__filename);
  const watchdog = new Watchdog(o.artifactsDir, HANG_MS);
  let execs = 0;
  const exec = async (input: string) => {
    watchdog.begin(input);
    try {
      await target.run(input);
    } catch (err) {
      const file = writeInput(o.artifactsDir, 'crash-', input);
      console.error(`\n*** ${target.name}: finding, input saved as ${file}\n${describe(err)}`);
      console.error(`replay: node fuzz/target/ts/fuzz.js ${target.name} --replay ${file}`);
      process.exit(1);
    }
    watchdog.end();
    execs++;
  };

  await target.setup?.();
  const corpus: string[] = [];
  for (const input of [...o.seedDirs.flatMap(loadDir), ...loadDir(o.corpusDir)]) {
    await exec(input);
    if (coverage.collect() > 0 || corpus.length === 0) corpus.push(input);
  }
  console.log(`${target.name}: ${corpus.length} corpus inputs with coverage, seed ${o.seed}`);

  const start = Date.now();
  const deadline = start + o.seconds * 1000;
  let lastReport = start;
  while (Date.now() < deadline) {
    const fresh = fc.sample(target.generate, { numRuns: FRESH_PER_BATCH, seed: rnd.int(2 ** 31) });
    const batch = [...fresh];
    while (batch.length < BATCH) {
      const base = corpus.length ? corpus[rnd.int(corpus.length)] : '';
      batch.push(mutate(base, rnd, corpus, target.dictionary).slice(0, MAX_INPUT));
    }
    for (const input of batch) await exec(input);
    if (coverage.collect() > 0) {
      // Something in the batch was new: find out what, one input at a time.
      for (const input of batch) {
        await exec(input);
        if (coverage.collect() > 0 && corpus.length < MAX_CORPUS) {
          corpus.push(input);
          writeInput(o.corpusDir, '', input);
        }
      }
    }
    if (Date.now() - lastReport >= 10_000) {
      lastReport = Date.now();
      const secs = (lastReport - start) / 1000;
      console.log(
        `${target.name}: ${execs} execs (${Math.round(execs / secs)}/s), corpus ${corpus.length}, ` +
          `${coverage.blocks} blocks, ${Math.round(secs)}s`,
      );
    }
  }
  await target.teardown?.();
  watchdog.stop();
  console.log(`${target.name}: done, ${execs} execs in ${o.seconds}s, corpus ${corpus.length}, no findings`);
}

/** Runs the target once on each file; true when none of them throws. */
export async function replay(target: Target, files: string[]): Promise<boolean> {
  await target.setup?.();
  let ok = true;
  for (const file of files) {
    try {
      await target.run(readInput(file));
      console.log(`${file}: ok`);
    } catch (err) {
      ok = false;
      console.error(`${file}: ${describe(err)}`);
    }
  }
  await target.teardown?.();
  return ok;
}
