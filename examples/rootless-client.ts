// An HTTP call through a WireGuard tunnel, as an ordinary user: no root, no TUN, no routes. The tunnel's inner
// side is a userspace TCP/IP stack inside this process, so only this process's connections go through it, and
// only where you ask.
//
// Run it with a wg-quick file whose [Interface] has Address (and DNS, to use names) and a [Peer] with an Endpoint:
//   npx vite-node examples/rootless-client.ts office.conf http://intranet.office/status
//
// In your own project, import from 'wiretun' instead of '../ts/index'.
import * as http from 'node:http';
import { Tunnel } from '../ts/index';

async function main(): Promise<void> {
  const [configFile, url = 'http://10.0.0.1/'] = process.argv.slice(2);
  if (!configFile) throw new Error('usage: rootless-client.ts CONFIG [URL]');

  // Address and DNS from the file go to the stack; keys only an interface has (Table, PostUp...) are ignored
  // with a warning. No interface is created, and nothing outside this process changes.
  await using tunnel = await Tunnel.fromConfig(configFile, { netstack: true });

  // fetch through the tunnel: names resolve through the tunnel's DNS servers, never the host's.
  const res = await tunnel.fetch(url);
  console.log(`${res.status} ${res.statusText}: ${(await res.text()).slice(0, 200)}`);

  // Or any library that takes a socket: tunnel.connect returns a net.Socket.
  const target = new URL(url);
  await new Promise<void>((resolve, reject) => {
    const req = http.get({ host: target.hostname, port: target.port || 80, path: target.pathname, createConnection: tunnel.connect }, (r) => {
      console.log(`again with http.get: ${r.statusCode}`);
      r.resume().on('end', resolve);
    });
    req.on('error', reject);
  });

  const [peer] = tunnel.peers();
  console.log(`handshake ${peer?.lastHandshake?.toISOString() ?? 'none'}, rx ${peer?.rxBytes} B, tx ${peer?.txBytes} B`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
