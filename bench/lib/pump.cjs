// The rootless benchmark's byte pump, run with node inside a namespace (plain JavaScript: no build step). iperf3
// cannot go through SOCKS5, so this moves one TCP stream through it (or straight to the server, for the TUN
// ceiling), and holds many idle connections open for the memory per connection.
//   node pump.cjs server HOST PORT                     the far end: first byte U = sink, D = source, H = hold
//   node pump.cjs up|down HOST PORT SECONDS [SOCKS]    one stream for SECONDS; prints {"bps":...} (receiver's rate)
//   node pump.cjs hold HOST PORT COUNT                 COUNT idle connections, each answered; prints "ready COUNT",
//                                                      then holds them until killed
//   node pump.cjs probe HOST PORT [SOCKS]              exits 0 once one connection is answered (tunnel is up)
// SOCKS is HOST:PORT of a SOCKS5 proxy (no auth), asked to CONNECT to the IPv4 literal HOST.
'use strict';
const net = require('node:net');

const [mode, host, portArg, arg4, arg5] = process.argv.slice(2);
const port = Number(portArg);
const CHUNK = Buffer.alloc(256 << 10, 0x5a);
const fail = (msg) => { console.error(`pump ${mode}: ${msg}`); process.exit(1); };
// Every mode is bounded: no run of the benchmark asks for more than this.
setTimeout(() => fail('ran past its 15 minute limit'), 15 * 60_000).unref();

/** Writes CHUNK as fast as the socket drains until `stop()` returns true. */
function source(sock, stop) {
  const pump = () => {
    while (!stop() && !sock.destroyed) if (!sock.write(CHUNK)) return void sock.once('drain', pump);
    if (!sock.destroyed) sock.end();
  };
  pump();
}

function serve() {
  net.createServer((sock) => {
    sock.on('error', () => sock.destroy());
    sock.once('data', (first) => {
      const kind = String.fromCharCode(first[0]);
      if (kind === 'D') return source(sock, () => false);
      if (kind === 'H') return void sock.write('k');
      // Timed from the first chunk, which is not counted (as for down).
      let bytes = 0;
      const start = process.hrtime.bigint();
      sock.on('data', (d) => (bytes += d.length));
      sock.on('end', () => {
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        sock.end(JSON.stringify({ bps: seconds ? (bytes * 8) / seconds : 0, bytes, seconds }) + '\n');
      });
    });
  }).listen(port, host, () => console.log('ready'));
}

/** A connection to HOST:PORT, through SOCKS5 when given; resolves once bytes can flow. */
function connect(socks) {
  return new Promise((resolve, reject) => {
    if (!socks) {
      const sock = net.connect(port, host, () => resolve(sock));
      return void sock.once('error', reject);
    }
    const [sh, sp] = socks.split(':');
    const sock = net.connect(Number(sp), sh, () => {
      const req = Buffer.from([5, 1, 0, 5, 1, 0, 1, ...host.split('.').map(Number), port >> 8, port & 255]);
      sock.write(req);
    });
    sock.once('error', reject);
    let got = Buffer.alloc(0);
    const onData = (d) => {
      got = Buffer.concat([got, d]);
      if (got.length < 12) return;
      sock.off('data', onData);
      if (got[1] !== 0 || got[3] !== 0) return reject(new Error(`SOCKS5 refused: reply ${got[3]}`));
      if (got.length > 12) sock.unshift(got.subarray(12));
      resolve(sock);
    };
    sock.on('data', onData);
  });
}

async function up(seconds, socks) {
  const sock = await connect(socks);
  sock.write('U');
  const until = Date.now() + seconds * 1000;
  let reply = '';
  sock.on('data', (d) => (reply += d));
  sock.on('end', () => process.stdout.write(reply));
  source(sock, () => Date.now() >= until);
}

async function down(seconds, socks) {
  const sock = await connect(socks);
  let bytes = 0;
  let start = 0n;
  sock.on('data', (d) => {
    if (!start) return void (start = process.hrtime.bigint());
    bytes += d.length;
  });
  sock.write('D');
  setTimeout(() => {
    const s = Number(process.hrtime.bigint() - start) / 1e9;
    console.log(JSON.stringify({ bps: start ? (bytes * 8) / s : 0, bytes, seconds: s }));
    process.exit(0);
  }, seconds * 1000);
}

/** One connection, answered within 2 s. */
function answered(socks) {
  return connect(socks).then((sock) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => (sock.destroy(), reject(new Error('no answer within 2 s'))), 2000);
    sock.once('data', () => (clearTimeout(timer), resolve(sock)));
    sock.once('close', () => (clearTimeout(timer), reject(new Error('closed unanswered'))));
    sock.write('H');
  }));
}

async function hold(count) {
  const held = [];
  // In batches: a proxy may cap the connections it is still dialling at once.
  for (let i = 0; i < count; i += 100) {
    const batch = Array.from({ length: Math.min(100, count - i) }, () => answered());
    held.push(...(await Promise.all(batch)));
  }
  console.log(`ready ${held.length}`);
  setInterval(() => held.length, 60_000); // until killed (or the time limit)
}

const main = {
  server: serve,
  up: () => up(Number(arg4), arg5),
  down: () => down(Number(arg4), arg5),
  hold: () => hold(Number(arg4)),
  probe: () => answered(arg4).then(() => process.exit(0)),
}[mode];
if (!main) fail('mode must be server, up, down, hold or probe');
Promise.resolve().then(main).catch((err) => fail(err.message));
