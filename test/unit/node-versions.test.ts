// The Node versions we claim are the ones we test: package.json `engines`, every CI matrix and the README
// must name the same major lines, and the Node running this test must be one of them.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (f: string) => readFileSync(path.join(ROOT, f), 'utf8');

/** `^20.19.0 || ^22.12.0 || >=24.0.0` → [{ major: 20, minor: 19, open: false }, ..., { major: 24, open: true }] */
function engineRanges(spec: string): { major: number; minor: number; open: boolean }[] {
  return spec.split('||').map((part) => {
    const m = /^\s*(\^|>=)(\d+)\.(\d+)\.\d+\s*$/.exec(part);
    if (!m) throw new Error(`engines range ${JSON.stringify(part)} is not ^X.Y.Z or >=X.Y.Z`);
    return { major: Number(m[2]), minor: Number(m[3]), open: m[1] === '>=' };
  });
}

function satisfies(version: string, spec: string): boolean {
  const [major, minor] = version.replace(/^v/, '').split('.').map(Number);
  return engineRanges(spec).some((r) =>
    r.open ? major > r.major || (major === r.major && minor >= r.minor) : major === r.major && minor >= r.minor,
  );
}

function matrices(): number[][] {
  return ['.github/workflows/ci.yml', '.github/workflows/release.yml'].flatMap((f) =>
    [...read(f).matchAll(/^\s*node: \[([^\]]+)\]/gm)].map((m) => m[1].split(',').map((v) => Number(v.trim()))),
  );
}

describe('supported Node versions', () => {
  const engines: string = JSON.parse(read('package.json')).engines.node;
  const majors = engineRanges(engines).map((r) => r.major);

  it('every CI matrix tests exactly the major lines engines allows', () => {
    const found = matrices();
    expect(found.length).toBeGreaterThan(0);
    for (const m of found) expect(m, `a CI matrix against engines ${engines}`).toEqual(majors);
  });

  it('the README and the install doc name the same lines', () => {
    for (const f of ['README.md', 'docs/install.md']) {
      const text = read(f);
      for (const r of engineRanges(engines)) {
        const claim = r.open ? `${r.major}+` : `${r.major}.${r.minor}+`;
        expect(text, `${f} should say Node ${claim}`).toContain(claim);
      }
    }
  });

  it('the Node running the tests is a supported one', () => {
    expect(satisfies(process.version, engines), `${process.version} against ${engines}`).toBe(true);
  });

  it('the range check itself', () => {
    expect(satisfies('v20.18.0', '^20.19.0 || >=24.0.0')).toBe(false);
    expect(satisfies('v21.7.0', '^20.19.0 || >=24.0.0')).toBe(false);
    expect(satisfies('v25.1.0', '^20.19.0 || >=24.0.0')).toBe(true);
  });
});
