import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../ts/config/parse';
import { formatConfig } from '../../ts/config/format';
import { ConfigError, configPeer, emptyConfig } from '../../ts/config/wgquick';

const DIR = path.join(__dirname, '../fixtures/configs');
const valid = readdirSync(path.join(DIR, 'valid')).filter((f) => f.endsWith('.conf'));
const invalid = readdirSync(path.join(DIR, 'invalid')).filter((f) => f.endsWith('.conf'));
const read = (sub: string, f: string) => readFileSync(path.join(DIR, sub, f), 'utf8');

const PRIV = 'OBUcSva5gSGXTpiAVlpjCsjla4jnm1EnpyLZUfpwZlA=';

describe('parseConfig: valid fixtures', () => {
  it.each(valid)('%s parses and round-trips through formatConfig', (f) => {
    const config = parseConfig(read('valid', f), { file: f });
    const text = formatConfig(config);
    const again = parseConfig(text);
    expect(again).toEqual(config);
    expect(again.warnings).toEqual([]);
    expect(formatConfig(again)).toBe(text);
  });

  it('reads the messy file as wg-quick and wg would', () => {
    const config = parseConfig(read('valid', 'wtp-messy.conf'), { file: 'wtp-messy.conf' });
    expect(config.device.privateKey?.toString('base64')).toBe(PRIV);
    expect(config.device.listenPort).toBe(51000);
    expect(config.device.fwmark).toBe(0x1f);
    expect(config.addresses).toEqual(['10.50.0.9/16', 'fd50::9/64', '10.51.0.9/16']);
    expect(config.dns).toEqual(['1.1.1.1']);
    expect(config.dnsSearch).toEqual(['lan']);
    expect(config.mtu).toBe(1400);
    expect(config.table).toBe('auto');
    expect(config.saveConfig).toBe(false);
    expect(config.postUp).toEqual(['logger "up %i"', 'echo second-hook']);
    expect(config.device.peers.map((p) => p.publicKey.toString('base64'))).toEqual([
      'ZYW3Of/T2IHGIUv9yRRhn6gv8WSbM7Vs1KObFOkGaWY=',
      'DcUphrdx9lfBYfRJ6vjk3iV0L98afCmg4E6FNyeT5h4=',
    ]);
    const [first, second] = config.device.peers;
    // The repeated peer keeps its place, takes the later fields and the later AllowedIPs list.
    // As wg setconf applies it: created if missing, its allowed IPs replaced.
    expect(first).toEqual(
      configPeer(Buffer.from('ZYW3Of/T2IHGIUv9yRRhn6gv8WSbM7Vs1KObFOkGaWY=', 'base64'), {
        allowedIps: ['10.50.0.0/17'],
        endpoint: '192.0.2.45:51820',
        persistentKeepalive: 15,
      }),
    );
    expect(first.replaceAllowedIps && config.device.replacePeers).toBe(true);
    expect(second.allowedIps).toEqual(['fd50::/64', '10.52.0.0/16']);
    expect(second.persistentKeepalive).toBe(0);
    expect(config.warnings).toHaveLength(1);
    expect(config.warnings[0]).toMatch(/^wtp-messy\.conf:22: peer ZYW3.* already defined on line 1/);
  });

  it('keeps hooks in order per phase and host names in endpoints', () => {
    const config = parseConfig(
      ['[Interface]', 'PostDown = b', 'PreUp = 1', 'PostDown = c # gone', 'PreUp = 2',
        '[Peer]', 'PublicKey = ' + PRIV, 'Endpoint = vpn.example.com:51820',
        '[Peer]', 'PublicKey = HkFGUoDEryCODy487jiElNGFt76ROFEZXoCdh2FBXVE=', 'Endpoint = fe80::1:51820'].join('\n'),
    );
    expect(config.preUp).toEqual(['1', '2']);
    expect(config.postDown).toEqual(['b', 'c']);
    expect(config.device.peers[0].endpoint).toBe('vpn.example.com:51820');
    // wg splits an unbracketed endpoint at the last colon; we store it bracketed.
    expect(config.device.peers[1].endpoint).toBe('[fe80::1]:51820');
  });

  it('accepts FwMark off/decimal/hex, Table keywords in any case, keepalive off', () => {
    const cfg = (lines: string[]) => parseConfig(['[Interface]', ...lines].join('\n'));
    expect(cfg(['FwMark = off']).device.fwmark).toBe(0);
    expect(cfg(['FwMark = 0xffffffff']).device.fwmark).toBe(0xffffffff);
    expect(cfg(['FwMark = 51820']).device.fwmark).toBe(51820);
    expect(cfg(['Table = OFF']).table).toBe('off');
    expect(cfg(['Table = 0200']).table).toBe('200');
    expect(cfg(['Table = main']).table).toBe('main');
    expect(cfg(['SaveConfig = True']).saveConfig).toBe(true);
  });
});

describe('parseConfig: invalid fixtures', () => {
  it.each(invalid)('%s is refused with file, line, key and what was expected', (f) => {
    const text = read('invalid', f);
    const m = /^# expect line (\d+)(?: key (\S+))?: (.*)$/m.exec(text);
    if (!m) throw new Error(`${f} has no "# expect" header`);
    let err: unknown;
    try {
      parseConfig(text, { file: f });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const ce = err as ConfigError;
    expect(ce.file).toBe(f);
    expect(ce.line).toBe(Number(m[1]));
    if (m[2]) expect(ce.key).toBe(m[2]);
    expect(ce.message).toContain(m[3]);
    expect(ce.message.startsWith(`${f}:${m[1]}: `)).toBe(true);
  });

  it('never puts key material in a message', () => {
    for (const f of invalid) {
      const text = read('invalid', f);
      const keys = text.match(/[A-Za-z0-9+/*]{40,}=*/g) ?? [];
      try {
        parseConfig(text, { file: f });
      } catch (e) {
        for (const k of keys) expect((e as Error).message).not.toContain(k.slice(0, 20));
      }
    }
  });
});

describe('parseConfig options', () => {
  it('accepts filename as well as file, and names it in errors', () => {
    expect(() => parseConfig('[Interface]\nListenPort = 70000\n', { filename: 'wg9.conf' })).toThrow(/^wg9\.conf:2:/);
  });
});

describe('parseConfig returns the config itself', () => {
  const PUB = 'HkFGUoDEryCODy487jiElNGFt76ROFEZXoCdh2FBXVE=';
  const messy = [
    '[interface]',
    ` privatekey=${PRIV} # ours`,
    'Address = 10.0.0.1/24,fd00::1/64',
    '[peer]',
    `PublicKey = ${PUB}`,
    'AllowedIPs = 10.0.0.2/32',
    '[Peer]',
    `PublicKey = ${PUB}`,
    'AllowedIPs = 10.0.0.3/32',
  ].join('\n');
  const normalized =
    `[Interface]\nPrivateKey = ${PRIV}\nAddress = 10.0.0.1/24\nAddress = fd00::1/64\n\n` +
    `[Peer]\nPublicKey = ${PUB}\nAllowedIPs = 10.0.0.3/32\n`;

  it('so formatConfig(parseConfig(text)) writes the normalized text', () => {
    expect(formatConfig(parseConfig(messy))).toBe(normalized);
    expect(formatConfig(parseConfig(normalized))).toBe(normalized);
  });

  it('with its warnings on it', () => {
    const parsed = parseConfig(messy, { file: 'wg7.conf' });
    expect(parsed.warnings).toEqual([expect.stringMatching(/^wg7\.conf:7: peer HkFG\S+ was already defined on line 4/)]);
    expect(parseConfig(normalized).warnings).toEqual([]);
  });

  it('and .config, deprecated, still the same object, so destructuring callers keep working', () => {
    const parsed = parseConfig(messy);
    expect(parsed.config).toBe(parsed);
    const { config, warnings } = parsed;
    expect(formatConfig(config)).toBe(normalized);
    expect(warnings).toHaveLength(1);
  });

  it('which serializes and compares as a plain WgQuickConfig: no cycle, no extra keys', () => {
    const parsed = parseConfig(messy);
    const json = JSON.parse(JSON.stringify(parsed));
    expect(Object.keys(json).sort()).toEqual(Object.keys(emptyConfig()).sort());
    expect(Object.keys(parsed).sort()).toEqual(Object.keys(emptyConfig()).sort());
    expect(json.device.peers[0].allowedIps).toEqual(['10.0.0.3/32']);
    expect(parseConfig(formatConfig(parsed))).toEqual(parsed);
  });
});
