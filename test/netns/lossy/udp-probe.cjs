// Sends COUNT numbered datagrams to HOST:PORT (a UDP echo behind the delay relay), 2 ms apart, and prints
// JSON { sent, received, minRttMs } once the last reply could have arrived. Used by lossy-lib.test.ts.
'use strict';
const dgram = require('node:dgram');
const [host, port, count] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const s = dgram.createSocket('udp4');
const sentAt = new Map();
let received = 0;
let minRttMs = Infinity;
s.on('message', (m) => {
  const t = sentAt.get(m.readUInt32BE(0));
  if (t === undefined) return;
  sentAt.delete(m.readUInt32BE(0));
  received++;
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
    setTimeout(() => (console.log(JSON.stringify({ sent: count, received, minRttMs })), process.exit(0)), 1000);
  }
}, 2);
