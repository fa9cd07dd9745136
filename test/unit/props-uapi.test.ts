// Properties of the UAPI codec over generated models (fuzz/ts/models.ts): a set request formatted from a
// model parses back to it, and so does a get reply.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deviceState, deviceUpdate } from '../../fuzz/ts/models';
import { ERRNO, formatGet, formatSet, parseGet, parseSet, parseSetRequest } from '../../ts/uapi/codec';

const RUNS = { numRuns: 500 };

describe('UAPI codec round trips', () => {
  it('parseSetRequest(set=1 + formatSet(model)) is the model', () => {
    fc.assert(
      fc.property(deviceUpdate(), (update) => {
        expect(parseSetRequest(`set=1\n${formatSet(update)}\n`)).toEqual(update);
      }),
      RUNS,
    );
  });

  it('parseSet of the formatted lines is the model (the server path)', () => {
    fc.assert(
      fc.property(deviceUpdate(), (update) => {
        const lines = formatSet(update).split('\n').slice(0, -1);
        expect(parseSet(lines)).toEqual(update);
      }),
      RUNS,
    );
  });

  it('parseGet(formatGet(state) + errno=0) is the state', () => {
    fc.assert(
      fc.property(deviceState(), (state) => {
        expect(parseGet(`${formatGet(state)}errno=0\n\n`)).toEqual(state);
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
