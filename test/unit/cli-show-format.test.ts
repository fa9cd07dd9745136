// wg-format from fixed device data: the exact text wg(8) prints for the same state (no daemon, no root).
import { describe, expect, it } from 'vitest';
import { DeviceState } from '../../ts/uapi/codec';
import { bytes, fixed2, formatField, formatPretty, formatShowconf, noColour, paintFor, prettyTime, withColour } from '../../ts/cli/wg-format';
import { configPeer, emptyConfig } from '../../ts/config/wgquick';
import { parseAllowedIpsArg, parseFwmarkArg, parseKeepaliveArg, parseSetArgs, setBody } from '../../ts/cli/wg-set';
import { syncBody } from '../../ts/cli/syncconf';

const key = (n: number) => Buffer.alloc(32, n);
const b64 = (n: number) => key(n).toString('base64');
const NOW = 1_700_000_000;

function device(): DeviceState {
  return {
    privateKey: key(1),
    listenPort: 51820,
    fwmark: 0x1234,
    peers: [
      { publicKey: key(3), presharedKey: null, lastHandshakeSec: 0, lastHandshakeNsec: 0, txBytes: 0, rxBytes: 0, persistentKeepalive: 0, allowedIps: [] },
      {
        publicKey: key(4),
        presharedKey: key(5),
        endpoint: '[fd00::2]:51821',
        lastHandshakeSec: NOW - 62,
        lastHandshakeNsec: 5,
        rxBytes: 1152,
        txBytes: 4_781_506,
        persistentKeepalive: 25,
        allowedIps: ['10.0.0.2/32', 'fd00::/64'],
      },
    ],
  };
}
const shown = () => ({ name: 'wg0', state: device(), publicKey: key(2) });

describe('wg show text', () => {
  it('pretty output without colour: order, hidden keys, wording, units', () => {
    expect(noColour(formatPretty(shown(), NOW))).toBe(
      `interface: wg0\n  public key: ${b64(2)}\n  private key: (hidden)\n  listening port: 51820\n  fwmark: 0x1234\n\n` +
        `peer: ${b64(4)}\n  preshared key: (hidden)\n  endpoint: [fd00::2]:51821\n  allowed ips: 10.0.0.2/32, fd00::/64\n` +
        `  latest handshake: 1 minute, 2 seconds ago\n  transfer: 1.12 KiB received, 4.56 MiB sent\n  persistent keepalive: every 25 seconds\n\n` +
        `peer: ${b64(3)}\n  allowed ips: (none)\n`,
    );
  });

  it('shows keys with WG_HIDE_KEYS=never and colours like wg', () => {
    const text = formatPretty(shown(), NOW, { WG_HIDE_KEYS: 'never' });
    expect(noColour(text)).toContain(`private key: ${b64(1)}\n`);
    expect(noColour(text)).toContain(`preshared key: ${b64(5)}\n`);
    expect(text.startsWith('\x1b[0m\x1b[32m\x1b[1minterface\x1b[0m: \x1b[32mwg0\x1b[0m\n')).toBe(true);
    expect(paintFor({ WG_COLOR_MODE: 'always' }, false)).toBe(withColour);
    expect(paintFor({}, false)).toBe(noColour);
  });

  it('times and sizes', () => {
    expect(noColour(prettyTime(366 * 86400 + 3601))).toBe('1 year, 1 day, 1 hour, 1 second');
    expect(noColour(formatPretty({ ...shown(), state: { ...device(), peers: [{ ...device().peers[1], lastHandshakeSec: NOW }] } }, NOW))).toContain('latest handshake: Now\n');
    expect(noColour(formatPretty(shown(), NOW - 100))).toContain('(System clock wound backward; connection problems may ensue.)');
    expect(noColour(bytes(1023))).toBe('1023 B');
    expect(fixed2(1152n, 10n)).toBe('1.12'); // half to even, like printf
    expect(fixed2(1168n, 10n)).toBe('1.14');
    expect(noColour(bytes(2 ** 40 * 3))).toBe('3.00 TiB');
  });

  it('dump and fields, tab separated; all prefixes the name', () => {
    const d = shown();
    expect(formatField(d, 'dump', false)).toBe(
      `${b64(1)}\t${b64(2)}\t51820\t0x1234\n${b64(3)}\t(none)\t(none)\t(none)\t0\t0\t0\toff\n` +
        `${b64(4)}\t${b64(5)}\t[fd00::2]:51821\t10.0.0.2/32,fd00::/64\t${NOW - 62}\t1152\t4781506\t25\n`,
    );
    expect(formatField(d, 'allowed-ips', true)).toBe(`wg0\t${b64(3)}\t(none)\nwg0\t${b64(4)}\t10.0.0.2/32 fd00::/64\n`);
    expect(formatField({ name: 'x', state: { ...device(), privateKey: null, fwmark: 0 } }, 'dump', false).split('\n')[0]).toBe('(none)\t(none)\t51820\toff');
    expect(formatField(d, 'persistent-keepalive', false)).toBe(`${b64(3)}\toff\n${b64(4)}\t25\n`);
  });

  it('showconf', () => {
    expect(formatShowconf(shown())).toBe(
      `[Interface]\nListenPort = 51820\nFwMark = 0x1234\nPrivateKey = ${b64(1)}\n\n[Peer]\nPublicKey = ${b64(3)}\n\n` +
        `[Peer]\nPublicKey = ${b64(4)}\nPresharedKey = ${b64(5)}\nAllowedIPs = 10.0.0.2/32, fd00::/64\nEndpoint = [fd00::2]:51821\nPersistentKeepalive = 25\n`,
    );
    expect(formatShowconf({ name: 'x', state: { privateKey: null, listenPort: 0, fwmark: 0, peers: [] } })).toBe('[Interface]\n\n');
  });
});

describe('wg set grammar', () => {
  it('values as wg accepts them', () => {
    expect(parseFwmarkArg('0x10')).toBe(16);
    expect(parseFwmarkArg('off')).toBe(0);
    expect(() => parseFwmarkArg('0x100000000')).toThrow(/fwmark/);
    expect(parseKeepaliveArg('off')).toBe(0);
    expect(() => parseKeepaliveArg('65536')).toThrow(/persistent-keepalive/);
    expect(parseAllowedIpsArg('')).toMatchObject({ replace: true, add: [] });
    const inc = parseAllowedIpsArg('+10.1.2.3/8, -fd00::1/64');
    expect(inc).toMatchObject({ replace: false, add: ['10.0.0.0/8'], remove: ['fd00::/64'] });
    expect(inc.warnings).toHaveLength(2);
    expect(() => parseAllowedIpsArg('10.0.0.0/33')).toThrow(/allowed-ips/);
  });

  it('builds the UAPI body in wg order and names bad arguments', async () => {
    const args = await parseSetArgs(['fwmark', 'off', 'peer', b64(3), 'allowed-ips', '10.0.0.0/8', 'persistent-keepalive', '5', 'endpoint', '1.2.3.4:5', 'peer', b64(4), 'remove'], () => undefined);
    expect(setBody(args)).toBe(
      `fwmark=0\npublic_key=${key(3).toString('hex')}\nendpoint=1.2.3.4:5\npersistent_keepalive_interval=5\nreplace_allowed_ips=true\nallowed_ip=10.0.0.0/8\n` +
        `public_key=${key(4).toString('hex')}\nremove=true\n`,
    );
    await expect(parseSetArgs(['peer', 'abc'], () => undefined)).rejects.toThrow(/peer/);
    await expect(parseSetArgs(['endpoint', '1.2.3.4:5'], () => undefined)).rejects.toThrow(/endpoint' applies to a peer/);
    await expect(parseSetArgs(['peer', b64(3), 'fwmark', '1'], () => undefined)).rejects.toThrow(/fwmark' belongs to the interface/);
    await expect(parseSetArgs(['listen-port'], () => undefined)).rejects.toThrow(/listen-port' needs a value/);
    await expect(parseSetArgs(['bogus', '1'], () => undefined)).rejects.toThrow(/unknown argument `bogus'/);
  });

  it('syncconf sends only differences: removals, and nothing for an unchanged peer', async () => {
    const have = device();
    const want = {
      ...emptyConfig().device,
      privateKey: key(1),
      listenPort: 51820,
      fwmark: 0x1234,
      peers: [configPeer(key(4), { presharedKey: key(5), endpoint: '[fd00::2]:51821', persistentKeepalive: 25, allowedIps: ['fd00::/64', '10.0.0.2'] })],
    };
    expect(await syncBody(want, have)).toBe(`public_key=${key(3).toString('hex')}\nremove=true\n`);
    const changed = await syncBody({ ...want, listenPort: undefined, peers: [configPeer(key(4))] }, have);
    expect(changed).toBe(
      `listen_port=0\npublic_key=${key(3).toString('hex')}\nremove=true\npublic_key=${key(4).toString('hex')}\npreshared_key=${'0'.repeat(64)}\n` +
        'persistent_keepalive_interval=0\nreplace_allowed_ips=true\n',
    );
  });
});
