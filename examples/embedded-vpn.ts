// An embedded VPN server in about 80 lines: a WireGuard interface that lives inside this Node process, one
// client whose config we print, live events, and a clean shutdown on Ctrl-C.
//
// Run it as root (creating a network interface needs CAP_NET_ADMIN):
//   sudo npx vite-node examples/embedded-vpn.ts [PUBLIC_HOST]
// then import the printed config on another machine (or phone) and ping 10.99.0.1.
//
// In your own project, import from 'wiretun' instead of '../ts/index'.
import { configPeer, emptyConfig, formatConfig, generatePresharedKey, generatePrivateKey, publicKeyFromPrivate, Tunnel } from '../ts/index';
import type { WgQuickConfig } from '../ts/index';

const SUBNET = '10.99.0.0/24';
const SERVER_ADDRESS = '10.99.0.1/24';
const CLIENT_ADDRESS = '10.99.0.2/32';
const PORT = 51820;

async function main(): Promise<void> {
  // Where the client will find us; pass your public IP or DNS name.
  const publicHost = process.argv[2] ?? '127.0.0.1';

  // Keys are base64 strings, exactly like `wg genkey` makes them. A real server would load its key from disk
  // instead of making a new one at every start.
  const serverKey = generatePrivateKey();
  const clientKey = generatePrivateKey();
  const presharedKey = generatePresharedKey(); // optional extra (post-quantum) protection

  // Creating the tunnel creates the TUN interface. `routing: true` puts the address on it, brings it up and
  // routes each peer's allowed IPs to it; `uapi` (on by default) lets `wg show wtdemo0` see it.
  const tunnel = await Tunnel.create({
    name: 'wtdemo0',
    privateKey: serverKey,
    listenPort: PORT,
    addresses: [SERVER_ADDRESS],
    routing: true,
    peers: [
      // The server accepts from this client only packets from its own address: that is what AllowedIPs means
      // on the receiving side (and where to send packets for that address, on the sending side).
      { publicKey: publicKeyFromPrivate(clientKey), presharedKey, allowedIps: [CLIENT_ADDRESS] },
    ],
  });

  try {
    await serve(tunnel, publicHost, clientKey, presharedKey);
  } finally {
    // Deletes the interface, its routes and its UAPI socket. (With TypeScript 5.2+ and a runtime that has it,
    // `await using tunnel = ...` does the same.)
    await tunnel.close();
  }
}

async function serve(tunnel: Tunnel, publicHost: string, clientKey: string, presharedKey: string): Promise<void> {
  // The client's side, as a wg-quick file: it routes the VPN subnet to us.
  // A config holds keys as bytes (the one model behind files, UAPI and the CLI); base64 is only how they are
  // written down.
  const bytes = (base64: string) => Buffer.from(base64, 'base64');
  const client: WgQuickConfig = { ...emptyConfig(), addresses: [CLIENT_ADDRESS] };
  client.device.privateKey = bytes(clientKey);
  client.device.peers.push(
    configPeer(bytes(tunnel.publicKey), {
      presharedKey: bytes(presharedKey),
      endpoint: `${publicHost}:${tunnel.listenPort}`,
      allowedIps: [SUBNET],
      persistentKeepalive: 25,
    }),
  );
  console.log(`Tunnel ${tunnel.name} is up on UDP port ${tunnel.listenPort}. Client config:\n`);
  console.log(formatConfig(client)); // contains the client's private key: this is the one place to show it

  // Events arrive from the native data plane; they never block it.
  tunnel.on('handshake', ({ publicKey, time }) => console.log(`${time.toISOString()} handshake with ${publicKey}`));
  tunnel.on('endpointChanged', ({ endpoint }) => console.log(`client now reachable at ${endpoint}`));
  tunnel.on('error', (err) => console.error(`tunnel error: ${err.message}`));

  // Poll the counters every few seconds, as a dashboard would.
  const timer = setInterval(() => {
    for (const p of tunnel.peers()) {
      const seen = p.lastHandshake ? p.lastHandshake.toISOString() : 'never';
      console.log(`peer ${p.publicKey.slice(0, 8)}…: last handshake ${seen}, rx ${p.rxBytes} B, tx ${p.txBytes} B`);
    }
  }, 5000);

  // Stay up until Ctrl-C.
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(timer);
  console.log('\nshutting down');
}

main().catch((err: Error) => {
  console.error(`embedded-vpn: ${err.message}`);
  process.exit(1);
});
