// The gateway's pure parts: reading the location's address, choosing which clients to initiate to after a
// takeover and the UAPI lines that make the device do it, the health rows, the role's password verifier, the
// postgres.js crash the guard drops, and the command line (run through bin/wiretun, as a user would).
import { beforeAll, describe, expect, it } from 'vitest';
import { PeerState } from '../../ts/config/model';
import { scramVerifier, gatewayUrl } from '../../ts/gateway/grant';
import { peerStat } from '../../ts/gateway/health';
import { floatingAddress, initiationUpdates, movedPeers, RECENT_MS } from '../../ts/gateway/takeover';
import { isClosedSocketWrite } from '../../ts/serve/pg/guard';
import { emptyDeviceUpdate } from '../../ts/config/model';
import { formatSet } from '../../ts/uapi/codec';
import { assertBuilt, wiretun } from './cli-helpers';

const NOW = 1_800_000_000_000;

function peer(n: number, handshakeMs = 0, over: Partial<PeerState> = {}): PeerState {
  return {
    publicKey: Buffer.alloc(32, n),
    presharedKey: null,
    endpoint: null,
    lastHandshakeSec: Math.floor(handshakeMs / 1000),
    lastHandshakeNsec: (handshakeMs % 1000) * 1e6,
    rxBytes: 0,
    txBytes: 0,
    persistentKeepalive: 0,
    allowedIps: [`10.9.0.${n}/32`],
    ...over,
  };
}

const b64 = (n: number) => Buffer.alloc(32, n).toString('base64');
const hex = (n: number) => Buffer.alloc(32, n).toString('hex');

describe('gateway takeover', () => {
  it.each([
    ['192.0.2.7:51820', '192.0.2.7'],
    ['192.0.2.7', '192.0.2.7'],
    ['[2001:db8::7]:51820', '2001:db8::7'],
    ['2001:DB8:0::7', '2001:db8::7'],
    ['vpn.example.com:51820', undefined],
    ['vpn.example.com', undefined],
    [null, undefined],
  ])('the address of endpoint %s is %s', (endpoint, address) => {
    expect(floatingAddress(endpoint)).toBe(address);
  });

  it('initiates to clients whose latest handshake was with another gateway, recently', () => {
    const seen = new Map([
      [b64(1), { gateway: 'gw0', endpoint: '198.51.100.1:4000', lastHandshake: NOW - 5_000 }],
      [b64(2), { gateway: 'gw1', endpoint: '198.51.100.2:4000', lastHandshake: NOW - 5_000 }], // ours
      [b64(3), { gateway: 'gw0', endpoint: '198.51.100.3:4000', lastHandshake: NOW - 9_000 }], // older than ours
    ]);
    const peers = [peer(1), peer(2), peer(3, NOW - 2_000), peer(4)];
    expect(movedPeers(peers, seen, 'gw1').map((m) => [m.peer.publicKey[0], m.endpoint])).toEqual([[1, '198.51.100.1:4000']]);
  });

  it('turns keepalive off and on to send at once, and restores it', () => {
    const body = formatSet({ ...emptyDeviceUpdate(), peers: initiationUpdates(peer(1, 0, { persistentKeepalive: 25 }), '198.51.100.1:4000', NOW) });
    const k = `public_key=${hex(1)}\nupdate_only=true\n`;
    expect(body).toBe(
      `${k}endpoint=198.51.100.1:4000\npersistent_keepalive_interval=0\n${k}persistent_keepalive_interval=1\n${k}persistent_keepalive_interval=25\n`,
    );
  });

  it('drops a session this device may still hold first, so a new initiation goes out rather than a stale keepalive', () => {
    const p = peer(1, NOW - RECENT_MS + 10_000, { presharedKey: Buffer.alloc(32, 9) });
    const body = formatSet({ ...emptyDeviceUpdate(), peers: initiationUpdates(p, '198.51.100.1:4000', NOW) });
    expect(body.startsWith(`public_key=${hex(1)}\nremove=true\npublic_key=${hex(1)}\npreshared_key=${hex(9)}\nreplace_allowed_ips=true\nallowed_ip=10.9.0.1/32\n`)).toBe(true);
    const old = formatSet({ ...emptyDeviceUpdate(), peers: initiationUpdates(peer(1, NOW - RECENT_MS - 1), '198.51.100.1:4000', NOW) });
    expect(old).not.toContain('remove=true');
  });
});

describe('gateway health and database parts', () => {
  it('a peer row: base64 key, counters, handshake in ms or null, endpoint or null', () => {
    expect(peerStat(peer(1, NOW + 123, { rxBytes: 5, txBytes: 6, endpoint: '198.51.100.1:4000' }))).toEqual({
      publicKey: b64(1),
      rx: 5,
      tx: 6,
      lastHandshake: NOW + 123,
      endpoint: '198.51.100.1:4000',
    });
    expect(peerStat(peer(2))).toMatchObject({ lastHandshake: null, endpoint: null });
  });

  it('a SCRAM-SHA-256 verifier as PostgreSQL stores it (checked against an independent computation)', () => {
    const v = scramVerifier('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'));
    expect(v).toBe('SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=');
  });

  it("the gateway's URL keeps the admin URL's host, database and parameters", () => {
    expect(gatewayUrl('postgres://admin:secret@db.example:5433/wiretun?sslmode=require', 'gw_a', 'p/w+')).toBe(
      'postgres://gw_a:p%2Fw%2B@db.example:5433/wiretun?sslmode=require',
    );
  });

  it("recognises postgres.js's write to a closed socket and nothing else", () => {
    const crash = new TypeError("Cannot read properties of null (reading 'write')");
    crash.stack = `${crash.message}\n    at Immediate.nextWrite (/x/node_modules/postgres/src/connection.js:258:22)`;
    expect(isClosedSocketWrite(crash)).toBe(true);
    // What require() loads, and so what the CLI hits.
    crash.stack = `${crash.message}\n    at Immediate.nextWrite (/x/node_modules/postgres/cjs/src/connection.js:258:22)`;
    expect(isClosedSocketWrite(crash)).toBe(true);
    const other = new TypeError("Cannot read properties of null (reading 'write')");
    other.stack = `${other.message}\n    at nextWrite (/x/ts/mine.js:1:1)`;
    expect(isClosedSocketWrite(other)).toBe(false);
    expect(isClosedSocketWrite(new Error('boom'))).toBe(false);
  });
});

describe('wiretun gateway command line', () => {
  beforeAll(assertBuilt);

  it.each([
    [['--bogus'], "Unknown option '--bogus'"],
    [['--location', 'loc'], 'missing --store URL (or WIRETUN_STORE)'],
    [['--store', 'postgres://u:p@h/db'], 'missing --location NAME'],
    [['--store', 'postgres://u:p@h/db', '--location', 'no/slash'], 'is not a location name'],
    [['--store', 'postgres://u:p@h/db', '--location', 'loc', '--interface', 'x'.repeat(16)], 'is not an interface name'],
    [['--store', 'postgres://u:p@h/db', '--location', 'loc', '--name', 'a b'], 'is not a gateway name'],
    [['--store', 'postgres://u:p@h/db', '--location', 'loc', '--health-interval', '0'], 'is not a number of seconds'],
    [['--store', 'postgres://u:p@h/db', '--location', 'loc', 'extra'], "Unexpected argument 'extra'"],
    [['grant', '--store', 'postgres://u:p@h/db', '--location', 'loc'], 'missing --role ROLE'],
    [['grant', '--store', 'postgres://u:p@h/db', '--location', 'loc', '--role', 'x', '--name', 'y'], "Unknown option '--name'"],
  ])('%j is refused with usage, exit 1', (args, message) => {
    const r = wiretun(['gateway', ...args]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain('Usage: wiretun gateway');
    expect(r.stderr).not.toContain(':p@');
  });

  it('--help prints the usage and exits 0; the dispatcher lists it', () => {
    const r = wiretun(['gateway', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('wiretun gateway grant');
    expect(wiretun(['--help']).stdout).toMatch(/^ {2}gateway +run one WireGuard server/m);
  });

  it('a bad role name is refused before connecting, and a store password never shows', () => {
    const r = wiretun(['gateway', 'grant', '--store', 'postgres://admin:hunter2@127.0.0.1:1/db', '--location', 'loc', '--role', 'Bad-Name']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--role "Bad-Name"');
    const c = wiretun(['gateway', 'grant', '--store', 'postgres://admin:hunter2@127.0.0.1:1/db?connect_timeout=1', '--location', 'loc', '--role', 'gw']);
    expect(c.status).toBe(1);
    expect(c.stderr).toMatch(/^wiretun gateway: .*ECONNREFUSED/);
    expect(c.stderr).not.toContain('hunter2');
  });
});
