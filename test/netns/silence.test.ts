// WireGuard stays silent to strangers: nothing unauthenticated gets a reply. A real peer (B) reaches our
// tunnel (A) through a relay on loopback, which lets the test capture B's genuine handshake initiation and
// replay it from another address. Ordering gives the barrier: A handles datagrams on its socket in order,
// so once a later authenticated keepalive from B is counted, every earlier stranger datagram was handled.
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tunnel, generatePrivateKey } from '../../ts/index';
import { waitFor } from './lib/wait';

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('SKIPPED: silence tests need root to create TUN devices');
const tag = `${process.pid % 10000}`;

function udp(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  return new Promise((r) => s.bind(0, '127.0.0.1', () => r(s)));
}

/** A message of `type` (little-endian u32, as WireGuard frames it) and `len` random bytes in all. */
function message(type: number, len: number): Buffer {
  const b = randomBytes(len);
  if (len >= 4) b.writeUInt32LE(type, 0);
  return b;
}

describe.skipIf(!isRoot)('silence to unauthenticated datagrams (root)', () => {
  let a: Tunnel;
  let b: Tunnel;
  let relay: dgram.Socket;
  let stranger: dgram.Socket;
  let initiation: Buffer | undefined;
  let repliesToStranger = 0;

  beforeAll(async () => {
    a = await Tunnel.create({ name: `wtsa${tag}`, privateKey: generatePrivateKey() });
    b = await Tunnel.create({ name: `wtsb${tag}`, privateKey: generatePrivateKey() });
    relay = await udp();
    stranger = await udp();
    stranger.on('message', () => repliesToStranger++);
    let bAddr: dgram.RemoteInfo | undefined;
    relay.on('message', (msg, from) => {
      if (from.port === a.listenPort) {
        if (bAddr) relay.send(msg, bAddr.port, bAddr.address);
        return;
      }
      bAddr = from;
      if (!initiation && msg.length === 148 && msg.readUInt32LE(0) === 1) initiation = Buffer.from(msg);
      relay.send(msg, a.listenPort, '127.0.0.1');
    });
    await a.addPeer({ publicKey: b.publicKey, allowedIps: ['10.68.0.2/32'] });
    await b.addPeer({
      publicKey: a.publicKey,
      endpoint: `127.0.0.1:${relay.address().port}`,
      allowedIps: ['10.68.0.1/32'],
      persistentKeepalive: 1,
    });
    await waitFor('handshake through the relay', () => a.peers()[0].lastHandshake !== null);
  });

  afterAll(async () => {
    relay?.close();
    stranger?.close();
    await a?.close();
    await b?.close();
  });

  it('answers nothing to garbage, wrong sizes, bad macs, unknown indexes and a replayed initiation', async () => {
    expect(initiation, 'the relay saw B’s initiation').toBeDefined();
    const hostile: Buffer[] = [
      Buffer.alloc(0),
      randomBytes(3),
      ...[147, 149].map((n) => message(1, n)), // initiation is exactly 148
      message(1, 148), // right size, random mac1
      ...[91, 93].map((n) => message(2, n)), // response is exactly 92
      message(2, 92),
      ...[63, 65].map((n) => message(3, n)), // cookie reply is exactly 64
      message(3, 64),
      ...[16, 31].map((n) => message(4, n)), // data is at least 32
      message(4, 32),
      message(4, 1200), // unknown receiver index
      message(9, 148), // no such message type
      initiation!, // a genuine initiation, replayed from another address
    ];
    for (const m of hostile) {
      await new Promise((r) => stranger.send(m, a.listenPort, '127.0.0.1', r));
    }
    const rxBefore = a.peers()[0].rxBytes;
    // B's next keepalive arrives after all of the above on the same socket: once it is counted, A has
    // handled every hostile datagram, and any reply would already be in the stranger's socket.
    await waitFor('a keepalive from B after the hostile datagrams', () => a.peers()[0].rxBytes > rxBefore, {
      timeoutMs: 5_000,
    });
    await new Promise((r) => setImmediate(r));
    expect(repliesToStranger).toBe(0);
    expect(a.peers()).toHaveLength(1);
    expect(a.peers()[0].endpoint, 'the replay did not move the endpoint').toBe(`127.0.0.1:${relay.address().port}`);
  });
});
