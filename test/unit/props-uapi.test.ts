// Properties of the UAPI codec over generated models (fuzz/ts/models.ts), across the two halves: a set request
// TypeScript formats from a model is read by the native parser (the one the server uses) as exactly that
// request, and a get reply the native server writes for a model state parses back to it in TypeScript.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deviceState, deviceUpdate } from '../../fuzz/ts/models';
import { ERRNO, formatSet, parseGet } from '../../ts/uapi/codec';
import { nativeGet, nativeReads } from './uapi-native';

const RUNS = { numRuns: 500 };

describe('UAPI codec round trips (TypeScript client, native server)', () => {
  it('the native parser reads formatSet(model) back as the same request', () => {
    fc.assert(
      fc.property(deviceUpdate(), (update) => {
        const body = formatSet(update);
        expect(nativeReads(body)).toMatchObject({ errno: 0, canonical: body });
      }),
      RUNS,
    );
  });

  it('counts in its summary the peers the model sets and removes, naming no key', () => {
    fc.assert(
      fc.property(deviceUpdate(), (update) => {
        const { summary } = nativeReads(formatSet(update));
        const removed = update.peers.filter((p) => p.remove).length;
        const set = update.peers.length - removed;
        expect(summary?.includes(`${set} peer(s) set`)).toBe(set > 0);
        expect(summary?.includes(`${removed} peer(s) removed`)).toBe(removed > 0);
        for (const p of update.peers) expect(summary).not.toContain(p.publicKey.toString('hex').slice(0, 16));
      }),
      RUNS,
    );
  });

  it('parseGet(native get of state + errno=0) is the state', () => {
    fc.assert(
      fc.property(deviceState(), (state) => {
        expect(parseGet(`${nativeGet(state)}errno=0\n\n`)).toEqual(state);
      }),
      RUNS,
    );
  });
});

// Found by fuzz/run.sh uapi: parseGet turned the errno value with Number(), so a malformed errno became that
// number instead of EPROTO.
describe('found by the uapi fuzzer', () => {
  it('a get reply with a malformed errno is a protocol error (EPROTO)', () => {
    for (const errno of ['1.5', '1e3', 'Infinity', '0x10', '4294967296']) {
      expect(() => parseGet(`errno=${errno}\n\n`)).toThrow(expect.objectContaining({ errno: ERRNO.EPROTO }));
    }
  });
});

// Found by fuzz/run.sh uapi after that fix: `errno=00` is a zero (wg reads it with %d), yet parseGet threw a
// UapiError with errno 0.
describe('found by the uapi fuzzer, second round', () => {
  it('a get reply ending in errno=00 or errno=-00 is a success', () => {
    expect(parseGet('listen_port=3\nerrno=00\n\n').listenPort).toBe(3);
    expect(parseGet('listen_port=3\nerrno=-00\n\n').listenPort).toBe(3);
  });
});
