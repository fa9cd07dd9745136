// `wiretun proxy`'s config: wireproxy's INI and the flags, parsed with nothing bound; every error names
// file:line and key.
import { describe, expect, it } from 'vitest';
import { exposureWarning, isWireproxyConfig, parseFlag, parseWireproxy } from '../../ts/cli/proxy-config';
import { parseArgs } from '../../ts/cli/proxy';
import { parseConfig } from '../../ts/config/parse';
import { metrics, readyz } from '../../ts/cli/proxy-info';
import type { PeerStatus } from '../../ts/tunnel';

const KEY = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';
const PUB = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';

const INLINE = `# wireproxy
[Interface]
PrivateKey = ${KEY}
Address = 10.0.0.2/32
DNS = 10.0.0.1

[Peer]
PublicKey = ${PUB}
Endpoint = 127.0.0.1:51820
AllowedIPs = 0.0.0.0/0

[Socks5]
BindAddress = 127.0.0.1:25344
Username = alice
Password = s3cret

[http]
bindaddress = 0.0.0.0:8080

[TCPClientTunnel]
BindAddress = 127.0.0.1:2222
Target = server.internal:22

[TCPServerTunnel]
ListenPort = 3422
Target = localhost:25545
`;

function throwsAt(text: string, line: number, re: RegExp): void {
  expect(() => parseWireproxy(text, '/etc/wp.conf', '/etc')).toThrow(new RegExp(`^/etc/wp.conf:${line}: ${re.source}`));
}

describe('wireproxy config', () => {
  it('reads every listener section, case-insensitively, and keeps the wg-quick part at its line numbers', () => {
    expect(isWireproxyConfig(INLINE)).toBe(true);
    expect(isWireproxyConfig('[Interface]\nPrivateKey = x\n')).toBe(false);
    const plan = parseWireproxy(INLINE, '/etc/wp.conf', '/etc');
    expect(plan.listeners.map(({ where: _w, ...l }) => l)).toEqual([
      { kind: 'socks5', bind: '127.0.0.1:25344', username: 'alice', password: 's3cret' },
      { kind: 'http', bind: '0.0.0.0:8080' },
      { kind: 'forward', bind: '127.0.0.1:2222', host: 'server.internal', port: 22 },
      { kind: 'reverse', listenPort: 3422, host: 'localhost', port: 25545 },
    ]);
    expect(plan.listeners[0].where).toBe('/etc/wp.conf:12');
    if (!('text' in plan.wg)) throw new Error('expected inline');
    const wg = parseConfig(plan.wg.text, { file: plan.wg.file });
    expect(wg.addresses).toEqual(['10.0.0.2/32']);
    expect(wg.device.peers).toHaveLength(1);
    // A wg-quick error in the inline part points at the wireproxy file's own line.
    const bad = parseWireproxy(INLINE.replace('Address = 10.0.0.2/32', 'Address = nope'), '/etc/wp.conf', '/etc');
    expect(() => parseConfig((bad.wg as { text: string }).text, { file: '/etc/wp.conf' })).toThrow(/^\/etc\/wp.conf:4: /);
  });

  it('takes WGConfig relative to the file', () => {
    const plan = parseWireproxy('WGConfig = wg0.conf\n[Socks5]\nBindAddress = 127.0.0.1:1080\n', '/etc/wp.conf', '/etc');
    expect(plan.wg).toEqual({ path: '/etc/wg0.conf', wireproxy: true });
  });

  it('refuses what it does not support, and mistakes, with file:line and key', () => {
    const udp = (idle: string): string => `${INLINE}\n[UDPProxyTunnel]\nBindAddress = 127.0.0.1:53\nTarget = 10.0.0.1:53\nInactivityTimeout = ${idle}\n`;
    expect(parseWireproxy(udp('5'), 'f', '.').listeners[4]).toMatchObject({ kind: 'udp-forward', inactivityTimeoutS: 5 });
    expect(parseWireproxy(udp('0'), 'f', '.').listeners[4]).toMatchObject({ inactivityTimeoutS: 0 });
    for (const bad of ['-1', '1.5', '5s', '', '99999999']) throwsAt(udp(bad), 31, /InactivityTimeout: .* is not a whole number of seconds/);
    expect(parseWireproxy(`${INLINE}\n[UDPProxyTunnel]\nBindAddress = 127.0.0.1:53\nTarget = 10.0.0.1:53\n`, 'f', '.').listeners[4])
      .toMatchObject({ kind: 'udp-forward', bind: '127.0.0.1:53', host: '10.0.0.1', port: 53 });
    expect(parseFlag('-L', '5353:10.0.0.1:53/udp')).toMatchObject({ kind: 'udp-forward', bind: '127.0.0.1:5353', host: '10.0.0.1', port: 53 });
    expect(parseWireproxy(`${INLINE}\n[STDIOTunnel]\nTarget = a:22\n`, 'f', '.').listeners[4]).toMatchObject({ kind: 'stdio', host: 'a', port: 22 });
    expect(parseFlag('--stdio', '[fd00::1]:22')).toMatchObject({ kind: 'stdio', host: 'fd00::1', port: 22 });
    throwsAt(`${INLINE}\n[Bogus]\n`, 28, /unknown section \[Bogus\]/);
    throwsAt(INLINE.replace('Username = alice', 'Usename = alice'), 14, /Usename: unknown key in \[socks5\]/);
    throwsAt(INLINE.replace('Password = s3cret\n', ''), 14, /Username: Username and Password go together/);
    throwsAt(INLINE.replace('127.0.0.1:25344', '127.0.0.1:99999'), 13, /BindAddress: "99999" is not a port/);
    throwsAt(INLINE.replace('127.0.0.1:25344', 'example.com:1080'), 13, /BindAddress: "example.com" is not an IP address/);
    throwsAt(INLINE.replace('Target = server.internal:22', 'Target = server.internal'), 22, /Target: "server.internal" is not HOST:PORT/);
    throwsAt(INLINE.replace('ListenPort = 3422\n', ''), 24, /ListenPort: required/);
    throwsAt(INLINE.replace('bindaddress = 0.0.0.0:8080', 'bindaddress = 0.0.0.0:8080\nCertFile = c.pem'), 19, /KeyFile: required with CertFile/);
    throwsAt(`Foo = 1\n${INLINE}`, 1, /Foo: unknown key before any section/);
    throwsAt(`${INLINE}\n[Socks5]\njunk\n`, 29, /junk: expected Key = Value/);
    expect(() => parseWireproxy('[Socks5]\nBindAddress = 127.0.0.1:1\n', 'f', '.')).toThrow(/no WireGuard config/);
    expect(() => parseWireproxy(`WGConfig = a\n${INLINE}`, 'f', '.')).toThrow(/WGConfig and an inline/);
  });
});

describe('proxy flags', () => {
  it('parses each listener flag', () => {
    const strip = (f: string, v: string): unknown => {
      const { where: _w, ...l } = parseFlag(f, v);
      return l;
    };
    expect(strip('--socks5', '1080')).toEqual({ kind: 'socks5', bind: '127.0.0.1:1080' });
    expect(strip('--socks5', 'u:p:w@[::1]:1080')).toEqual({ kind: 'socks5', bind: '[::1]:1080', username: 'u', password: 'p:w' });
    expect(strip('--http', 'localhost:3128')).toEqual({ kind: 'http', bind: '127.0.0.1:3128' });
    expect(strip('-L', '8080:10.0.0.1:80')).toEqual({ kind: 'forward', bind: '127.0.0.1:8080', host: '10.0.0.1', port: 80 });
    expect(strip('-L', '0.0.0.0:8080:[fd00::1]:80')).toEqual({ kind: 'forward', bind: '0.0.0.0:8080', host: 'fd00::1', port: 80 });
    expect(strip('-R', '80:127.0.0.1:8000')).toEqual({ kind: 'reverse', listenPort: 80, host: '127.0.0.1', port: 8000 });
  });

  it('refuses bad flags and arguments', () => {
    expect(() => parseFlag('-L', '8080')).toThrow(/^-L 8080: expected PORT:HOST:PORT/);
    expect(() => parseFlag('-L', 'x:8080:a:80')).toThrow(/"x" is not an IP address/);
    expect(() => parseFlag('-R', '0:a:80')).toThrow(/"0" is not a port/);
    expect(() => parseFlag('--socks5', '@1080')).toThrow(/credentials are USER:PASS@/);
    // No CONFIG is not an error here: wireproxy's default paths are looked up when it runs.
    expect(parseArgs([])).toEqual({ flags: [] });
    expect(parseArgs(['a.conf', '-L'])).toEqual({ error: '-L needs a value' });
    expect(parseArgs(['a.conf', '--bogus'])).toEqual({ error: 'unknown option --bogus' });
    expect(parseArgs(['a.conf', 'b.conf'])).toEqual({ error: 'unexpected argument b.conf' });
    expect(parseArgs(['a.conf', '--help'])).toEqual({ help: true });
  });

  it('chooses the TCP engine with --tcp-engine, and refuses an unknown one', () => {
    expect(parseArgs(['a.conf'])).not.toHaveProperty('tcpEngine');
    expect(parseArgs(['a.conf', '--tcp-engine', 'smoltcp'])).toMatchObject({ tcpEngine: 'smoltcp' });
    expect(parseArgs(['a.conf', '--tcp-engine=tcp2'])).toMatchObject({ tcpEngine: 'tcp2' });
    expect(parseArgs(['a.conf', '--tcp-engine', 'reno'])).toEqual({ error: '--tcp-engine reno: not tcp2 or smoltcp' });
    expect(parseArgs(['a.conf', '--tcp-engine'])).toEqual({ error: '--tcp-engine needs a value' });
  });

  it('warns about listeners others can reach without credentials', () => {
    expect(exposureWarning(parseFlag('--socks5', '1080'))).toBeUndefined();
    expect(exposureWarning(parseFlag('--socks5', '0.0.0.0:1080'))).toMatch(/without credentials on 0.0.0.0:1080/);
    expect(exposureWarning(parseFlag('--socks5', 'a:b@0.0.0.0:1080'))).toBeUndefined();
    expect(exposureWarning(parseFlag('-L', '[::]:80:10.0.0.1:80'))).toMatch(/a forward on \[::\]:80/);
  });
});

describe('proxy --info', () => {
  const peer = (lastHandshake: Date | null): PeerStatus => ({
    publicKey: PUB, hasPresharedKey: false, endpoint: null, allowedIps: ['10.0.0.0/24', 'fd00::/64'],
    lastHandshake, rxBytes: 10, txBytes: 20, persistentKeepalive: 0,
  });

  it('is ready only after a handshake younger than 3 minutes', () => {
    const now = Date.parse('2026-01-01T00:10:00Z');
    expect(readyz([peer(null)], now)).toBe(false);
    expect(readyz([peer(new Date(now - 200_000))], now)).toBe(false);
    expect(readyz([peer(null), peer(new Date(now - 5_000))], now)).toBe(true);
  });

  it('uses the exporter metric names and labels', () => {
    const text = metrics('wp', [peer(new Date(1_700_000_000_000))]);
    expect(text).toContain(`wireguard_sent_bytes_total{interface="wp",public_key="${PUB}",allowed_ips="10.0.0.0/24,fd00::/64"} 20\n`);
    expect(text).toContain('wireguard_received_bytes_total{');
    expect(text).toMatch(/wireguard_latest_handshake_seconds\{.*\} 1700000000\n/);
    expect(text).not.toContain(KEY);
  });

  it('takes --info ADDR', () => {
    expect(parseArgs(['a.conf', '-L', '1:10.0.0.1:1', '--info', '9090'])).toMatchObject({ info: '127.0.0.1:9090' });
    expect(parseArgs(['a.conf', '--info', 'x:1'])).toEqual({ error: '--info x:1: "x" is not an IP address (listeners bind to addresses)' });
  });
});
