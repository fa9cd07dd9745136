// fast-check arbitraries for valid configuration models, in the canonical form each parser returns, so that
// format-then-parse must give the model back exactly. Shared by the property tests (test/unit/props-*) and
// the fuzz runner, which mutates formatted models to start from inputs that get deep into the parsers.
import fc from 'fast-check';
import { canonicalCidr, parseCidr } from '../../ts/config/ip';
import { DeviceState, DeviceUpdate, emptyPeerUpdate, PeerState, PeerUpdate } from '../../ts/config/model';
import { configPeer, emptyConfig, WgQuickConfig } from '../../ts/config/wgquick';
import { parseEndpoint as canonicalEndpoint } from '../../ts/uapi/values';

const U16 = 0xffff;
const U32 = 0xffffffff;

export const key = (): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a));
/** The all-zero key means "none" on the wire, so a key that must read back as itself is never all zeros. */
export const nonZeroKey = (): fc.Arbitrary<Buffer> => key().filter((k) => k.some((b) => b !== 0));

const port = fc.integer({ min: 1, max: U16 });
const ipv4 = fc.ipV4();
const ipv6 = fc.ipV6();

/** `addr` or `addr/prefix` as a user writes it. */
export const cidrText = (): fc.Arbitrary<string> =>
  fc.oneof(
    ipv4,
    ipv6,
    fc.tuple(ipv4, fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${a}/${p}`),
    fc.tuple(ipv6, fc.integer({ min: 0, max: 128 })).map(([a, p]) => `${a}/${p}`),
  );

/** What the UAPI reads an allowed IP back as: the masked network in inet_ntop spelling. */
export const canonicalCidrText = (): fc.Arbitrary<string> =>
  cidrText()
    .filter((t) => t.includes('/'))
    .map((t) => canonicalCidr(parseCidr(t)!));

/** Numeric endpoints in the canonical spelling the UAPI codec returns. */
export const uapiEndpoint = (): fc.Arbitrary<string> =>
  fc.oneof(
    fc.tuple(ipv4, port).map(([a, p]) => `${a}:${p}`),
    fc.tuple(ipv6, port).map(([a, p]) => `[${a}]:${p}`),
  ).map((e) => canonicalEndpoint(e));

const dnsName = fc.domain().filter((d) => !/^[0-9.]+$/.test(d));

/** Endpoints as a config file may hold them: numeric or a host name, kept as written. */
const configEndpoint = fc.oneof(
  fc.tuple(ipv4, port).map(([a, p]) => `${a}:${p}`),
  fc.tuple(dnsName, port).map(([h, p]) => `${h}:${p}`),
  fc.tuple(ipv6, port).map(([a, p]) => `[${a}]:${p}`),
);

/** A PreUp/PostDown command: anything a line can hold that the file format does not cut or trim. */
const hook = fc
  .string({ unit: 'grapheme', maxLength: 40 })
  .filter((h) => !/[#\n\r\0]/.test(h) && h === h.trim());

const tableName = fc
  .stringMatching(/^[A-Za-z_][A-Za-z0-9_.-]{0,15}$/)
  .filter((t) => !['off', 'auto'].includes(t.toLowerCase()));

const table = fc.oneof(
  fc.constantFrom('off', 'auto'),
  fc.integer({ min: 1, max: U32 }).map(String),
  tableName,
);

const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });

/** Drops undefined fields, as the parsers never set a field to undefined. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const configPeerArb = fc
  .record({
    publicKey: key(),
    presharedKey: opt(key()),
    endpoint: opt(configEndpoint),
    persistentKeepalive: opt(fc.integer({ min: 0, max: U16 })),
    allowedIps: fc.array(cidrText(), { maxLength: 4 }),
  })
  .map(({ publicKey, ...fields }) => configPeer(publicKey, defined(fields)));

/** A wg-quick file's model: what parseConfig returns for some file. */
export const wgQuickConfig = (): fc.Arbitrary<WgQuickConfig> =>
  fc
    .record({
      privateKey: opt(key()),
      listenPort: opt(fc.integer({ min: 0, max: U16 })),
      fwmark: opt(fc.integer({ min: 0, max: U32 })),
      peers: fc.uniqueArray(configPeerArb, { maxLength: 4, selector: (p) => p.publicKey.toString('hex') }),
      addresses: fc.array(cidrText(), { maxLength: 3 }),
      dns: fc.array(fc.oneof(ipv4, ipv6), { maxLength: 3 }),
      dnsSearch: fc.array(dnsName, { maxLength: 2 }),
      mtu: opt(fc.integer({ min: 68, max: U16 })),
      table: opt(table),
      preUp: fc.array(hook, { maxLength: 2 }),
      postUp: fc.array(hook, { maxLength: 2 }),
      preDown: fc.array(hook, { maxLength: 2 }),
      postDown: fc.array(hook, { maxLength: 2 }),
      saveConfig: fc.boolean(),
    })
    .map(({ privateKey, listenPort, fwmark, peers, ...rest }) => {
      const base = emptyConfig();
      return defined({ ...base, ...rest, device: defined({ ...base.device, privateKey, listenPort, fwmark, peers }) });
    });

const uapiPeer: fc.Arbitrary<PeerUpdate> = fc
  .record({
    publicKey: key(),
    remove: fc.boolean(),
    updateOnly: fc.boolean(),
    presharedKey: opt(fc.option(nonZeroKey(), { nil: null })),
    endpoint: opt(uapiEndpoint()),
    persistentKeepalive: opt(fc.integer({ min: 0, max: U16 })),
    replaceAllowedIps: fc.boolean(),
    allowedIps: fc.array(canonicalCidrText(), { maxLength: 4 }),
    removeAllowedIps: fc.array(canonicalCidrText(), { maxLength: 2 }),
  })
  // A removal carries nothing else: the set request has no room for it (formatSet writes remove=true alone).
  .map((p) => (p.remove ? { ...emptyPeerUpdate(p.publicKey), remove: true } : defined(p)));

/** A `set=1` request's model, as parseSet returns it. */
export const deviceUpdate = (): fc.Arbitrary<DeviceUpdate> =>
  fc
    .record({
      privateKey: opt(fc.option(nonZeroKey(), { nil: null })),
      listenPort: opt(fc.integer({ min: 0, max: U16 })),
      fwmark: opt(fc.integer({ min: 0, max: U32 })),
      replacePeers: fc.boolean(),
      peers: fc.array(uapiPeer, { maxLength: 4 }),
    })
    .map(defined);

const counter = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });

const peerState: fc.Arbitrary<PeerState> = fc.record({
  publicKey: key(),
  presharedKey: fc.option(nonZeroKey(), { nil: null }),
  endpoint: fc.option(uapiEndpoint(), { nil: null }),
  lastHandshakeSec: counter,
  lastHandshakeNsec: fc.integer({ min: 0, max: 999_999_999 }),
  txBytes: counter,
  rxBytes: counter,
  persistentKeepalive: fc.integer({ min: 0, max: U16 }),
  allowedIps: fc.array(canonicalCidrText(), { maxLength: 4 }),
});

/** A `get=1` reply's model, as parseGet returns it. */
export const deviceState = (): fc.Arbitrary<DeviceState> =>
  fc.record({
    privateKey: fc.option(nonZeroKey(), { nil: null }),
    listenPort: fc.integer({ min: 0, max: U16 }),
    fwmark: fc.integer({ min: 0, max: U32 }),
    peers: fc.array(peerState, { maxLength: 4 }),
  });
