// Sends COUNT numbered datagrams to HOST:PORT (a UDP echo behind the delay relay), 2 ms apart, and prints
// JSON { sent, received, minRttMs, reordered } once the last reply could have arrived (reordered: replies that
// came after a higher-numbered one). Used by lossy-lib.test.ts.
'use strict';
const dgram = require('node:dgram');
const [host, port, count] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const s = dgram.createSocket('udp4');
const sentAt = new Map();
let received = 0;
let minRttMs = Infinity;
let highest = -1;
let reordered = 0;
s.on('message', (m) => {
  const n = m.readUInt32BE(0);
  const t = sentAt.get(n);
  if (t === undefined) return;
  sentAt.delete(n);
  received++;
  if (n < highest) reordered++;
  else highest = n;
  minRttMs = Math.min(minRttMs, performance.now() - t);
});
let i = 0;
const timer = setInterval(() => {
  const b = Buffer.alloc(64);
  b.writeUInt32BE(i);
  sentAt.set(i, performance.now());
  s.send(b, port, host);
  if (++i === count) {
    clearInterval(timer);
    setTimeout(() => (console.log(JSON.stringify({ sent: count, received, minRttMs, reordered })), process.exit(0)), 1000);
  }
}, 2);
