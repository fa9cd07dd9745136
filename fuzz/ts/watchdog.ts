// Catches an input that never returns: a worker thread watches a counter the main thread bumps around each
// input; if one input runs longer than the limit, the worker saves it and kills the process (exit 137), since
// a synchronous loop in the main thread cannot be interrupted any other way.
import { Worker } from 'node:worker_threads';

const MAX_BYTES = 1 << 20;

const WORKER = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');
const state = new Int32Array(workerData.sab, 0, 2);
const bytes = new Uint8Array(workerData.sab, 8);
let seen = -1;
let since = Date.now();
setInterval(() => {
  const seq = Atomics.load(state, 0);
  if (seq !== seen || seq % 2 === 0) {
    seen = seq;
    since = Date.now();
    return;
  }
  if (Date.now() - since < workerData.limitMs) return;
  const file = path.join(workerData.dir, 'hang-' + Date.now());
  fs.writeFileSync(file, Buffer.from(bytes.slice(0, Atomics.load(state, 1))));
  process.stderr.write('\\n*** one input ran for more than ' + workerData.limitMs + ' ms; saved as ' + file + '\\n');
  process.kill(process.pid, 'SIGKILL');
}, 250);
`;

export class Watchdog {
  private readonly sab = new SharedArrayBuffer(8 + MAX_BYTES);
  private readonly state = new Int32Array(this.sab, 0, 2);
  private readonly bytes = new Uint8Array(this.sab, 8);
  private readonly worker: Worker;
  private readonly encoder = new TextEncoder();

  constructor(dir: string, limitMs: number) {
    this.worker = new Worker(WORKER, { eval: true, workerData: { sab: this.sab, dir, limitMs } });
    this.worker.unref();
  }

  /** The counter is odd while an input runs. */
  begin(input: string): void {
    const { written } = this.encoder.encodeInto(input, this.bytes);
    Atomics.store(this.state, 1, written);
    Atomics.add(this.state, 0, 1);
  }

  end(): void {
    Atomics.add(this.state, 0, 1);
  }

  stop(): void {
    void this.worker.terminate();
  }
}
