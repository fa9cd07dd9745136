// Argument handling of `wiretun up` and the UAPI → config conversion SaveConfig writes back.
import { describe, expect, it } from 'vitest';
import { parseUpArgs } from '../../ts/cli/up';
import { configDevice, emptyConfig } from '../../ts/config/wgquick';
import { formatConfig } from '../../ts/config/format';
import { parseConfig } from '../../ts/config/parse';
import { parseGet } from '../../ts/uapi/codec';

describe('parseUpArgs', () => {
  it('takes the config and --masquerade with or without OUT_IFACE', () => {
    expect(parseUpArgs(['wg0'])).toEqual({ config: 'wg0' });
    expect(parseUpArgs(['wg0', '--masquerade'])).toEqual({ config: 'wg0', masquerade: '' });
    expect(parseUpArgs(['wg0', '--masquerade', 'eth0'])).toEqual({ config: 'wg0', masquerade: 'eth0' });
    expect(parseUpArgs(['--masquerade', 'wg0'])).toEqual({ config: 'wg0', masquerade: '' });
    expect(parseUpArgs(['--masquerade', 'eth0', 'wg0'])).toEqual({ config: 'wg0', masquerade: 'eth0' });
    expect(parseUpArgs(['--masquerade=eth0', 'wg0'])).toEqual({ config: 'wg0', masquerade: 'eth0' });
  });

  it('takes -f/--foreground anywhere, also right after a bare --masquerade', () => {
    expect(parseUpArgs(['-f', 'wg0'])).toEqual({ config: 'wg0', foreground: true });
    expect(parseUpArgs(['wg0', '--foreground'])).toEqual({ config: 'wg0', foreground: true });
    expect(parseUpArgs(['wg0', '--masquerade', '-f'])).toEqual({ config: 'wg0', masquerade: '', foreground: true });
  });

  it('rejects unknown flags, extra words and a missing config', () => {
    expect(parseUpArgs(['--bogus', 'wg0']).error).toBe('unknown option --bogus');
    expect(parseUpArgs(['wg0', 'wg1']).error).toBe('unexpected argument wg1');
    expect(parseUpArgs([]).error).toBe('missing CONFIG_FILE or INTERFACE');
    expect(parseUpArgs(['--help'])).toEqual({ help: true });
  });
});

describe('configDevice', () => {
  const hex = (b: number) => Buffer.alloc(32, b).toString('hex');
  const b64 = (b: number) => Buffer.alloc(32, b).toString('base64');

  it('turns a get reply into the config wg showconf would print', () => {
    const reply =
      `private_key=${hex(1)}\nlisten_port=51820\nfwmark=0\n` +
      `public_key=${hex(2)}\npreshared_key=${hex(0)}\nprotocol_version=1\nendpoint=[2001:db8::1]:51820\n` +
      `last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=25\n` +
      `allowed_ip=0.0.0.0/0\nallowed_ip=::/0\n` +
      `public_key=${hex(3)}\npreshared_key=${hex(4)}\npersistent_keepalive_interval=0\nerrno=0\n\n`;
    const device = configDevice(parseGet(reply));
    expect(formatConfig({ ...emptyConfig(), device })).toBe(
      `[Interface]\nPrivateKey = ${b64(1)}\nListenPort = 51820\n\n` +
        `[Peer]\nPublicKey = ${b64(2)}\nAllowedIPs = 0.0.0.0/0, ::/0\nEndpoint = [2001:db8::1]:51820\nPersistentKeepalive = 25\n\n` +
        `[Peer]\nPublicKey = ${b64(3)}\nPresharedKey = ${b64(4)}\n`,
    );
    // Read back, it is the same update: what setconf of the saved file would apply.
    expect(parseConfig(formatConfig({ ...emptyConfig(), device })).device).toEqual(device);
  });
});
