// Evaluates one expression inside a running Node process through its inspector, for proxy-sni.test.ts: the
// test sends the process SIGUSR1 (Node's own way to open the inspector, nothing of wiretun's), then runs this
// in the process's namespace with the ws:// address the process printed. The expression runs in the
// process as it is (sandbox included) and its value is printed as one JSON line. A small WebSocket client
// (Node 20 has none built in): one masked text frame out, unmasked frames in.
//   node inspect-eval.cjs ws://127.0.0.1:9229/UUID 'EXPRESSION'
'use strict';
const crypto = require('node:crypto');
const net = require('node:net');

const [address, expression] = process.argv.slice(2);
const url = new URL(address);
const fail = (why) => {
  process.stderr.write(`inspect-eval: ${why}\n`);
  process.exit(1);
};
setTimeout(() => fail('no answer in 20 s'), 20_000).unref();

function frame(text) {
  const data = Buffer.from(text);
  const mask = crypto.randomBytes(4);
  const len = data.length < 126 ? Buffer.from([0x80 | data.length]) : data.length < 65536
    ? Buffer.from([0x80 | 126, data.length >> 8, data.length & 0xff])
    : fail('expression too long');
  const masked = Buffer.from(data.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([Buffer.from([0x81]), len, mask, masked]);
}

const sock = net.connect(Number(url.port), url.hostname, () => {
  const key = crypto.randomBytes(16).toString('base64');
  sock.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
});
sock.on('error', (e) => fail(e.message));
let buf = Buffer.alloc(0);
let open = false;
sock.on('data', (d) => {
  buf = Buffer.concat([buf, d]);
  if (!open) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = buf.toString('latin1', 0, end);
    if (!/^HTTP\/1\.1 101/.test(head)) fail(`no upgrade: ${head.split('\r\n')[0]}`);
    buf = buf.subarray(end + 4);
    open = true;
    const params = { expression, awaitPromise: true, returnByValue: true };
    sock.write(frame(JSON.stringify({ id: 1, method: 'Runtime.evaluate', params })));
  }
  while (buf.length >= 2) {
    let len = buf[1] & 0x7f;
    let at = 2;
    if (len === 126) [len, at] = [buf.length >= 4 ? buf.readUInt16BE(2) : Infinity, 4];
    else if (len === 127) [len, at] = [buf.length >= 10 ? Number(buf.readBigUInt64BE(2)) : Infinity, 10];
    if (buf.length < at + len) return;
    const msg = JSON.parse(buf.subarray(at, at + len).toString());
    buf = buf.subarray(at + len);
    if (msg.id !== 1) continue;
    const r = msg.result ?? {};
    if (r.exceptionDetails) fail(JSON.stringify(r.exceptionDetails));
    process.stdout.write(`${JSON.stringify(r.result?.value)}\n`);
    process.exit(0);
  }
});
