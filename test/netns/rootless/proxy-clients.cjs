// Clients of `wiretun proxy`'s listeners for proxy-load.test.ts, run with node in the client namespace. Plain
// JavaScript so no build step is involved. Prints one JSON line with the results.
// The mode is the argument; its JSON comes on stdin (a probe list with a 1 MB header is too long for argv).
//   load JSON   {kind: socks|http|forward, port, target, targetPort, count}: opens `count` connections to an
//               echo server at target:targetPort at once (SOCKS5 CONNECT, HTTP CONNECT or through a -L forward);
//               once every one is established (all open together), each sends its own line, half-closes and
//               reads it back. Result: {established, echoed, failures: [first few]}.
//   flood JSON  {port, idle, target, targetPort}: opens `idle` connections that send nothing, then one SOCKS5
//               CONNECT and echo. Result: {ok, ms (for the one), error?}.
//   probe JSON  [{name, port, send?: hex, end?: bool, drip?: {hex, everyMs}, limitMs}]: one connection per
//               probe, all at once; sends `send` (then half-closes with `end`), or drips `drip` a byte at a
//               time; records what came back and when the listener closed. Result: [{name, reply (hex, first
//               256 bytes), closed, ms, error?}].
'use strict';
const net = require('node:net');

const mode = process.argv[2];
let cfg;

/** Resolves to the socket once `kind`'s handshake to host:targetPort has succeeded. */
function open(kind, port, host, targetPort) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const ip = Buffer.from(host.split('.').map(Number));
    const req = kind === 'socks'
      ? Buffer.concat([Buffer.from([5, 1, 0, 5, 1, 0, 1]), ip, Buffer.from([targetPort >> 8, targetPort & 0xff])])
      : Buffer.from(kind === 'http' ? `CONNECT ${host}:${targetPort} HTTP/1.1\r\nHost: ${host}:${targetPort}\r\n\r\n` : '');
    let got = Buffer.alloc(0);
    const settle = () => {
      s.off('data', onData);
      s.removeAllListeners('close');
      resolve(s);
    };
    const onData = (d) => {
      got = Buffer.concat([got, d]);
      if (kind === 'socks') {
        if (got.length < 2 + 10) return;
        if (got[0] !== 5 || got[1] !== 0 || got[2] !== 5 || got[3] !== 0) return reject(new Error(`bad replies ${got.toString('hex')}`));
        return settle();
      }
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!got.subarray(0, end).toString().startsWith('HTTP/1.1 200 ')) return reject(new Error(`CONNECT: ${got.subarray(0, end)}`));
      settle();
    };
    s.on('data', onData);
    s.once('error', reject);
    s.once('close', () => reject(new Error(`closed after ${got.length} reply bytes`)));
    s.once('connect', () => (kind === 'forward' ? settle() : s.write(req)));
  });
}

function echo(s, line) {
  return new Promise((resolve, reject) => {
    const chunks = [];
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
  const opened = await Promise.allSettled(Array.from({ length: cfg.count }, () => open(cfg.kind, cfg.port, cfg.target, cfg.targetPort)));
  const sockets = opened.filter((r) => r.status === 'fulfilled').map((r) => r.value);
  opened.filter((r) => r.status === 'rejected').forEach((r) => note(r.reason));
  const echoed = await Promise.allSettled(sockets.map((s, i) => echo(s, `connection ${i} of ${cfg.count}: ${'x'.repeat(i % 97)}\n`)));
  echoed.filter((r) => r.status === 'rejected').forEach((r) => note(r.reason));
  for (const s of sockets) s.destroy();
  return { established: sockets.length, echoed: echoed.filter((r) => r.status === 'fulfilled').length, failures };
}

async function flood() {
  const idle = await Promise.all(Array.from({ length: cfg.idle }, () => new Promise((resolve, reject) => {
    const s = net.connect(cfg.port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  })));
  const start = Date.now();
  try {
    await echo(await open('socks', cfg.port, cfg.target, cfg.targetPort), 'after the flood\n');
    return { ok: true, ms: Date.now() - start };
  } catch (e) {
    return { ok: false, ms: Date.now() - start, error: String(e.message || e) };
  } finally {
    for (const s of idle) s.destroy();
  }
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
  const result = mode === 'load' ? await load() : mode === 'flood' ? await flood() : await Promise.all(cfg.map(probe));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
