// The rootless client of rootless-api.test.ts: run as `nobody` with every capability dropped, inside the client
// namespace. It proves it is unprivileged, brings a rootless tunnel up, prints {"phase":"up"} and waits for a
// line on stdin (the test snapshots the namespace meanwhile), then exercises the in-process API against the
// server's services and prints {"phase":"done","results":{...}}: values for the test to check, or errors with
// their codes. Plain JavaScript on dist/, so it needs nothing but node.
'use strict';
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const tls = require('node:tls');

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const { Tunnel } = require(cfg.dist);
const ca = fs.readFileSync(cfg.caFile);
const results = {};
const say = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

async function check(name, fn) {
  try {
    results[name] = { ok: true, value: await fn() };
  } catch (err) {
    results[name] = { ok: false, code: err && err.code, causeCode: err && err.cause && err.cause.code, error: String(err && err.message) };
  }
}

function privileges() {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const field = (k) => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(status)[1].trim();
  return { uid: process.getuid(), gid: process.getgid(), capEff: field('CapEff'), capPrm: field('CapPrm'), capBnd: field('CapBnd') };
}

const body = (res) =>
  new Promise((resolve, reject) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
  });

/** The error a socket is destroyed with, or null when it connects. */
const connectOutcome = (socket) =>
  new Promise((resolve) => {
    socket.once('connect', () => (socket.destroy(), resolve(null)));
    socket.once('error', (err) => resolve({ code: err.code, syscall: err.syscall, isWiretun: err.name === 'WiretunError' }));
  });

async function exercise(tunnel) {
  const s = cfg.server;
  await check('httpGet', () =>
    new Promise((resolve, reject) => {
      http.get({ host: s.v4, port: 80, path: '/hello', createConnection: tunnel.connect }, (res) => body(res).then((b) => resolve(b.toString()), reject)).on('error', reject);
    }),
  );
  await check('httpGetV6', () =>
    new Promise((resolve, reject) => {
      http.get({ host: s.v6, port: 80, path: '/hello', createConnection: tunnel.connect }, (res) => body(res).then((b) => resolve(b.toString()), reject)).on('error', reject);
    }),
  );
  await check('fetchByName', async () => (await tunnel.fetch('http://service.test/hello')).text());
  await check('fetchHttps', async () => (await tunnel.fetch('https://service.test/hello', { tls: { ca } })).text());
  await check('download', async () => {
    const res = await tunnel.fetch(`http://${s.v4}/blob?size=${cfg.transferBytes}`);
    const data = Buffer.from(await res.arrayBuffer());
    return { bytes: data.length, sha256: sha256(data) };
  });
  await check('upload', async () => {
    const data = Buffer.alloc(cfg.transferBytes, 0).map((_, i) => (i * 31 + 7) & 0xff);
    const res = await tunnel.fetch(`http://[${s.v6}]/hash`, { method: 'POST', body: data });
    return { sent: sha256(data), got: await res.json() };
  });
  await check('tls', () =>
    new Promise((resolve, reject) => {
      const secure = tls.connect({ socket: tunnel.connect(443, s.v4), servername: 'service.test', ca }, () => {
        secure.end('GET /hello HTTP/1.1\r\nHost: service.test\r\nConnection: close\r\n\r\n');
      });
      body(secure).then((b) => resolve({ authorized: secure.authorized, response: b.toString() }), reject);
      secure.on('error', reject);
    }),
  );
  await check('echoHalfClose', () =>
    new Promise((resolve, reject) => {
      const socket = tunnel.connect({ port: 7, host: s.v4 });
      const connecting = socket.connecting;
      socket.end('echo me');
      body(socket).then((b) => resolve({ connecting, echoed: b.toString() }), reject);
      socket.on('error', reject);
    }),
  );
  await check('listen', async () => {
    const server = http.createServer((req, res) => res.end(`served ${req.url} to ${req.socket.remoteAddress}`));
    const listener = tunnel.listen({ port: 8080 }, (socket) => server.emit('connection', socket));
    try {
      const target = encodeURIComponent(`http://${cfg.client.v4}:8080/from-server`);
      const res = await tunnel.fetch(`http://${s.v4}/curl?url=${target}`);
      return { status: res.status, text: await res.text(), address: listener.address() };
    } finally {
      listener.close();
    }
  });
  await check('udpEcho', async () => {
    const replies = [];
    for (const [type, host] of [['udp4', s.v4], ['udp6', s.v6]]) {
      const socket = tunnel.createSocket(type);
      const got = new Promise((resolve) => socket.once('message', (m, from) => resolve({ text: m.toString(), from: from.address, port: from.port })));
      socket.send(`datagram over ${type}`, 7, host);
      replies.push(await got);
      socket.close();
    }
    return replies;
  });
  await check('ping', async () => [await tunnel.ping(s.v4), await tunnel.ping(s.v6)]);
  await check('lookup', async () => [
    await tunnel.lookup('service.test', { family: 4 }),
    await tunnel.lookup('service.test', { family: 6 }),
    (await tunnel.lookup('many.test', { family: 4 })).address,
  ]);
  await check('errNotFound', () => tunnel.lookup('missing.test'));
  await check('errRefused', () => connectOutcome(tunnel.connect(9, s.v4)));
  await check('errTimedOut', () => connectOutcome(tunnel.connect(80, cfg.silent)));
  await check('errUnreachable', () => connectOutcome(tunnel.connect(80, '192.0.2.1')));
  await check('errNotFoundConnect', () => connectOutcome(tunnel.connect(80, 'missing.test')));
  await check('errFetch', () => tunnel.fetch(`http://${s.v4}:9/`));
  await check('peers', () => tunnel.peers().map((p) => ({ hasHandshake: p.lastHandshake !== null, rx: p.rxBytes, tx: p.txBytes })));
  await check('stackStats', () => tunnel.stackStats());
}

async function main() {
  const before = privileges();
  const tunnel = await Tunnel.create({
    netstack: true,
    privateKey: cfg.privateKey,
    addresses: [`${cfg.client.v4}/24`, `${cfg.client.v6}/64`],
    dns: [cfg.server.v4],
    connectTimeout: 3000,
    peers: [{ publicKey: cfg.serverPublicKey, endpoint: cfg.endpoint, allowedIps: cfg.allowedIps }],
  });
  results.privileges = { ok: true, value: before };
  results.uapiPath = { ok: true, value: tunnel.uapiPath };
  await check('firstPing', () => tunnel.ping(cfg.server.v4, { timeout: 10_000 }));
  say({ phase: 'up' });
  await new Promise((resolve) => process.stdin.once('data', resolve));
  await exercise(tunnel);
  await tunnel.close();
  say({ phase: 'done', results });
  process.exit(0);
}

main().catch((err) => {
  say({ phase: 'failed', error: String(err && err.stack) });
  process.exit(1);
});
