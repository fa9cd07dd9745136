// The services behind the WireGuard server in rootless-api.test.ts, run with node inside the server's namespace
// (as root: it shares the namespace with the TUN daemon). Plain JavaScript so no build step is involved.
//   HTTP :80 and HTTPS :443 (the same routes), TCP echo :7, UDP echo :7 (v4 and v6), DNS :53 over UDP and TCP.
// Routes: /hello, /blob?size=N (deterministic bytes), POST /hash (sha256 of the body), /curl?url=U (runs curl
// here against U: the way the client's tunnel.listen gets a server-side client), /records (DNS names, from
// loopback only). Prints "ready" when listening.
'use strict';
const { execFile } = require('node:child_process');
const { createHash } = require('node:crypto');
const dgram = require('node:dgram');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const net = require('node:net');

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));

function blob(size) {
  const out = Buffer.alloc(size);
  let x = 0x9e3779b9;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function handler(req, res) {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/hello') return res.end(`hello ${req.socket.remoteAddress} ${req.socket.encrypted ? 'https' : 'http'}`);
  if (url.pathname === '/blob') return res.end(blob(Number(url.searchParams.get('size'))));
  if (url.pathname === '/hash' && req.method === 'POST') {
    const h = createHash('sha256');
    let n = 0;
    req.on('data', (c) => ((n += c.length), h.update(c)));
    return req.on('end', () => res.end(JSON.stringify({ bytes: n, sha256: h.digest('hex') })));
  }
  // Test set-up from this namespace only: /records?name=N&a=IP adds or replaces a DNS name (no `a`: removes it).
  if (url.pathname === '/records' && /^(::1|127\.|::ffff:127\.)/.test(req.socket.remoteAddress)) {
    const name = url.searchParams.get('name');
    if (url.searchParams.get('a')) cfg.records[name] = { a: [url.searchParams.get('a')] };
    else delete cfg.records[name];
    return res.end('ok');
  }
  if (url.pathname === '/curl') {
    return execFile('curl', ['-sS', '--max-time', '10', url.searchParams.get('url')], (err, stdout, stderr) => {
      res.statusCode = err ? 502 : 200;
      res.end(err ? `curl failed: ${stderr}` : stdout);
    });
  }
  res.statusCode = 404;
  res.end('not found');
}

// --- DNS: names from cfg.records (A and AAAA lists); a name with more than 20 A records answers over UDP
// truncated (TC set, no records), so the client must ask again over TCP.
function dnsAnswer(query, tcp) {
  let off = 12;
  const labels = [];
  while (query[off]) {
    labels.push(query.subarray(off + 1, off + 1 + query[off]).toString().toLowerCase());
    off += query[off] + 1;
  }
  const qtype = query.readUInt16BE(off + 1);
  const question = query.subarray(12, off + 5);
  const rec = cfg.records[labels.join('.')];
  const values = rec ? (qtype === 1 ? rec.a : qtype === 28 ? rec.aaaa : []) || [] : [];
  const truncated = !tcp && values.length > 20;
  const answers = truncated ? [] : values;
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  header.writeUInt16BE(0x8180 | (truncated ? 0x0200 : 0) | (rec ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const parts = [header, question];
  for (const v of answers) {
    const data = qtype === 1 ? Buffer.from(v.split('.').map(Number)) : v6bytes(v);
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0);
    rr.writeUInt16BE(qtype, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(30, 6);
    rr.writeUInt16BE(data.length, 10);
    parts.push(rr, data);
  }
  return Buffer.concat(parts);
}

function v6bytes(ip) {
  const [head, tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const words = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.from(words.flatMap((w) => [parseInt(w, 16) >> 8, parseInt(w, 16) & 0xff]));
}

async function main() {
  const listen = (server, port) => new Promise((r, j) => server.once('error', j).listen(port, '::', r));
  const tlsOpts = { key: fs.readFileSync(cfg.keyFile), cert: fs.readFileSync(cfg.certFile) };
  await listen(http.createServer(handler), 80);
  await listen(https.createServer(tlsOpts, handler), 443);
  await listen(net.createServer({ allowHalfOpen: true }, (s) => s.pipe(s)), 7);
  await listen(
    net.createServer((s) => {
      let buf = Buffer.alloc(0);
      s.on('data', (c) => {
        buf = Buffer.concat([buf, c]);
        while (buf.length >= 2 && buf.length >= buf.readUInt16BE(0) + 2) {
          const q = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + q.length);
          const a = dnsAnswer(q, true);
          const len = Buffer.alloc(2);
          len.writeUInt16BE(a.length);
          s.write(Buffer.concat([len, a]));
        }
      });
      s.on('error', () => undefined);
    }),
    53,
  );
  for (const type of ['udp4', 'udp6']) {
    const echo = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
    echo.on('message', (m, r) => echo.send(m, r.port, r.address));
    await new Promise((r) => echo.bind(7, type === 'udp4' ? '0.0.0.0' : '::', r));
    const dns = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
    dns.on('message', (q, r) => dns.send(dnsAnswer(q, false), r.port, r.address));
    await new Promise((r) => dns.bind(53, type === 'udp4' ? '0.0.0.0' : '::', r));
  }
  process.stdout.write('ready\n');
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
