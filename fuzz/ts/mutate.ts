// String mutations for line-based text formats: characters, tokens, lines and splices between inputs.

/** xorshift32: fast, seedable, so a run can be repeated with its seed. */
export class Random {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }

  next(): number {
    this.s ^= this.s << 13;
    this.s >>>= 0;
    this.s ^= this.s >>> 17;
    this.s ^= this.s << 5;
    this.s >>>= 0;
    return this.s;
  }

  /** 0 <= n < max */
  int(max: number): number {
    return max <= 0 ? 0 : this.next() % max;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

const CHARS = ['\n', '\r', '\t', ' ', '=', '#', '[', ']', ':', '/', ',', '.', '-', '+', '0', '9', 'f', '\0', 'é', '\u2028', '\ufeff', '\ud800', '😀'];
const NUMBERS = ['0', '1', '-1', '00', '65535', '65536', '4294967295', '4294967296', '9007199254740993', '1e3', '0x10', ' 1', '255', '256', '32', '33', '128', '129'];

function lines(s: string): string[] {
  return s.split('\n');
}

function mutateOnce(s: string, rnd: Random, corpus: readonly string[], dict: readonly string[]): string {
  const at = rnd.int(s.length + 1);
  const ls = lines(s);
  const li = rnd.int(ls.length);
  switch (rnd.int(10)) {
    case 0:
      return s.slice(0, at) + rnd.pick(CHARS) + s.slice(at + 1);
    case 1:
      return s.slice(0, at) + rnd.pick(dict) + s.slice(at);
    case 2:
      return s.slice(0, at) + s.slice(at + 1 + rnd.int(16));
    case 3:
      ls.splice(li, 0, ls[li]);
      return ls.join('\n');
    case 4:
      ls.splice(li, 1);
      return ls.join('\n');
    case 5: {
      const lj = rnd.int(ls.length);
      [ls[li], ls[lj]] = [ls[lj], ls[li]];
      return ls.join('\n');
    }
    case 6: {
      const other = lines(corpus.length ? rnd.pick(corpus) : '');
      ls.splice(li, 0, ...other.slice(rnd.int(other.length), rnd.int(other.length) + 1 + rnd.int(4)));
      return ls.join('\n');
    }
    case 7:
      return s.replace(/[0-9]+/g, (m) => (rnd.int(3) === 0 ? rnd.pick(NUMBERS) : m));
    case 8:
      return s.slice(0, at) + String.fromCharCode(rnd.int(0x10000)) + s.slice(at);
    default: {
      // Change the case of a stretch, for parsers that match keys case-insensitively (or must not).
      const end = at + 1 + rnd.int(12);
      const part = s.slice(at, end);
      return s.slice(0, at) + (rnd.int(2) ? part.toUpperCase() : part.toLowerCase()) + s.slice(end);
    }
  }
}

/** One to four stacked mutations of `s`. */
export function mutate(s: string, rnd: Random, corpus: readonly string[], dict: readonly string[]): string {
  let out = s;
  for (let n = 1 + rnd.int(4); n > 0; n--) out = mutateOnce(out, rnd, corpus, dict);
  return out;
}
