// `wiretun proxy`'s [SNI] section and --sni flag, and the sandbox's paths, flag and log line. Pure parsing;
// the listener and Landlock themselves are tested in crates/wiretun-proxy/tests and test/netns/proxy-sni.test.ts.
import { describe, expect, it } from 'vitest';
import { isWireproxyConfig, parseFlag, parseWireproxy } from '../../ts/cli/proxy-config';
import { parseArgs } from '../../ts/cli/proxy';
import { sandboxLine, sandboxPaths } from '../../ts/cli/proxy-sandbox';

const parse = (text: string): ReturnType<typeof parseWireproxy> => parseWireproxy(text, '/etc/wp.conf', '/etc');

describe('[SNI]', () => {
  it('is a wireproxy section with a BindAddress, case-insensitively', () => {
    const text = 'WGConfig = wg.conf\n\n[SNI]\nBindAddress = 127.0.0.1:443\n\n[sni]\nbindaddress = [::1]:8443\n';
    expect(isWireproxyConfig(text)).toBe(true);
    expect(parse(text).listeners).toEqual([
      { kind: 'sni', bind: '127.0.0.1:443', where: '/etc/wp.conf:3' },
      { kind: 'sni', bind: '[::1]:8443', where: '/etc/wp.conf:6' },
    ]);
  });

  it('refuses other keys and a missing BindAddress with file:line', () => {
    expect(() => parse('WGConfig = wg.conf\n[SNI]\nTarget = a:443\n')).toThrow(/^\/etc\/wp\.conf:3: Target: unknown key in \[sni\]/);
    expect(() => parse('WGConfig = wg.conf\n[SNI]\n')).toThrow(/^\/etc\/wp\.conf:2: BindAddress: required/);
    expect(() => parse('WGConfig = wg.conf\n[SNI]\nBindAddress = example.com:443\n')).toThrow(/^\/etc\/wp\.conf:3: BindAddress: "example\.com" is not an IP address/);
  });

  it('has a --sni flag', () => {
    expect(parseFlag('--sni', '8443')).toEqual({ kind: 'sni', bind: '127.0.0.1:8443', where: '--sni' });
    expect(parseArgs(['wg.conf', '--sni', '0.0.0.0:443'])).toMatchObject({ flags: [{ kind: 'sni', bind: '0.0.0.0:443' }] });
  });
});

describe('sandbox', () => {
  it('is on unless --no-sandbox', () => {
    expect(parseArgs(['wg.conf'])).not.toHaveProperty('noSandbox');
    expect(parseArgs(['wg.conf', '--no-sandbox'])).toMatchObject({ noSandbox: true });
  });

  it('keeps the given files, and the resolver\'s only with --system-dns', () => {
    const p = sandboxPaths(['/etc/wp.conf', '/etc/wp.conf', 'rel/key.pem'], false);
    expect(p.readFiles).toContain('/etc/wp.conf');
    expect(p.readFiles.filter((f) => f === '/etc/wp.conf')).toHaveLength(1);
    expect(p.readFiles).toContain(`${process.cwd()}/rel/key.pem`);
    expect(p.readFiles).not.toContain('/etc/resolv.conf');
    expect(p.writeFiles).toEqual(['/dev/null']);
    const sys = sandboxPaths([], true);
    expect(sys.readFiles).toEqual(expect.arrayContaining(['/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf']));
    expect(sys.readDirs).toContain('/usr/lib');
  });

  it('says which of fully, partially, not supported by this kernel, not on this OS, off', () => {
    expect(sandboxLine({ status: 'full' })).toMatch(/^sandbox: Landlock applied fully/);
    expect(sandboxLine({ status: 'partial', detail: '1 of 9 threads left unrestricted' })).toBe('sandbox: Landlock applied partially: 1 of 9 threads left unrestricted');
    expect(sandboxLine({ status: 'no-kernel-support' })).toMatch(/^sandbox: not applied: this kernel has no Landlock/);
    expect(sandboxLine({ status: 'not-this-os' })).toMatch(/^sandbox: not applied: Landlock is Linux's/);
    expect(sandboxLine('off')).toBe('sandbox: off (--no-sandbox)');
  });
});
