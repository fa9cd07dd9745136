// A delaying UDP relay, run by lossy.ts inside a namespace (`ip netns exec NS node relay.cjs JSON`). This
// kernel has no netem, so this is how the tests and the benchmark get an underlay with a round-trip time.
// Plain JavaScript so no build step is involved.
//
// Every datagram from a client to the listen socket goes to the target from a socket of its own for that client
// (so the target's replies can be told apart), and every reply goes back to that client from the listen socket;
// each is held `delayMs` first, in both directions, so the round trip grows by 2 × delayMs. The delay is fixed,
// so a FIFO per direction keeps order and one timer per queue is enough (no timer per datagram).
//
// Reordering: a random `reorderPercent`% of the datagrams of each direction go through a second FIFO held
// `reorderDelayMs` longer, so the datagrams behind them overtake them. That delay is fixed too, so the second
// FIFO keeps the one-timer property. A datagram sent after one that arrived later counts as reordered.
//
// Bounded: at most `maxPackets` datagrams and `maxBytes` bytes held (beyond that a datagram is dropped, as a
// router's full queue would), at most `maxClients` clients, and the process exits after `lifetimeMs` or when
// its stdin closes (the parent is gone), so a crashed test cannot leave it running.
'use strict';
const dgram = require('node:dgram');

const o = JSON.parse(process.argv[2]);
const family = (host) => (host.includes(':') ? 'udp6' : 'udp4');
// Bigger than the default so a sender's GSO burst (up to 64 datagrams at once) is not dropped by the kernel
// before we read it; Linux caps it at net.core.rmem_max, which is fine.
const SOCKET_BUFFER = 4 << 20;
let held = 0;
let heldBytes = 0;
let dropped = 0;
const reordered = { toTarget: 0, toClient: 0 };

/** A FIFO of [due, buffer, send, n] held `delayMs`; drains everything due whenever its one timer fires, and
 * tells `sent(n)` of each datagram it sends. */
function makeQueue(delayMs, sent) {
  const items = [];
  let head = 0;
  let timer;
  const drain = () => {
    timer = undefined;
    const now = performance.now();
    while (head < items.length && items[head][0] <= now) {
      const [, buf, send, n] = items[head];
      items[head++] = undefined;
      held--;
      heldBytes -= buf.length;
      send(buf);
      sent(n);
    }
    if (head > 1024 && head * 2 > items.length) items.splice(0, head), (head = 0);
    if (head < items.length) timer = setTimeout(drain, Math.max(0, items[head][0] - now));
  };
  return (buf, send, n) => {
    if (held >= o.maxPackets || heldBytes + buf.length > o.maxBytes) return void dropped++;
    held++;
    heldBytes += buf.length;
    items.push([performance.now() + delayMs, buf, send, n]);
    if (!timer) timer = setTimeout(drain, delayMs);
  };
}

/** One direction: the on-time FIFO and, with reordering on, the late one; `n` numbers datagrams by arrival. */
function makeDirection(name) {
  let arrivals = 0;
  let newestSent = -1;
  const sent = (n) => (n < newestSent ? reordered[name]++ : (newestSent = n));
  const onTime = makeQueue(o.delayMs, sent);
  const late = o.reorderPercent > 0 ? makeQueue(o.delayMs + o.reorderDelayMs, sent) : onTime;
  return (buf, send) => (Math.random() * 100 < o.reorderPercent ? late : onTime)(buf, send, arrivals++);
}

const toTarget = makeDirection('toTarget');
const toClient = makeDirection('toClient');
const stats = () => JSON.stringify({ dropped, reordered });
const clients = new Map(); // "addr|port" -> { sock, last }

function bigBuffers(sock) {
  try {
    sock.setRecvBufferSize(SOCKET_BUFFER);
    sock.setSendBufferSize(SOCKET_BUFFER);
  } catch {
    /* capped or refused: the default still works, with more risk of drops under bursts */
  }
}

const listen = dgram.createSocket(family(o.listen.host));
// A send that fails (the target is not up yet, ICMP unreachable) is a lost datagram, as on a real path.
listen.on('error', () => undefined);

function upstreamFor(rinfo) {
  const key = `${rinfo.address}|${rinfo.port}`;
  let c = clients.get(key);
  if (c) return c;
  if (clients.size >= o.maxClients) return undefined;
  const sock = dgram.createSocket(family(o.target.host));
  c = { sock, last: Date.now() };
  clients.set(key, c);
  sock.on('error', () => undefined);
  sock.on('message', (buf) => {
    c.last = Date.now();
    toClient(buf, (b) => listen.send(b, rinfo.port, rinfo.address));
  });
  sock.bind(0, () => bigBuffers(sock));
  return c;
}

listen.on('message', (buf, rinfo) => {
  const c = upstreamFor(rinfo);
  if (!c) return void dropped++;
  c.last = Date.now();
  toTarget(buf, (b) => c.sock.send(b, o.target.port, o.target.host));
});

// Clients silent for a minute give their socket back, so maxClients bounds live state, not history.
setInterval(() => {
  for (const [key, c] of clients) if (Date.now() - c.last > 60_000) c.sock.close(), clients.delete(key);
}, 10_000).unref();

const quit = () => process.exit(0);
setTimeout(quit, o.lifetimeMs).unref();
// The parent writes `stats` lines to ask for the counters; the answer is one `stats {json}` line.
let asked = '';
process.stdin.on('end', quit).on('close', quit).on('data', (d) => {
  const lines = (asked + d.toString()).split('\n');
  asked = lines.pop().slice(-64);
  for (const line of lines) if (line === 'stats') process.stdout.write(`stats ${stats()}\n`);
});
process.on('SIGTERM', () => {
  process.stderr.write(`relay: ${dropped} datagrams dropped by its bounds, reordered ${JSON.stringify(reordered)}\n`);
  quit();
});

listen.bind(o.listen.port, o.listen.host, () => {
  bigBuffers(listen);
  process.stdout.write(`ready ${listen.address().port}\n`);
});
