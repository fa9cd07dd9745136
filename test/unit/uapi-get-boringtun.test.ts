// parseGet on a reply shaped as boringtun 0.7.1's own device writes it (device/api.rs api_get): the device named
// by own_public_key, peers with preshared_key only when set, and the last handshake as time elapsed since it,
// present only while a session exists.
import { describe, expect, it } from 'vitest';
import { parseGet } from '../../ts/uapi/codec';

const OWN = 'a'.repeat(64);
const K1 = 'b'.repeat(64);
const K2 = 'c'.repeat(64);
const NOW = 1_750_000_000_123; // ms

const boringtunReply = [
  `own_public_key=${OWN}`,
  'listen_port=51820',
  `public_key=${K1}`,
  'endpoint=10.0.0.1:51820',
  'allowed_ip=10.1.0.0/16',
  'last_handshake_time_sec=2',
  'last_handshake_time_nsec=500000000',
  'rx_bytes=20',
  'tx_bytes=10',
  `public_key=${K2}`,
  'rx_bytes=0',
  'tx_bytes=0',
  'errno=0',
  '',
  '',
].join('\n');

describe('parseGet of a boringtun reply', () => {
  const state = parseGet(boringtunReply, NOW);
  const ms = (i: number) => state.peers[i].lastHandshakeSec * 1000 + state.peers[i].lastHandshakeNsec / 1e6;

  it('turns the handshake age into the absolute time it happened', () => {
    expect(ms(0)).toBe(NOW - 2500);
    expect(state.peers[0].lastHandshakeNsec).toBeLessThan(1e9);
  });

  it('dates a handshake younger than a second (age 0 s) as one, not as never', () => {
    const fresh = parseGet(boringtunReply.replace('last_handshake_time_sec=2', 'last_handshake_time_sec=0'), NOW);
    expect(fresh.peers[0].lastHandshakeSec).toBe(Math.floor((NOW - 500) / 1000));
  });

  it('leaves a peer without a session at never', () => {
    expect(state.peers[1]).toMatchObject({ lastHandshakeSec: 0, lastHandshakeNsec: 0 });
  });

  it('reads the rest as usual', () => {
    expect(state).toMatchObject({ privateKey: null, listenPort: 51820 });
    expect(state.peers[0]).toMatchObject({ endpoint: '10.0.0.1:51820', allowedIps: ['10.1.0.0/16'], rxBytes: 20, txBytes: 10, presharedKey: null });
  });

  it('keeps absolute times from every other implementation as they are', () => {
    const wgGo = `private_key=${OWN}\npublic_key=${K1}\nlast_handshake_time_sec=1700000000\nlast_handshake_time_nsec=5\n`;
    expect(parseGet(wgGo, NOW).peers[0]).toMatchObject({ lastHandshakeSec: 1_700_000_000, lastHandshakeNsec: 5 });
  });
});
