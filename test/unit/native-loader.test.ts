import { describe, expect, it } from 'vitest';
import { candidates, detectHost, loadNative, localBinary, NoNativeBinaryError, type Host, type LoaderIo } from '../../ts/native-loader';

const ROOT = '/opt/app/node_modules/wiretun';

/** A loader world: `installed` maps a package name to the file its main resolves to; `loadable` files load as
 * an object naming themselves, any other require throws as Node does for a missing or broken addon. */
function io(host: Host, installed: Record<string, string>, opts: { loadable?: string[]; local?: string[]; env?: NodeJS.ProcessEnv } = {}): LoaderIo {
  const loadable = new Set(opts.loadable ?? Object.values(installed));
  return {
    host,
    env: opts.env ?? {},
    root: ROOT,
    exists: (f) => (opts.local ?? []).includes(f),
    resolve: (id) => {
      if (installed[id]) return installed[id];
      throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
    },
    require: (file) => {
      if (loadable.has(file)) return { file };
      throw new Error(`${file}: cannot open shared object file\nmore detail`);
    },
  };
}

const pkg = (platform: string) => ({ [`wiretun-${platform}`]: `${ROOT}/../wiretun-${platform}/wiretun.${platform}.node` });

describe('candidates', () => {
  it('maps each supported host to its package, Windows to MSVC then mingw', () => {
    expect(candidates({ platform: 'linux', arch: 'x64', libc: 'glibc' })).toEqual(['linux-x64-gnu']);
    expect(candidates({ platform: 'linux', arch: 'arm64', libc: 'musl' })).toEqual(['linux-arm64-musl']);
    expect(candidates({ platform: 'darwin', arch: 'arm64' })).toEqual(['darwin-arm64']);
    expect(candidates({ platform: 'darwin', arch: 'x64' })).toEqual(['darwin-x64']);
    expect(candidates({ platform: 'win32', arch: 'x64' })).toEqual(['win32-x64-msvc', 'win32-x64-gnu']);
  });

  it('has nothing for platforms without a build', () => {
    expect(candidates({ platform: 'freebsd', arch: 'x64' })).toEqual([]);
    expect(candidates({ platform: 'linux', arch: 'ia32', libc: 'glibc' })).toEqual([]);
    expect(candidates({ platform: 'win32', arch: 'arm64' })).toEqual([]);
  });
});

describe('loadNative', () => {
  it('picks the glibc package on glibc and the musl package on musl', () => {
    const both = { ...pkg('linux-x64-gnu'), ...pkg('linux-x64-musl') };
    const gnu = loadNative<{ file: string }>(io({ platform: 'linux', arch: 'x64', libc: 'glibc', glibc: '2.28' }, both));
    expect(gnu.file).toMatch(/wiretun\.linux-x64-gnu\.node$/);
    const musl = loadNative<{ file: string }>(io({ platform: 'linux', arch: 'x64', libc: 'musl' }, both));
    expect(musl.file).toMatch(/wiretun\.linux-x64-musl\.node$/);
  });

  it('picks the darwin package on a (faked) Mac', () => {
    const loaded = loadNative<{ file: string }>(io({ platform: 'darwin', arch: 'arm64' }, { ...pkg('darwin-x64'), ...pkg('darwin-arm64') }));
    expect(loaded.binding.file).toMatch(/wiretun-darwin-arm64\/wiretun\.darwin-arm64\.node$/);
  });

  it('falls back to the mingw build on official Windows Node when no MSVC package is installed', () => {
    const loaded = loadNative<{ file: string }>(io({ platform: 'win32', arch: 'x64' }, pkg('win32-x64-gnu')));
    expect(loaded.file).toMatch(/wiretun\.win32-x64-gnu\.node$/);
    const both = loadNative<{ file: string }>(io({ platform: 'win32', arch: 'x64' }, { ...pkg('win32-x64-msvc'), ...pkg('win32-x64-gnu') }));
    expect(both.file).toMatch(/msvc/);
  });

  it('prefers a build from source in native/, and WIRETUN_NATIVE_PATH over both', () => {
    const host: Host = { platform: 'linux', arch: 'arm64', libc: 'glibc', glibc: '2.36' };
    const local = `${ROOT}/native/wiretun.linux-arm64-gnu.node`;
    expect(loadNative(io(host, pkg('linux-arm64-gnu'), { local: [local], loadable: [local] })).file).toBe(local);
    const env = { WIRETUN_NATIVE_PATH: '/src/wiretun/native/wiretun.linux-arm64-gnu.node' };
    expect(loadNative(io(host, pkg('linux-arm64-gnu'), { env, loadable: [env.WIRETUN_NATIVE_PATH] })).file).toBe(env.WIRETUN_NATIVE_PATH);
  });

  it('names the platform, the prebuilt ones and the way from source where none fits', () => {
    for (const host of [
      { platform: 'freebsd', arch: 'x64' },
      { platform: 'linux', arch: 'ia32', libc: 'glibc', glibc: '2.36' },
    ] as Host[]) {
      let err: unknown;
      try {
        loadNative(io(host, {}));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(NoNativeBinaryError);
      const msg = (err as Error).message;
      expect(msg).toContain(`no native binary for ${host.platform}-${host.arch}`);
      expect(msg).toContain('linux-x64-gnu, linux-arm64-gnu, linux-x64-musl');
      expect(msg).toContain('npm run build:native');
      expect(msg).not.toContain('\n');
    }
  });

  it('refuses a glibc older than the binaries with the versions in the message', () => {
    expect(() => loadNative(io({ platform: 'linux', arch: 'x64', libc: 'glibc', glibc: '2.12' }, pkg('linux-x64-gnu')))).toThrow(
      /glibc is 2\.12, and wiretun-linux-x64-gnu needs glibc 2\.17 or newer.*build:native/,
    );
    expect(loadNative(io({ platform: 'linux', arch: 'x64', libc: 'glibc', glibc: '2.17' }, pkg('linux-x64-gnu'))).file).toMatch(/gnu/);
  });

  it('lists every package tried, and why, when the optional package is missing or broken', () => {
    let err = catchIt(() => loadNative(io({ platform: 'win32', arch: 'x64' }, {})));
    expect(err.message).toContain('Tried: wiretun-win32-x64-msvc: not installed; wiretun-win32-x64-gnu: not installed');
    expect(err.message).toContain('--omit=optional');
    err = catchIt(() => loadNative(io({ platform: 'linux', arch: 'x64', libc: 'musl' }, pkg('linux-x64-musl'), { loadable: [] })));
    expect(err.message).toMatch(/wiretun-linux-x64-musl \(.*\): .*cannot open shared object file\. /);
    expect(err.message).not.toContain('more detail');
  });
});

describe('this host', () => {
  it('detects the C library Node runs on, and localBinary names native/<platform>', () => {
    const host = detectHost();
    expect(host.platform).toBe(process.platform);
    if (process.platform === 'linux') {
      expect(['glibc', 'musl']).toContain(host.libc);
      if (host.libc === 'glibc') expect(host.glibc).toMatch(/^\d+\.\d+/);
    }
    expect(localBinary('/r', { platform: 'linux', arch: 'x64', libc: 'musl' })).toBe('/r/native/wiretun.linux-x64-musl.node');
  });
});

function catchIt(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('did not throw');
}
