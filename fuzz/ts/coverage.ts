// Block coverage from V8 through the in-process inspector (synchronous for a session in the same thread).
// In binary mode each take reports the functions that ran since the last one, with the nested blocks that did
// not run listed at count 0. A block is "covered" once a report shows its function ran without listing it.
import { Session } from 'node:inspector';
import { pathToFileURL } from 'node:url';

interface Range {
  startOffset: number;
  endOffset: number;
  count: number;
}

interface ScriptCoverage {
  url: string;
  functions: { ranges: Range[] }[];
}

export class Coverage {
  private readonly session = new Session();
  private readonly url: string;
  /** Blocks ever reported as not run, by function. */
  private readonly known = new Map<string, Set<string>>();
  private readonly covered = new Set<string>();

  constructor(file: string) {
    this.url = pathToFileURL(file).href;
    this.session.connect();
    this.post('Profiler.enable');
    this.post('Profiler.startPreciseCoverage', { callCount: false, detailed: true });
  }

  get blocks(): number {
    return this.covered.size;
  }

  /** Takes the coverage since the last call; returns how many blocks are newly covered. */
  collect(): number {
    const { result } = this.post('Profiler.takePreciseCoverage') as { result: ScriptCoverage[] };
    let fresh = 0;
    const add = (k: string) => {
      if (this.covered.has(k)) return;
      this.covered.add(k);
      fresh++;
    };
    for (const script of result) {
      if (script.url !== this.url) continue;
      for (const fn of script.functions) {
        const [whole, ...nested] = fn.ranges;
        if (!whole || whole.count === 0) continue;
        const id = `${whole.startOffset}`;
        add(id);
        const known = this.known.get(id) ?? new Set<string>();
        this.known.set(id, known);
        const notRun = new Set<string>();
        for (const r of nested) {
          const k = `${id}:${r.startOffset}-${r.endOffset}`;
          if (r.count === 0) {
            notRun.add(k);
            known.add(k);
          } else add(k);
        }
        for (const k of known) if (!notRun.has(k)) add(k);
      }
    }
    return fresh;
  }

  private post(method: string, params?: object): unknown {
    let out: unknown;
    let failure: Error | null = null;
    this.session.post(method, params ?? {}, (err, res) => {
      failure = err;
      out = res;
    });
    if (failure) throw failure;
    return out;
  }
}
