'use strict';
// One side of a TUN tunnel between two network namespaces, for .ci/platform-test: run inside a namespace (as
// root) by one platform's Node, e.g. arm64 Node under qemu-user facing this machine's own Node. Plain CommonJS.
//
//   node tun-side.js APP NAME KEY LISTEN_PORT ADDRESS PEER_PUBLIC_KEY PEER_ENDPOINT PEER_IP [ping]
//
// Brings up interface NAME with ADDRESS (/24) and the peer, routing on. With `ping` it pings PEER_IP through
// the tunnel (the first ping starts the handshake) until one answers or 60 s pass, prints `ok …` and exits 0
// or 1. Without it, it prints `up` and serves until SIGTERM, or 120 s at most.
const { execFile } = require('node:child_process');
const path = require('node:path');

const [app, name, key, port, address, peerKey, endpoint, peerIp, mode] = process.argv.slice(2);
const wiretun = require(require.resolve('wiretun', { paths: [path.resolve(app)] }));

function ping(ip) {
  return new Promise((resolve) => execFile('ping', ['-c', '1', '-W', '1', ip], (err, out) => resolve(err ? null : out)));
}

async function main() {
  const tunnel = await wiretun.Tunnel.create({
    name,
    privateKey: key,
    listenPort: Number(port),
    addresses: [`${address}/24`],
    routing: true,
    uapi: false,
    peers: [{ publicKey: peerKey, endpoint, allowedIps: [`${peerIp}/32`] }],
  });
  if (mode !== 'ping') {
    console.log('up');
    const stop = () => tunnel.close().then(() => process.exit(0));
    process.on('SIGTERM', stop);
    setTimeout(stop, 120000);
    return;
  }
  const end = Date.now() + 60000;
  let out = null;
  while (!out && Date.now() < end) out = await ping(peerIp);
  const peer = tunnel.peers()[0];
  await tunnel.close();
  if (!out) throw new Error(`no answer from ${peerIp} through ${name} in 60 s`);
  const rtt = /time=([\d.]+ ms)/.exec(out);
  console.log(`ok ping ${peerIp} through ${name}: ${rtt ? rtt[1] : 'answered'}, handshake ${peer.lastHandshake ? 'done' : 'missing'}`);
}

main().catch((err) => {
  console.log(`tun-side: ${err && err.message ? err.message : err}`);
  process.exit(1);
});
