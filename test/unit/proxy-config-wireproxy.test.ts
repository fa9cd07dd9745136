// What a wireproxy-format file means beyond wg-quick's syntax, and wireproxy's command line on `wiretun
// proxy`: `$VAR` values from the environment (where wireproxy reads them so, `$$` for a literal `$`, an unset
// one an error naming file:line and the variable but no value), a [Peer] without AllowedIPs routing
// everything (a plain wg-quick file keeps wg-quick's meaning), -c/-n/-s/-d/-v/-i and the default paths.
import { describe, expect, it } from 'vitest';
import { parseFlag, parseWireproxy } from '../../ts/cli/proxy-config';
import { checkNames, configFile, defaultConfigPaths, parseArgs } from '../../ts/cli/proxy';
import { DEFAULT_ALLOWED_IPS, expandValue, expandWgText, parseWireproxyWg } from '../../ts/cli/proxy-env';
import { parseConfig } from '../../ts/config/parse';

const KEY = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';
const PUB = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
const ENV = { WG_KEY: KEY, PEER_KEY: PUB, NETS: '10.0.0.0/8, fd00::/8', SOCKS: '127.0.0.1:1080', USER: 'alice', PASS: 'p#ss w$rd' };

const WG = `[Interface]
PrivateKey = $WG_KEY
Address = 10.0.0.2/32
DNS = 10.0.0.1

[Peer]
PublicKey = $PEER_KEY
Endpoint = 127.0.0.1:51820
`;

describe('$VAR values in wireproxy files', () => {
  it('reads the keys wireproxy reads from the environment, in the wg-quick part and the listeners', () => {
    const text = `${WG}AllowedIPs = $NETS\n\n[Socks5]\nBindAddress = $SOCKS\nUsername = $USER\nPassword = $PASS\n`;
    const plan = parseWireproxy(text, '/etc/wp.conf', '/etc', ENV);
    expect(plan.listeners[0]).toMatchObject({ kind: 'socks5', bind: '127.0.0.1:1080', username: 'alice', password: 'p#ss w$rd' });
    const wg = parseWireproxyWg((plan.wg as { text: string }).text, '/etc/wp.conf', ENV);
    expect(wg.device.privateKey!.toString('base64')).toBe(KEY);
    expect(wg.device.peers[0].publicKey.toString('base64')).toBe(PUB);
    expect(wg.device.peers[0].allowedIps).toEqual(['10.0.0.0/8', 'fd00::/8']);
  });

  it('takes $$ at the start for a literal $, and leaves a $ further in alone', () => {
    const where = { file: 'f', line: 1, key: 'Password' };
    expect(expandValue('$$secret', where, {})).toBe('$secret');
    expect(expandValue('$$$X', where, {})).toBe('$$X');
    expect(expandValue('pa$X', where, {})).toBe('pa$X');
    const plan = parseWireproxy(`${WG}\n[Socks5]\nBindAddress = 127.0.0.1:1\nUsername = u\nPassword = $$LITERAL\n`, 'f', '.', ENV);
    expect(plan.listeners[0].password).toBe('$LITERAL');
  });

  it('names file:line, key and variable of an unset one, never a value', () => {
    expect(() => parseWireproxyWg(WG, '/etc/wp.conf', { PEER_KEY: PUB })).toThrow(/^\/etc\/wp.conf:2: PrivateKey: environment variable "WG_KEY" is not set$/);
    const text = `${WG}\n[Socks5]\nBindAddress = 127.0.0.1:1\nUsername = u\nPassword = $NOPE\n`;
    expect(() => parseWireproxy(text, '/etc/wp.conf', '/etc', ENV)).toThrow(/^\/etc\/wp.conf:13: Password: environment variable "NOPE" is not set$/);
    // A value that would change how the line reads is refused, and not shown.
    let message = '';
    try {
      parseWireproxyWg(WG, 'f', { ...ENV, WG_KEY: `${KEY}\nPostUp = x` });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^f:2: PrivateKey: environment variable WG_KEY holds a line break/);
    expect(message).not.toContain(KEY);
  });

  it('leaves keys wireproxy reads as they are, and a plain wg-quick file, alone', () => {
    // wireproxy reads ListenPort, MTU, Endpoint... without the lookup: a $ there stays (and is then refused).
    expect(expandWgText('[Interface]\nListenPort = $PORT\n', 'f', { PORT: '1' })).toBe('[Interface]\nListenPort = $PORT\n');
    expect(() => parseConfig(WG, { file: 'wg0.conf' })).toThrow(/wg0.conf:2: /);
  });

  it('reads $VAR in CheckAlive and a TCPClientTunnel Target', () => {
    const text = `${WG.replace('[Peer]', 'CheckAlive = $PING\n[Peer]')}\n[TCPClientTunnel]\nBindAddress = 127.0.0.1:2\nTarget = $TARGET\n`;
    const plan = parseWireproxy(text, 'f', '.', { ...ENV, PING: '10.0.0.1', TARGET: 'db.internal:5432' });
    expect(plan.checkAlive?.ips).toEqual(['10.0.0.1']);
    expect(plan.listeners[0]).toMatchObject({ kind: 'forward', host: 'db.internal', port: 5432 });
  });
});

describe('a [Peer] without AllowedIPs', () => {
  it('routes everything in a wireproxy file, and nothing in a plain wg-quick file', () => {
    const wg = parseWireproxyWg(WG, 'wp.conf', ENV);
    expect(wg.device.peers[0].allowedIps).toEqual(DEFAULT_ALLOWED_IPS);
    expect(DEFAULT_ALLOWED_IPS).toEqual(['0.0.0.0/0', '::/0']);
    const plain = parseConfig(WG.replace('$WG_KEY', KEY).replace('$PEER_KEY', PUB), { file: 'wg0.conf' });
    expect(plain.device.peers[0].allowedIps).toEqual([]);
  });
});

describe("wireproxy's command line", () => {
  it('takes -c/--config, -n, -s and -i as wireproxy does, next to the listener flags', () => {
    expect(parseArgs(['-c', '/etc/wp.conf'])).toEqual({ config: '/etc/wp.conf', flags: [] });
    expect(parseArgs(['--config', 'wp.conf', '-n'])).toEqual({ config: 'wp.conf', flags: [], configTest: true });
    expect(parseArgs(['--configtest', '--silent', 'wp.conf'])).toEqual({ config: 'wp.conf', flags: [], configTest: true, silent: true });
    expect(parseArgs(['-s', '-c', 'wp.conf', '-i', '127.0.0.1:9080'])).toMatchObject({ silent: true, info: '127.0.0.1:9080' });
    expect(parseArgs(['-c', 'a.conf', '-L', '1:10.0.0.1:1'])).toMatchObject({ config: 'a.conf', flags: [{ kind: 'forward' }] });
    expect(parseArgs(['-c', 'a.conf', 'b.conf'])).toEqual({ error: 'unexpected argument b.conf' });
    expect(parseArgs(['a.conf', '-c', 'b.conf'])).toEqual({ error: 'two configs: a.conf and b.conf' });
    expect(parseArgs(['-c'])).toEqual({ error: '-c needs a value' });
    expect(parseArgs(['--config=/etc/wp.conf', '--info=127.0.0.1:9080'])).toEqual({ config: '/etc/wp.conf', flags: [], info: '127.0.0.1:9080' });
  });

  it('prints the version, and refuses -d with the reason', () => {
    expect(parseArgs(['-v'])).toEqual({ version: true });
    expect(parseArgs(['--version', '-c', 'x'])).toEqual({ version: true });
    for (const d of ['-d', '--daemon']) expect(parseArgs(['-c', 'wp.conf', d])).toEqual({ refused: expect.stringMatching(/^-d\/--daemon: .*service manager/) });
  });

  it("falls back to wireproxy's default paths, in order", () => {
    const home = process.env.HOME;
    try {
      process.env.HOME = '/home/u';
      expect(defaultConfigPaths()).toEqual(['/etc/wireproxy/wireproxy.conf', '/home/u/.config/wireproxy.conf']);
      expect(configFile('given.conf', () => false)).toBe('given.conf');
      expect(configFile(undefined, () => true)).toBe('/etc/wireproxy/wireproxy.conf');
      expect(configFile(undefined, (p) => p.startsWith('/home'))).toBe('/home/u/.config/wireproxy.conf');
      expect(() => configFile(undefined, () => false)).toThrow(/no config given .* none at \/etc\/wireproxy\/wireproxy.conf or \/home\/u\/.config\/wireproxy.conf/);
    } finally {
      process.env.HOME = home;
    }
  });
});

describe('forward targets by name', () => {
  it('are refused at start only when nothing could ever resolve them', () => {
    const plan = parseWireproxy(`${WG}\n[TCPClientTunnel]\nBindAddress = 127.0.0.1:2\nTarget = db.internal:5432\n[TCPServerTunnel]\nListenPort = 1\nTarget = localhost:2\n`, '/etc/wp.conf', '/etc', ENV);
    expect(() => checkNames(plan.listeners, true)).not.toThrow();
    expect(() => checkNames(plan.listeners, false)).toThrow(/^\/etc\/wp.conf:10: target db.internal: a name needs DNS servers/);
    // A reverse forward's name is this host's (its resolver), and an address needs none.
    expect(() => checkNames([plan.listeners[1], parseFlag('-L', '1:10.0.0.1:1')], false)).not.toThrow();
  });
});
