// `wiretun proxy`'s wireproxy extras in the config: [http] CertFile/KeyFile (and the PEM check before
// anything binds), [Resolve] ResolveStrategy, [Interface] CheckAlive/CheckAliveInterval, and the CheckAlive
// state behind /readyz and /metrics. Pure parsing plus node:crypto; the pings are faked.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isWireproxyConfig, parseWireproxy } from '../../ts/cli/proxy-config';
import { checkTls } from '../../ts/cli/proxy-tls';
import { AliveChecker } from '../../ts/cli/proxy-alive';
import { parseConfig } from '../../ts/config/parse';

const KEY = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';
const PUB = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
const WG = `[Interface]\nPrivateKey = ${KEY}\nAddress = 10.0.0.2/32\n\n[Peer]\nPublicKey = ${PUB}\nEndpoint = 127.0.0.1:51820\nAllowedIPs = 0.0.0.0/0\n`;
const HTTP = '[http]\nBindAddress = 127.0.0.1:8443\n';

const parse = (text: string): ReturnType<typeof parseWireproxy> => parseWireproxy(text, '/etc/wp.conf', '/etc');
function throwsAt(text: string, line: number, re: RegExp): void {
  expect(() => parse(text)).toThrow(new RegExp(`^/etc/wp.conf:${line}: ${re.source}`));
}

describe('[http] CertFile/KeyFile', () => {
  it('makes the HTTP proxy an HTTPS one, paths relative to the config', () => {
    const plan = parse(`${WG}\n${HTTP}CertFile = tls/cert.pem\nKeyFile = /k/key.pem\n`);
    expect(plan.listeners[0]).toMatchObject({
      kind: 'http', bind: '127.0.0.1:8443', certFile: '/etc/tls/cert.pem', keyFile: '/k/key.pem',
      tlsWhere: { file: '/etc/wp.conf', cert: 12, key: 13 },
    });
  });

  it('needs both files', () => {
    throwsAt(`${WG}\n${HTTP}CertFile = c.pem\n`, 12, /KeyFile: required with CertFile/);
    throwsAt(`${WG}\n${HTTP}KeyFile = k.pem\n`, 12, /CertFile: required with KeyFile/);
    throwsAt(`${WG}\n${HTTP}CertFile =\nKeyFile = k.pem\n`, 12, /CertFile: a path is required/);
    throwsAt(`${WG}\n[Socks5]\nBindAddress = 127.0.0.1:1080\nCertFile = c.pem\n`, 12, /CertFile: unknown key in \[socks5\]/);
  });

  describe('PEM check before binding', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wiretun-tls-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const make = (name: string): void => {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-subj', '/CN=t', '-days', '1', '-keyout', path.join(dir, `${name}.key`), '-out', path.join(dir, `${name}.crt`)], { stdio: 'ignore' });
    };
    const listener = (cert: string, key: string): Parameters<typeof checkTls>[0] => ({
      kind: 'http', bind: '127.0.0.1:1', where: 'wp.conf:10',
      certFile: path.join(dir, cert), keyFile: path.join(dir, key), tlsWhere: { file: 'wp.conf', cert: 11, key: 12 },
    });

    it('accepts a matching pair and names the file and line of a bad one', async () => {
      make('a');
      make('b');
      writeFileSync(path.join(dir, 'junk.pem'), 'not a certificate\n');
      await expect(checkTls(listener('a.crt', 'a.key'))).resolves.toBeUndefined();
      await expect(checkTls(listener('missing.crt', 'a.key'))).rejects.toThrow(/^wp.conf:11: CertFile: cannot read .*missing.crt: ENOENT/);
      await expect(checkTls(listener('junk.pem', 'a.key'))).rejects.toThrow(/^wp.conf:11: CertFile: .*junk.pem is not a PEM certificate/);
      await expect(checkTls(listener('a.crt', 'junk.pem'))).rejects.toThrow(/^wp.conf:12: KeyFile: .*junk.pem is not a PEM private key/);
      const mismatch = checkTls(listener('a.crt', 'b.key'));
      await expect(mismatch).rejects.toThrow(/^wp.conf:12: KeyFile: .*b.key is not the key of the certificate/);
      // The key's bytes never reach the message.
      await mismatch.catch((err: Error) => expect(err.message).not.toContain('PRIVATE KEY'));
    });
  });
});

describe('[Resolve]', () => {
  it('takes ResolveStrategy auto, ipv4 or ipv6, case-insensitively', () => {
    expect(parse(`${WG}\n${HTTP}`).resolve).toBeUndefined();
    expect(parse(`${WG}\n${HTTP}\n[Resolve]\nResolveStrategy = IPv4\n`).resolve).toBe('ipv4');
    expect(parse(`${WG}\n[resolve]\nresolvestrategy = ipv6\n${HTTP}`).resolve).toBe('ipv6');
    expect(parse(`${WG}\n${HTTP}\n[Resolve]\n`).resolve).toBe('auto');
    expect(isWireproxyConfig(`${WG}\n[Resolve]\nResolveStrategy = auto\n`)).toBe(true);
  });

  it('refuses other values, other keys and a second section', () => {
    throwsAt(`${WG}\n${HTTP}\n[Resolve]\nResolveStrategy = prefer_ipv4\n`, 14, /ResolveStrategy: "prefer_ipv4" is not auto, ipv4 or ipv6/);
    throwsAt(`${WG}\n${HTTP}\n[Resolve]\nNameserver = 1.1.1.1\n`, 14, /Nameserver: unknown key in \[resolve\]/);
    throwsAt(`${WG}\n${HTTP}\n[Resolve]\n[Resolve]\n`, 14, /\[Resolve\]: given twice/);
  });
});

describe('[Interface] CheckAlive', () => {
  const alive = `${WG.replace('Address = 10.0.0.2/32\n', 'Address = 10.0.0.2/32\nCheckAlive = 10.0.0.1, fd00::1\nCheckAliveInterval = 3\n')}\n${HTTP}`;

  it('takes the addresses and interval out of the wg-quick part', () => {
    const plan = parse(alive);
    expect(plan.checkAlive).toEqual({ ips: ['10.0.0.1', 'fd00::1'], interval: 3, where: '/etc/wp.conf:4' });
    const wg = parseConfig((plan.wg as { text: string }).text, { file: '/etc/wp.conf' });
    expect(wg.addresses).toEqual(['10.0.0.2/32']);
    expect(parse(alive.replace('CheckAliveInterval = 3\n', '')).checkAlive?.interval).toBe(5);
  });

  it('goes with WGConfig in an [Interface] of its own', () => {
    const plan = parse(`WGConfig = wg0.conf\n[Interface]\nCheckAlive = 10.0.0.1\n${HTTP}`);
    expect(plan.wg).toEqual({ path: '/etc/wg0.conf', wireproxy: true });
    expect(plan.checkAlive?.ips).toEqual(['10.0.0.1']);
    expect(isWireproxyConfig(`${WG}CheckAlive = 10.0.0.1\n`)).toBe(true);
    expect(() => parse(`WGConfig = wg0.conf\n[Interface]\nCheckAlive = 10.0.0.1\nMTU = 1280\n${HTTP}`)).toThrow(/WGConfig and an inline/);
  });

  it('refuses what is not an address list or a whole number of seconds', () => {
    throwsAt(alive.replace('10.0.0.1, fd00::1', '10.0.0.1, example.com'), 4, /CheckAlive: "example.com" is not an IP address/);
    throwsAt(alive.replace('CheckAliveInterval = 3', 'CheckAliveInterval = 0'), 5, /CheckAliveInterval: "0" is not a whole number of seconds >= 1/);
    throwsAt(alive.replace('CheckAliveInterval = 3', 'CheckAliveInterval = 2.5'), 5, /CheckAliveInterval: "2.5" is not/);
    throwsAt(alive.replace('CheckAlive = 10.0.0.1, fd00::1\n', ''), 4, /CheckAliveInterval: needs CheckAlive/);
    throwsAt(alive.replace('CheckAliveInterval = 3', 'CheckAlive = 10.0.0.9'), 5, /CheckAlive: given twice/);
  });
});

describe('CheckAlive state (/readyz, /metrics)', () => {
  it('is ready while every address answered within the interval + 2 s, with wireproxy\'s JSON body', async () => {
    const answers = new Map<string, boolean>([['10.0.0.1', true], ['10.0.0.9', false]]);
    const logs: string[] = [];
    const checker = new AliveChecker({ ips: ['10.0.0.1', '10.0.0.9'], interval: 3, where: 'f:1' },
      async (ip) => (answers.get(ip) ? 1.5 : Promise.reject(new Error('ETIMEDOUT: no reply'))), (l) => logs.push(l));
    expect(checker.ready()).toBe(false);
    expect(JSON.parse(checker.json())).toEqual({ '10.0.0.1': 0, '10.0.0.9': 0 });
    await checker.round();
    expect(checker.ready()).toBe(false);
    const body = JSON.parse(checker.json()) as Record<string, number>;
    expect(body['10.0.0.1']).toBeGreaterThan(1_700_000_000);
    expect(body['10.0.0.9']).toBe(0);
    expect(checker.metrics()).toMatch(/wiretun_proxy_check_alive_up\{target="10.0.0.1"\} 1\n/);
    expect(checker.metrics()).toMatch(/wiretun_proxy_check_alive_up\{target="10.0.0.9"\} 0\n/);
    expect(checker.metrics()).toMatch(/wiretun_proxy_check_alive_rtt_seconds\{target="10.0.0.1"\} 0.0015\n/);
    answers.set('10.0.0.9', true);
    await checker.round();
    expect(checker.ready()).toBe(true);
    expect(checker.ready(Date.now() + 5_500)).toBe(false);
    expect(logs).toEqual([
      'CheckAlive 10.0.0.1 answers (1.5 ms)', 'CheckAlive 10.0.0.9 does not answer: ETIMEDOUT: no reply', 'CheckAlive 10.0.0.9 answers (1.5 ms)',
    ]);
  });
});
