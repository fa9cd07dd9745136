// Clients of `wiretun proxy`'s listeners for proxy-load.test.ts, run with node in the client namespace. Plain
// JavaScript so no build step is involved. Prints one JSON line with the results.
// The mode is the argument; its JSON comes on stdin (a probe list with a 1 MB header is too long for argv).
//   load JSON   {port, target, targetPort, count}: opens `count` SOCKS5 CONNECTs to target:targetPort (an echo
//               server) at once; once every one has its success reply (all open together), each sends its own
//               line, half-closes and reads it back. Result: {established, echoed, failures: [first few]}.
//   probe JSON  [{name, port, send?: hex, end?: bool, drip?: {hex, everyMs}, limitMs}]: one connection per
//               probe, all at once; sends `send` (then half-closes with `end`), or drips `drip` a byte at a
//               time; records what came back and when the listener closed. Result: [{name, reply (hex, first
//               256 bytes), closed, ms, error?}].
'use strict';
const net = require('node:net');

const mode = process.argv[2];
let cfg;

function socksConnect(port, host, targetPort) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const ip = Buffer.from(host.split('.').map(Number));
    const req = Buffer.concat([Buffer.from([5, 1, 0, 5, 1, 0, 1]), ip, Buffer.from([targetPort >> 8, targetPort & 0xff])]);
    let got = Buffer.alloc(0);
    const onData = (d) => {
      got = Buffer.concat([got, d]);
      if (got.length < 2 + 10) return;
      s.off('data', onData);
      if (got[0] !== 5 || got[1] !== 0 || got[2] !== 5 || got[3] !== 0) return reject(new Error(`bad replies ${got.toString('hex')}`));
      resolve(s);
    };
    s.on('data', onData);
    s.once('error', reject);
    s.once('close', () => reject(new Error(`closed after ${got.length} reply bytes`)));
    s.write(req);
  });
}

function echo(s, line) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    s.removeAllListeners('close');
    s.on('data', (d) => chunks.push(d));
    s.once('end', () => {
      const text = Buffer.concat(chunks).toString();
      text === line ? resolve() : reject(new Error(`echoed ${JSON.stringify(text.slice(0, 60))}`));
    });
    s.once('error', reject);
    s.end(line);
  });
}

async function load() {
  const failures = [];
  const note = (e) => failures.length < 5 && failures.push(String(e.message || e));
  const opened = await Promise.allSettled(Array.from({ length: cfg.count }, () => socksConnect(cfg.port, cfg.target, cfg.targetPort)));
  const sockets = opened.filter((r) => r.status === 'fulfilled').map((r) => r.value);
  opened.filter((r) => r.status === 'rejected').forEach((r) => note(r.reason));
  const echoed = await Promise.allSettled(sockets.map((s, i) => echo(s, `connection ${i} of ${cfg.count}: ${'x'.repeat(i % 97)}\n`)));
  echoed.filter((r) => r.status === 'rejected').forEach((r) => note(r.reason));
  for (const s of sockets) s.destroy();
  return { established: sockets.length, echoed: echoed.filter((r) => r.status === 'fulfilled').length, failures };
}

function probe(p) {
  return new Promise((resolve) => {
    const start = Date.now();
    const s = net.connect(p.port, '127.0.0.1');
    const chunks = [];
    let error;
    let drip;
    const done = (closed) => {
      clearInterval(drip);
      clearTimeout(limit);
      s.destroy();
      const reply = Buffer.concat(chunks).subarray(0, 256).toString('hex');
      resolve({ name: p.name, reply, closed, ms: Date.now() - start, ...(error ? { error } : {}) });
    };
    const limit = setTimeout(() => done(false), p.limitMs);
    s.on('data', (d) => chunks.push(d));
    s.on('error', (e) => (error = e.code || e.message));
    s.on('close', () => done(true));
    s.on('connect', () => {
      if (p.send) s.write(Buffer.from(p.send, 'hex'), () => p.end && s.end());
      if (p.drip) {
        const bytes = Buffer.from(p.drip.hex, 'hex');
        let i = 0;
        drip = setInterval(() => i < bytes.length && !s.destroyed && s.write(bytes.subarray(i, ++i)), p.drip.everyMs);
      }
    });
  });
}

async function main() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  cfg = JSON.parse(Buffer.concat(chunks).toString());
  const result = mode === 'load' ? await load() : await Promise.all(cfg.map(probe));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
