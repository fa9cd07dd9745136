// DNS questions through a SOCKS5 UDP ASSOCIATE (RFC 1928 section 7) or straight to a UDP port (a -L .../udp
// forward), for proxy-udp.test.ts. Plain JavaScript, run with node in the client namespace:
//   node socks5-udp.cjs '{"socks": {"port": 11080, "user": "alice", "pass": "s3cret"}, "queries": [...]}'
//   node socks5-udp.cjs '{"udp": {"port": 15353}, "queries": [...]}'
// A query is { name, type: "A" | "AAAA", dst: { host, port } } (dst only through SOCKS5: an IPv4 or IPv6
// address or a name, which the proxy resolves). Prints one JSON line: { answers: [{ from, tc, rcode, addrs }] },
// { auth: STATUS } when the proxy refused the credentials, { method: M } when it refused every method, and
// with "closeCheck" whether the relay port closed after the control connection did.
'use strict';
const dgram = require('node:dgram');
const net = require('node:net');

const cfg = JSON.parse(process.argv[2]);
setTimeout(() => fail('timed out'), 30_000).unref();

function fail(msg) {
  process.stderr.write(`socks5-udp: ${msg}\n`);
  process.exit(2);
}

// --- DNS
function query(id, name, type) {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const tail = Buffer.from([0, 0, type === 'AAAA' ? 28 : 1, 0, 1]);
  const head = Buffer.from([id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([head, ...labels, tail]);
}

function skipName(m, at) {
  while (m[at] !== 0) {
    if ((m[at] & 0xc0) === 0xc0) return at + 2;
    at += m[at] + 1;
  }
  return at + 1;
}

function answer(m) {
  const out = { id: m.readUInt16BE(0), tc: (m[2] & 0x02) !== 0, rcode: m[3] & 0x0f, addrs: [] };
  let at = skipName(m, 12) + 4;
  for (let i = 0; i < m.readUInt16BE(6); i++) {
    at = skipName(m, at);
    const type = m.readUInt16BE(at);
    const len = m.readUInt16BE(at + 8);
    const data = m.subarray(at + 10, at + 10 + len);
    if (type === 1) out.addrs.push([...data].join('.'));
    if (type === 28) out.addrs.push(v6(data));
    at += 10 + len;
  }
  return out;
}

/** 16 bytes as RFC 5952 text (the longest run of zero words, two or more, as ::). */
function v6(b) {
  const words = [];
  for (let i = 0; i < 16; i += 2) words.push(b.readUInt16BE(i).toString(16));
  let best = [-1, 0];
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && words[j] === '0') j++;
    if (j - i > best[1]) best = [i, j - i];
  }
  if (best[1] < 2) return words.join(':');
  return `${words.slice(0, best[0]).join(':')}::${words.slice(best[0] + best[1]).join(':')}`;
}

// --- SOCKS5 headers
function addr(host, port) {
  const p = Buffer.from([port >> 8, port & 0xff]);
  if (net.isIPv4(host)) return Buffer.concat([Buffer.from([1, ...host.split('.').map(Number)]), p]);
  if (net.isIPv6(host)) {
    const b = Buffer.alloc(16);
    const [h, t = ''] = host.split('::');
    const hw = h ? h.split(':') : [];
    const tw = t ? t.split(':') : [];
    [...hw, ...Array(8 - hw.length - tw.length).fill('0'), ...tw].forEach((w, i) => b.writeUInt16BE(parseInt(w, 16), i * 2));
    return Buffer.concat([Buffer.from([4]), b, p]);
  }
  return Buffer.concat([Buffer.from([3, host.length]), Buffer.from(host), p]);
}

function unwrap(d) {
  const atyp = d[3];
  let at;
  let from;
  if (atyp === 1) (from = [...d.subarray(4, 8)].join('.')), (at = 8);
  else if (atyp === 4) (from = v6(d.subarray(4, 20))), (at = 20);
  else fail(`reply header with address type ${atyp}`);
  return { from: `${from}:${d.readUInt16BE(at)}`, payload: d.subarray(at + 2) };
}

/** Reads exactly n bytes from the control connection. */
function reader(sock) {
  let buf = Buffer.alloc(0);
  let want = null;
  sock.on('data', (c) => {
    buf = Buffer.concat([buf, c]);
    pump();
  });
  sock.on('end', () => want && want.reject(new Error('closed')));
  function pump() {
    if (want && buf.length >= want.n) {
      const out = buf.subarray(0, want.n);
      buf = buf.subarray(want.n);
      const w = want;
      want = null;
      w.resolve(out);
    }
  }
  return (n) => new Promise((resolve, reject) => ((want = { n, resolve, reject }), pump()));
}

async function associate(s) {
  const control = net.connect(s.port, '127.0.0.1');
  await new Promise((r, j) => control.once('connect', r).once('error', j));
  const read = reader(control);
  control.write(Buffer.from([5, 1, s.user ? 2 : 0]));
  const method = await read(2);
  if (method[1] === 0xff) return { refused: { method: 0xff }, control };
  if (s.user) {
    control.write(Buffer.concat([Buffer.from([1, s.user.length]), Buffer.from(s.user), Buffer.from([s.pass.length]), Buffer.from(s.pass)]));
    const status = await read(2);
    if (status[1] !== 0) {
      const closed = await new Promise((r) => (control.once('close', () => r(true)), setTimeout(() => r(false), 5000)));
      return { refused: { auth: status[1], closed }, control };
    }
  }
  control.write(Buffer.from([5, 3, 0, 1, 0, 0, 0, 0, 0, 0]));
  const head = await read(4);
  if (head[1] !== 0) fail(`ASSOCIATE refused with reply ${head[1]}`);
  const rest = await read(head[3] === 4 ? 18 : 6);
  const host = head[3] === 4 ? v6(rest.subarray(0, 16)) : [...rest.subarray(0, 4)].join('.');
  return { control, relay: { host, port: rest.readUInt16BE(rest.length - 2) } };
}

/** Sends each question (again every 300 ms until answered: the first may beat the handshake). */
async function ask(sock, send, q, id) {
  return new Promise((resolve) => {
    const onMessage = (m) => {
      const got = cfg.socks ? unwrap(m) : { from: 'direct', payload: m };
      const a = answer(got.payload);
      if (a.id !== id) return;
      clearInterval(timer);
      sock.off('message', onMessage);
      resolve({ from: got.from, tc: a.tc, rcode: a.rcode, addrs: a.addrs });
    };
    sock.on('message', onMessage);
    const go = () => send(query(id, q.name, q.type), q);
    const timer = setInterval(go, 300);
    go();
  });
}

/** After the control connection closes, the relay port stops listening (ICMP port unreachable). */
async function relayCloses(relay) {
  const probe = dgram.createSocket(net.isIPv6(relay.host) ? 'udp6' : 'udp4');
  await new Promise((r) => probe.connect(relay.port, relay.host, r));
  return new Promise((resolve) => {
    const deadline = setTimeout(() => resolve(false), 5000);
    const timer = setInterval(() => probe.send(Buffer.from([0, 0, 0, 1, 10, 211, 0, 1, 0, 53])), 100);
    probe.on('error', (e) => e.code === 'ECONNREFUSED' && (clearTimeout(deadline), clearInterval(timer), probe.close(), resolve(true)));
  });
}

async function main() {
  const sock = dgram.createSocket('udp4');
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  let send;
  let session;
  if (cfg.socks) {
    session = await associate(cfg.socks);
    if (session.refused) {
      console.log(JSON.stringify(session.refused));
      process.exit(0);
    }
    const { relay } = session;
    send = (msg, q) => sock.send(Buffer.concat([Buffer.from([0, 0, 0]), addr(q.dst.host, q.dst.port), msg]), relay.port, relay.host);
  } else {
    send = (msg) => sock.send(msg, cfg.udp.port, '127.0.0.1');
  }
  const answers = [];
  let id = 0x1000 + (process.pid & 0xfff);
  for (const q of cfg.queries) answers.push(await ask(sock, send, q, id++));
  const out = { answers };
  if (cfg.closeCheck && session) {
    session.control.destroy();
    out.relayClosed = await relayCloses(session.relay);
  }
  console.log(JSON.stringify(out));
  process.exit(0);
}

main().catch((err) => fail(err.stack));
