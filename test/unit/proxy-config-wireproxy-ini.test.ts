// What wireproxy reads where, as its source (config.go, 2026-07) reads it: every [Interface] key of the file
// a WGConfig names, CheckAlive and CheckAliveInterval included; `$VAR` in CertFile, KeyFile and
// ResolveStrategy too; and values as its INI library reads them: an inline comment from the first `#` or `;`
// (its README's samples write `InactivityTimeout = 30 # ...`), one pair of quotes dropped.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { run } from '../../ts/cli/proxy';
import { parseWireproxy, takeCheckAlive } from '../../ts/cli/proxy-config';
import { expandWgText, iniValue, parseWireproxyWg } from '../../ts/cli/proxy-env';

const KEY = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';
const PUB = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
const WG = `[Interface]\nPrivateKey = ${KEY}\nAddress = 10.0.0.2/32\nDNS = 10.0.0.1\n\n[Peer]\nPublicKey = ${PUB}\nEndpoint = 127.0.0.1:51820\n`;

describe('a WGConfig file', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wp-ini-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string): string => {
    const file = path.join(dir, name);
    writeFileSync(file, text, { mode: 0o600 });
    return file;
  };
  /** `wiretun proxy -n FILE`: its exit code, and what it printed or threw. */
  const configTest = async (file: string): Promise<{ code: number; out: string }> => {
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
    try {
      return { code: await run(['-n', '-c', file]), out };
    } catch (err) {
      return { code: 1, out: (err as Error).message };
    } finally {
      spy.mockRestore();
    }
  };

  it('may hold CheckAlive and CheckAliveInterval in its [Interface], as wireproxy reads them there', async () => {
    const alive = WG.replace('DNS = 10.0.0.1\n', 'DNS = 10.0.0.1\nCheckAlive = 10.0.0.1, fd00::1 # the server\nCheckAliveInterval = 3\n');
    write('provider.conf', alive);
    const main = write('wp.conf', 'WGConfig = provider.conf\n\n[Socks5]\nBindAddress = 127.0.0.1:25344\n');
    expect(await configTest(main)).toEqual({ code: 0, out: 'Config OK\n' });
    const taken = takeCheckAlive(alive, 'provider.conf', {});
    expect(taken.checkAlive).toEqual({ ips: ['10.0.0.1', 'fd00::1'], interval: 3, where: 'provider.conf:5' });
    // Line for line without them, and a wg-quick config then.
    expect(taken.text.split('\n')).toHaveLength(alive.split('\n').length);
    expect(parseWireproxyWg(taken.text, 'provider.conf', {}).device.peers).toHaveLength(1);
  });

  it('refuses CheckAlive given both there and in the main file, naming both places', async () => {
    write('provider.conf', WG.replace('DNS = 10.0.0.1\n', 'DNS = 10.0.0.1\nCheckAlive = 10.0.0.1\n'));
    const main = write('wp.conf', 'WGConfig = provider.conf\n[Interface]\nCheckAlive = 10.0.0.9\n\n[Socks5]\nBindAddress = 127.0.0.1:25344\n');
    const r = await configTest(main);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`CheckAlive: given at ${dir}/provider.conf:5 and at ${main}:3`);
  });
});

describe("values as wireproxy's INI library reads them", () => {
  it('cuts an inline comment at the first # or ;, and drops one pair of quotes', () => {
    expect(iniValue(' 30 # If its set to 0, it will never timeout')).toBe('30');
    expect(iniValue('127.0.0.1:25344 # Update the port here')).toBe('127.0.0.1:25344');
    expect(iniValue('auto ')).toBe('auto');
    expect(iniValue('abc;def')).toBe('abc');
    expect(iniValue('"two words"')).toBe('two words');
    expect(iniValue("'q'")).toBe('q');
    expect(iniValue('"unclosed')).toBe('"unclosed');
    // Backticks and triple quotes keep what is inside whole.
    expect(iniValue('`p#ss;word` # comment')).toBe('p#ss;word');
    expect(iniValue('"""a # b"""')).toBe('a # b');
  });

  it("reads the listener sections of wireproxy's README samples, inline comments and all", () => {
    const text = `${WG}\n[Socks5] # a comment after the header\nBindAddress = 127.0.0.1:25344 # Update the port here for each new server\n`
      + 'Username = alice ; who\nPassword = "s3cret pass"\n\n'
      + '[UDPProxyTunnel]\nBindAddress = 127.0.0.1:53\nTarget = 10.0.0.1:53\nInactivityTimeout = 30 # If its set to 0, it will never timeout\n\n'
      + '[Resolve]\n# the strategy\nResolveStrategy = auto \n';
    const plan = parseWireproxy(text, 'wp.conf', '.', {});
    expect(plan.listeners).toMatchObject([
      { kind: 'socks5', bind: '127.0.0.1:25344', username: 'alice', password: 's3cret pass' },
      { kind: 'udp-forward', bind: '127.0.0.1:53', host: '10.0.0.1', port: 53, inactivityTimeoutS: 30 },
    ]);
    expect(plan.resolve).toBe('auto');
  });

  it('reads the wg-quick keys wireproxy reads that way, and leaves the ones it ignores to wg-quick', () => {
    const text = `; a comment line\n${WG.replace('Address = 10.0.0.2/32', 'Address = 10.0.0.2/32 ; one address')}PersistentKeepalive = 25 ; seconds\n`;
    const wg = parseWireproxyWg(text, 'wp.conf', {});
    expect(wg.device.peers[0].persistentKeepalive).toBe(25);
    expect(wg.addresses).toEqual(['10.0.0.2/32']);
    // PostUp is wg-quick's (wireproxy ignores it): its `;` is not a comment.
    expect(expandWgText('[Interface]\nPostUp = a; b\n', 'f', {})).toBe('[Interface]\nPostUp = a; b\n');
  });

  it('reads $VAR in CertFile, KeyFile and ResolveStrategy, as wireproxy does', () => {
    const env = { CERT: '/etc/tls/cert.pem', KEYF: '/etc/tls/key.pem', STRATEGY: 'ipv6' };
    const plan = parseWireproxy(`${WG}\n[http]\nBindAddress = 127.0.0.1:1\nCertFile = $CERT\nKeyFile = $KEYF\n[Resolve]\nResolveStrategy = $STRATEGY\n`, 'wp.conf', '.', env);
    expect(plan.listeners[0]).toMatchObject({ certFile: '/etc/tls/cert.pem', keyFile: '/etc/tls/key.pem' });
    expect(plan.resolve).toBe('ipv6');
  });
});
