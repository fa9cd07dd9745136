// Options objects from JavaScript: an unknown key or a wrong type is a TypeError naming it (and the likely
// spelling), raised before anything is decoded, read or created. No root needed: every call here is rejected
// before the native side is reached, and each one carries a second fault (a bad key, a missing file, a name
// too long for an interface) that would fail differently if the check came later, so nothing is ever created.
import { describe, expect, it } from 'vitest';
import { configPeer, openTun, parseConfig, Tunnel } from '../../ts/index';
import { checkOptions, suggest, TUNNEL_OPTIONS } from '../../ts/options';

const KEY = 'OBUcSva5gSGXTpiAVlpjCsjla4jnm1EnpyLZUfpwZlA=';
const BAD_KEY = 'not-a-key';
// JavaScript callers: the compiler would refuse every one of these calls.
type Loose = any;
const js = (o: unknown): Loose => o;
const create = (o: object) => Tunnel.create(js({ name: 'wtnever0', privateKey: BAD_KEY, ...o }));
// A Tunnel that was never created: the check runs before the method touches the device.
const unmade = (): Tunnel => Object.create(Tunnel.prototype);
const TOO_LONG = 'wt-never-created-at-all';

describe('Tunnel.create', () => {
  it("rejects wg's spelling allowedIPs inside peers, naming its path and the right spelling", async () => {
    await expect(create({ peers: [{ publicKey: KEY, allowedIPs: ['10.77.0.2/32'] }] })).rejects.toThrow(
      new TypeError('Tunnel.create: unknown option peers[0].allowedIPs (did you mean allowedIps?)'),
    );
  });

  it('rejects an unknown top-level option, with a suggestion only when one is close', async () => {
    await expect(create({ ListenPort: 51820 })).rejects.toThrow(
      'Tunnel.create: unknown option ListenPort (did you mean listenPort?)',
    );
    await expect(create({ listen_port: 51820 })).rejects.toThrow('(did you mean listenPort?)');
    await expect(create({ adresses: ['10.0.0.1/24'] })).rejects.toThrow('(did you mean addresses?)');
    await expect(create({ keepalive: 25 })).rejects.toThrow(/^Tunnel\.create: unknown option keepalive$/);
    await expect(create({ colour: 'blue' })).rejects.toThrow(/^Tunnel\.create: unknown option colour$/);
  });

  it('rejects values of a type that would be ignored or misread', async () => {
    await expect(create({ peers: [{ publicKey: KEY, allowedIps: '10.77.0.2/32' }] })).rejects.toThrow(
      new TypeError('Tunnel.create: option peers[0].allowedIps must be an array of strings, got string'),
    );
    await expect(create({ peers: [{ publicKey: KEY, allowedIps: ['10.77.0.2/32', 7] }] })).rejects.toThrow(
      'option peers[0].allowedIps[1] must be a string, got number',
    );
    await expect(create({ uapi: 'false' })).rejects.toThrow('option uapi must be a boolean (true or false), got string');
    await expect(create({ listenPort: '51820' })).rejects.toThrow('option listenPort must be an integer, got string');
    await expect(create({ mtu: 1420.5 })).rejects.toThrow('option mtu must be an integer, got a fractional number');
    await expect(create({ peers: { publicKey: KEY } })).rejects.toThrow('option peers must be an array of objects, got object');
    await expect(create({ peers: [null] })).rejects.toThrow('option peers[0] must be an object, got null');
    await expect(create({ peers: [{ allowedIps: [] }] })).rejects.toThrow('option peers[0].publicKey must be a string, got undefined');
    await expect(create({ privateKey: undefined })).rejects.toThrow('option privateKey must be a string, got undefined');
    await expect(Tunnel.create(js([]))).rejects.toThrow('Tunnel.create: options must be an object, got an array');
  });

  it('accepts every documented option, absent or undefined', () => {
    const all = {
      name: 'wt0',
      privateKey: KEY,
      listenPort: 0,
      fwmark: 0,
      mtu: 1420,
      addresses: ['10.0.0.1/24'],
      peers: [{ publicKey: KEY, presharedKey: null, endpoint: null, allowedIps: [], persistentKeepalive: 0 }],
      routing: false,
      uapi: true,
    };
    expect(() => checkOptions('t', all, TUNNEL_OPTIONS)).not.toThrow();
    expect(() => checkOptions('t', { name: 'wt0', privateKey: KEY, mtu: undefined }, TUNNEL_OPTIONS)).not.toThrow();
  });

  it('never puts a value in the message (it may be a key)', async () => {
    const err = await create({ privateKey: Buffer.from(KEY, 'base64') }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toBe('Tunnel.create: option privateKey must be a string, got object');
  });
});

describe('Tunnel.fromConfig', () => {
  it('checks its options before reading the file', async () => {
    await expect(Tunnel.fromConfig('/nonexistent/wtnever0.conf', js({ Routing: true }))).rejects.toThrow(
      new TypeError('Tunnel.fromConfig: unknown option Routing (did you mean routing?)'),
    );
    await expect(Tunnel.fromConfig('/nonexistent/wtnever0.conf', js({ uapi: 0 }))).rejects.toThrow(
      'Tunnel.fromConfig: option uapi must be a boolean (true or false), got number',
    );
    await expect(Tunnel.fromConfig('/nonexistent/wtnever0.conf', js(null))).rejects.toThrow(
      'Tunnel.fromConfig: options must be an object, got null',
    );
  });
});

describe('Tunnel#addPeer and Tunnel#updatePeer', () => {
  it('addPeer rejects an unknown key before decoding the peer', async () => {
    await expect(unmade().addPeer(js({ publicKey: BAD_KEY, allowedIPs: ['10.0.0.2/32'] }))).rejects.toThrow(
      new TypeError('Tunnel.addPeer: unknown option allowedIPs (did you mean allowedIps?)'),
    );
    await expect(unmade().addPeer(js({ publicKey: BAD_KEY, persistentKeepAlive: 25 }))).rejects.toThrow(
      '(did you mean persistentKeepalive?)',
    );
    await expect(unmade().addPeer(js({ publicKey: BAD_KEY, endpoint: 51820 }))).rejects.toThrow(
      'Tunnel.addPeer: option endpoint must be a string or null, got number',
    );
    await expect(unmade().addPeer(js('peer'))).rejects.toThrow('Tunnel.addPeer: peer must be an object, got string');
  });

  it('updatePeer rejects an unknown key, publicKey among the changes, and a wrong type', async () => {
    await expect(unmade().updatePeer(BAD_KEY, js({ AllowedIps: [] }))).rejects.toThrow(
      new TypeError('Tunnel.updatePeer: unknown option AllowedIps (did you mean allowedIps?)'),
    );
    await expect(unmade().updatePeer(BAD_KEY, js({ publicKey: KEY }))).rejects.toThrow(
      /^Tunnel\.updatePeer: unknown option publicKey$/,
    );
    await expect(unmade().updatePeer(BAD_KEY, js({ allowedIps: '10.0.0.0/24' }))).rejects.toThrow(
      'Tunnel.updatePeer: option allowedIps must be an array of strings, got string',
    );
    await expect(unmade().updatePeer(BAD_KEY, js(undefined))).rejects.toThrow(
      'Tunnel.updatePeer: changes must be an object, got undefined',
    );
  });
});

describe('openTun', () => {
  it('rejects an unknown option or a wrong type before opening anything', () => {
    expect(() => openTun(js({ name: TOO_LONG, mode: 'tun', persistent: true }))).toThrow(
      new TypeError('openTun: unknown option persistent (did you mean persist?)'),
    );
    expect(() => openTun(js({ name: TOO_LONG, mode: 'tun', packet_info: true }))).toThrow('(did you mean packetInfo?)');
    expect(() => openTun(js({ name: TOO_LONG, mode: 'tun', mtu: '1500' }))).toThrow(
      'openTun: option mtu must be an integer, got string',
    );
    expect(() => openTun(js({ name: TOO_LONG, mode: 'tunnel' }))).toThrow(
      "openTun: option mode must be 'tun' or 'tap', got 'tunnel'",
    );
    expect(() => openTun(js({ name: TOO_LONG }))).toThrow("openTun: option mode must be 'tun' or 'tap', got undefined");
  });
});

describe('parseConfig and configPeer', () => {
  it('parseConfig rejects an unknown or mistyped option', () => {
    expect(() => parseConfig('[Interface]\n', js({ fileName: 'wg0.conf' }))).toThrow(
      new TypeError('parseConfig: unknown option fileName (did you mean filename?)'),
    );
    expect(() => parseConfig('[Interface]\n', js({ file: 3 }))).toThrow('parseConfig: option file must be a string, got number');
    expect(() => parseConfig('[Interface]\n', js(null))).toThrow('parseConfig: options must be an object, got null');
  });

  it('configPeer rejects fields a PeerUpdate does not have', () => {
    const pub = Buffer.alloc(32, 1);
    expect(() => configPeer(pub, js({ allowedIPs: ['10.0.0.2/32'] }))).toThrow(
      new TypeError('configPeer: unknown option allowedIPs (did you mean allowedIps?)'),
    );
    expect(() => configPeer(pub, js({ presharedKey: KEY }))).toThrow(
      'configPeer: option presharedKey must be a Buffer or null, got string',
    );
    expect(configPeer(pub, { allowedIps: ['10.0.0.2/32'] }).allowedIps).toEqual(['10.0.0.2/32']);
  });
});

describe('suggest', () => {
  const known = ['name', 'privateKey', 'listenPort', 'file', 'filename', 'persistentKeepalive', 'mtu'];
  it.each([
    ['PRIVATEKEY', 'privateKey'],
    ['private_key', 'privateKey'],
    ['privateKy', 'privateKey'],
    ['privtaeKey', 'privateKey'],
    ['filenames', 'filename'],
    ['keepalive', 'persistentKeepalive'],
    ['mt', 'mtu'],
    ['MTU', 'mtu'],
    ['port', 'listenPort'],
  ])('%s -> %s', (key, want) => expect(suggest(key, known)).toBe(want));

  it.each(['mode', 'colour', 'x'])('%s -> nothing', (key) => expect(suggest(key, known)).toBeUndefined());
});
