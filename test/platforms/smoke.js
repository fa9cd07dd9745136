'use strict';
// The rootless smoke test each platform's binary runs with that platform's own Node (arm64 under qemu-user,
// node.exe under wine, x64 natively): `node smoke.js APP_DIR` in a project where `npm i` installed wiretun and its
// platform package. Plain CommonJS with no dependencies, since it runs where nothing else is installed.
//
// It checks keys against a vector made by `wg`, a config parse/format round trip, two rootless tunnels over
// loopback UDP (ping, listen + connect with HTTP, fetch, UDP echo, a name through the tunnel's DNS), and
// `wiretun proxy` as a child process with a SOCKS5 listener and a -L forward into one of those tunnels.
// Each step prints one `ok` line; the first failure exits 1 with its reason. Bounded: every wait has a deadline.
//
// The child process is started with the command in WIRETUN_SMOKE_NODE (a JSON array, e.g. qemu-aarch64 -L …
// node) because without binfmt_misc an emulated Node cannot exec another emulated Node by itself.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const app = path.resolve(process.argv[2] || '.');
const wiretun = require(require.resolve('wiretun', { paths: [app] }));
const cli = path.join(path.dirname(require.resolve('wiretun/package.json', { paths: [app] })), 'bin', 'wiretun');
const nodeCmd = process.env.WIRETUN_SMOKE_NODE ? JSON.parse(process.env.WIRETUN_SMOKE_NODE) : [process.execPath];

const ok = (what) => console.log(`ok ${what}`);
function check(cond, what) {
  if (!cond) throw new Error(`FAILED: ${what}`);
}
function deadline(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)));
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

/** Which addon file the loader picked (the platform test checks it is the installed platform package's). */
function loaded() {
  wiretun.generatePrivateKey();
  const files = Object.keys(require.cache).filter((f) => f.endsWith('.node'));
  check(files.length === 1, `one native addon loaded, got ${files.join(', ')}`);
  console.log(`loaded ${files[0].replace(/\\/g, '/')}`);
}

function keys() {
  // `wg pubkey` of this private key.
  const pub = wiretun.publicKeyFromPrivate('cNz6+a/Rm8/UuXPYhnXUAi+s9x6pIQy2hMylf2HboHY=');
  check(pub === 'o8VpRMGuJIxIY7up+hjt3zoAxTCLuiO7uOg3ZgalRBo=', `public key from the wg vector, got ${pub}`);
  const fresh = wiretun.generatePrivateKey();
  check(/^[A-Za-z0-9+/]{43}=$/.test(fresh) && fresh !== wiretun.generatePrivateKey(), 'fresh private keys differ');
  ok('keys: wg vector, fresh keys');
}

function config() {
  const text = [
    '[Interface]',
    'PrivateKey = cNz6+a/Rm8/UuXPYhnXUAi+s9x6pIQy2hMylf2HboHY=',
    'Address = 10.9.0.1/24, fd09::1/64',
    'ListenPort = 51820',
    '',
    '[Peer]',
    'PublicKey = o8VpRMGuJIxIY7up+hjt3zoAxTCLuiO7uOg3ZgalRBo=',
    'AllowedIPs = 10.9.0.2/32',
    'Endpoint = 192.0.2.1:51820',
    'PersistentKeepalive = 25',
    '',
  ].join('\n');
  const { config: parsed } = wiretun.parseConfig(text);
  const again = wiretun.parseConfig(wiretun.formatConfig(parsed)).config;
  check(JSON.stringify(again) === JSON.stringify(parsed), 'parse(format(parse(x))) equals parse(x)');
  let refused = false;
  try {
    wiretun.parseConfig('[Interface]\nListenPort = 99999\n', { file: 'bad.conf' });
  } catch (err) {
    refused = /bad\.conf:2/.test(err.message);
  }
  check(refused, 'a bad ListenPort is refused naming file:line');
  ok('config: round trip, bad value named');
}

async function tunnels() {
  const [ka, kb] = [wiretun.generatePrivateKey(), wiretun.generatePrivateKey()];
  const a = await wiretun.Tunnel.create({ netstack: true, privateKey: ka, addresses: ['10.7.0.1/24'], dns: ['10.7.0.2'] });
  const b = await wiretun.Tunnel.create({ netstack: true, privateKey: kb, addresses: ['10.7.0.2/24'] });
  await a.addPeer({ publicKey: wiretun.publicKeyFromPrivate(kb), endpoint: `127.0.0.1:${b.listenPort}`, allowedIps: ['10.7.0.2/32'] });
  await b.addPeer({ publicKey: wiretun.publicKeyFromPrivate(ka), endpoint: `127.0.0.1:${a.listenPort}`, allowedIps: ['10.7.0.0/24'] });
  check((await deadline(a.ping('10.7.0.2'), 20000, 'ping')) > 0, 'ping through the tunnel');
  ok('tunnels: handshake and ping over loopback UDP');

  const server = http.createServer((req, res) => res.end(`hello ${req.url} from ${req.socket.remoteAddress}`));
  const listener = b.listen({ port: 8080 }, (socket) => server.emit('connection', socket));
  const body = await deadline(
    new Promise((resolve, reject) => {
      http
        .get({ host: '10.7.0.2', port: 8080, path: '/c', createConnection: a.connect }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c) => (text += c)).on('end', () => resolve(text));
        })
        .on('error', reject);
    }),
    20000,
    'http over connect',
  );
  check(body === 'hello /c from 10.7.0.1', `http over connect/listen, got ${body}`);
  ok('tunnels: listen + connect');

  const dns = b.createSocket('udp4').bind(53);
  dns.on('message', (q, from) => dns.send(answerA(q, [10, 7, 0, 2]), from.port, from.address));
  const res = await deadline(a.fetch('http://svc.smoke:8080/f'), 20000, 'fetch by name');
  check((await res.text()) === 'hello /f from 10.7.0.1', 'fetch by a name the tunnel DNS answers');
  ok('tunnels: fetch, name through the tunnel DNS');

  const echo = b.createSocket('udp4').bind(7);
  echo.on('message', (m, from) => echo.send(m, from.port, from.address));
  const client = a.createSocket('udp4');
  const reply = new Promise((r) => client.once('message', (m) => r(m.toString())));
  client.send('datagram', 7, '10.7.0.2');
  check((await deadline(reply, 20000, 'udp echo')) === 'datagram', 'UDP echo');
  client.close();
  echo.close();
  dns.close();
  ok('tunnels: UDP echo');
  return { a, b, kb, listener };
}

/** An A answer to a DNS query (one question), with `ip`. */
function answerA(q, ip) {
  let off = 12;
  while (q[off]) off += q[off] + 1;
  const question = q.subarray(12, off + 5);
  const header = Buffer.from([q[0], q[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
  const answer = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...ip]);
  return Buffer.concat([header, question, answer]);
}

async function proxy({ b, kb }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wiretun-smoke-'));
  const key = wiretun.generatePrivateKey();
  await b.addPeer({ publicKey: wiretun.publicKeyFromPrivate(key), allowedIps: ['10.7.0.3/32'] });
  const [socksPort, fwdPort] = [await freePort(), await freePort()];
  const conf = path.join(dir, 'wireproxy.conf');
  fs.writeFileSync(
    conf,
    [
      '[Interface]',
      `PrivateKey = ${key}`,
      'Address = 10.7.0.3/32',
      '',
      '[Peer]',
      `PublicKey = ${wiretun.publicKeyFromPrivate(kb)}`,
      `Endpoint = 127.0.0.1:${b.listenPort}`,
      'AllowedIPs = 10.7.0.0/24',
      '',
      '[Socks5]',
      `BindAddress = 127.0.0.1:${socksPort}`,
      '',
      '[TCPClientTunnel]',
      `BindAddress = 127.0.0.1:${fwdPort}`,
      'Target = 10.7.0.2:8080',
      '',
    ].join('\n'),
  );
  // A file, not a pipe, for the child's output: node.exe under wine cannot write to a pipe.
  const log = path.join(dir, 'proxy.log');
  const out = fs.openSync(log, 'w');
  const child = spawn(nodeCmd[0], [...nodeCmd.slice(1), cli, 'proxy', conf], { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  let exited = null;
  child.on('exit', (code, signal) => (exited = `${code ?? signal}`));
  try {
    await waitForPort(fwdPort, 60000, () => exited && `wiretun proxy exited (${exited}): ${fs.readFileSync(log, 'utf8')}`);
    const viaForward = await httpGet(direct(fwdPort), '/L');
    check(viaForward.endsWith('hello /L from 10.7.0.3'), `GET through the -L forward, got ${viaForward}`);
    ok('proxy: -L forward');
    const viaSocks = await httpGet(socks5(socksPort, '10.7.0.2', 8080), '/socks');
    check(viaSocks.endsWith('hello /socks from 10.7.0.3'), `GET through SOCKS5, got ${viaSocks}`);
    ok('proxy: SOCKS5 CONNECT');
  } finally {
    child.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitForPort(port, ms, failed) {
  const end = Date.now() + ms;
  for (;;) {
    const why = failed();
    if (why) throw new Error(why);
    const up = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(s.destroy() || true)).on('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > end) throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** HTTP/1.0 GET over the socket `open(ready, fail)` hands to `ready`; resolves to the whole response. */
function httpGet(open, url) {
  return deadline(
    new Promise((resolve, reject) => {
      open((sock) => {
        let text = '';
        sock.setEncoding('latin1').on('data', (c) => (text += c)).on('end', () => resolve(text)).on('error', reject);
        sock.write(`GET ${url} HTTP/1.0\r\nHost: smoke\r\n\r\n`);
      }, reject);
    }),
    20000,
    `GET ${url}`,
  );
}

const direct = (port) => (ready, fail) => {
  const sock = net.connect(port, '127.0.0.1', () => ready(sock)).on('error', fail);
};

/** A SOCKS5 CONNECT (no auth, IPv4) that hands the socket on once the proxy says the tunnel connection is up. */
const socks5 = (port, ip, dport) => (ready, fail) => {
  const sock = net.connect(port, '127.0.0.1', () => sock.write(Buffer.from([5, 1, 0]))).on('error', fail);
  let got = Buffer.alloc(0);
  const onData = (d) => {
    got = Buffer.concat([got, d]);
    if (got.length === 2 && got[0] === 5 && got[1] === 0) {
      sock.write(Buffer.from([5, 1, 0, 1, ...ip.split('.').map(Number), dport >> 8, dport & 0xff]));
    } else if (got.length >= 12) {
      sock.removeListener('data', onData);
      if (got[3] !== 0) return fail(new Error(`SOCKS5 reply code ${got[3]}`));
      ready(sock);
    }
  };
  sock.on('data', onData);
};

async function main() {
  console.log(`wiretun smoke test: Node ${process.version} ${process.platform}-${process.arch}`);
  loaded();
  keys();
  config();
  const t = await tunnels();
  try {
    await proxy(t);
  } finally {
    t.listener.close();
    await t.a.close();
    await t.b.close();
  }
  console.log('smoke: all ok');
}

main().then(
  () => process.exit(0),
  (err) => {
    console.log(`smoke: ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  },
);
