// Which native binary fits this machine, and where it is. napi-rs generates a loader too; this one is ours for
// two reasons. On Windows the core ships as a mingw (windows-gnu) build, which official Node loads like any
// other addon, beside an MSVC build from the release runner: napi's loader only ever tries MSVC there. And where
// nothing fits (FreeBSD, 32-bit, a glibc older than the binaries', a skipped optional package) the user gets one
// error naming the platform, every place tried and how to build from source, instead of a stack of require()s.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/** The oldest glibc the linux-*-gnu binaries run on (they are linked against it: scripts/build-platforms). */
export const MIN_GLIBC = '2.17';

/** What decides the binary: Node's platform and arch, and on Linux the C library. */
export interface Host {
  platform: NodeJS.Platform;
  arch: string;
  /** Linux only. */
  libc?: 'glibc' | 'musl';
  /** Linux with glibc: the running glibc's version, e.g. `2.36`. */
  glibc?: string;
}

/** Every platform a prebuilt package exists for, in napi-rs's names (npm/<platform>/, wiretun-<platform>). */
export const PREBUILT = [
  'linux-x64-gnu',
  'linux-arm64-gnu',
  'linux-x64-musl',
  'linux-arm64-musl',
  'darwin-x64',
  'darwin-arm64',
  'win32-x64-msvc',
  'win32-x64-gnu',
] as const;

/** The platforms whose binaries can run on `host`, best first. Empty where none can. */
export function candidates(host: Host): string[] {
  const { platform, arch } = host;
  if (arch !== 'x64' && arch !== 'arm64') return [];
  if (platform === 'linux') return [`linux-${arch}-${host.libc === 'musl' ? 'musl' : 'gnu'}`];
  if (platform === 'darwin') return [`darwin-${arch}`];
  if (platform === 'win32' && arch === 'x64') return ['win32-x64-msvc', 'win32-x64-gnu'];
  return [];
}

/** This process's host. The C library is read from Node's own report header, which names glibc's version
 * when Node runs on glibc and has no such field on musl. */
export function detectHost(): Host {
  const host: Host = { platform: process.platform, arch: process.arch };
  if (host.platform !== 'linux') return host;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  const glibc = header?.glibcVersionRuntime;
  if (glibc) return { ...host, libc: 'glibc', glibc };
  return { ...host, libc: isMusl() ? 'musl' : 'glibc' };
}

function isMusl(): boolean {
  try {
    return readFileSync('/usr/bin/ldd', 'latin1').includes('musl');
  } catch {
    return existsSync('/lib/ld-musl-x86_64.so.1') || existsSync('/lib/ld-musl-aarch64.so.1');
  }
}

/** `2.12` < `2.17`. */
function olderThan(version: string, min: string): boolean {
  const a = version.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  }
  return false;
}

/** What loadNative needs from the outside world; tests fake it. */
export interface LoaderIo {
  host: Host;
  env: NodeJS.ProcessEnv;
  /** The package root: its native/ folder holds a binary built from source (`npm run build:native`). */
  root: string;
  exists(file: string): boolean;
  /** Node's require from the package's own location (it finds the optional wiretun-<platform> packages). */
  require(id: string): unknown;
  resolve(id: string): string;
}

export function defaultIo(root: string): LoaderIo {
  return {
    host: detectHost(),
    env: process.env,
    root,
    exists: existsSync,
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require: (id) => require(id) as unknown,
    resolve: (id) => require.resolve(id, { paths: [root] }),
  };
}

/** Thrown when no binary loads; `tried` lists each place with why it did not do. */
export class NoNativeBinaryError extends Error {
  readonly code = 'ERR_WIRETUN_NO_NATIVE_BINARY';
  constructor(
    message: string,
    readonly tried: string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'NoNativeBinaryError';
  }
}

const FROM_SOURCE =
  'To build it from source: install Rust (https://rustup.rs), then in a checkout of wiretun run ' +
  '`npm ci && npm run build:native`, and point WIRETUN_NATIVE_PATH at the native/wiretun.*.node it builds.';

/** Loads the binary that fits `io.host`, trying in order: WIRETUN_NATIVE_PATH, a binary built from source in
 * native/, then the platform's npm package. Throws a NoNativeBinaryError saying why none did. */
export function loadNative<T>(io: LoaderIo): { binding: T; file: string } {
  const { host } = io;
  const label = host.platform === 'linux' ? `${host.platform}-${host.arch} (${host.libc ?? 'glibc'})` : `${host.platform}-${host.arch}`;
  const tried: string[] = [];
  let cause: unknown;
  const attempt = (file: string, what: string): T | undefined => {
    try {
      return io.require(file) as T;
    } catch (err) {
      cause = err;
      tried.push(`${what}: ${firstLine(err)}`);
      return undefined;
    }
  };

  const override = io.env.WIRETUN_NATIVE_PATH || io.env.NAPI_RS_NATIVE_LIBRARY_PATH;
  if (override) {
    const binding = attempt(path.resolve(override), `WIRETUN_NATIVE_PATH=${override}`);
    if (binding) return { binding, file: path.resolve(override) };
  }
  const platforms = candidates(host);
  if (!platforms.length) {
    throw new NoNativeBinaryError(
      `wiretun has no native binary for ${label} (Node ${process.versions.node}). Prebuilt binaries exist for ` +
        `${PREBUILT.join(', ')}. ${FROM_SOURCE}`,
      tried,
      { cause },
    );
  }
  if (host.libc === 'glibc' && host.glibc && olderThan(host.glibc, MIN_GLIBC) && !override) {
    throw new NoNativeBinaryError(
      `wiretun has no native binary for ${label}: this glibc is ${host.glibc}, and wiretun-${platforms[0]} needs ` +
        `glibc ${MIN_GLIBC} or newer. ${FROM_SOURCE}`,
      tried,
    );
  }
  for (const platform of platforms) {
    const local = path.join(io.root, 'native', `wiretun.${platform}.node`);
    if (io.exists(local)) {
      const binding = attempt(local, local);
      if (binding) return { binding, file: local };
    }
    let file: string | undefined;
    try {
      file = io.resolve(`wiretun-${platform}`);
    } catch {
      tried.push(`wiretun-${platform}: not installed`);
      continue;
    }
    const binding = attempt(file, `wiretun-${platform} (${file})`);
    if (binding) return { binding, file };
  }
  throw new NoNativeBinaryError(
    `wiretun has no native binary for ${label} (Node ${process.versions.node}). Tried: ${tried.join('; ')}. ` +
      `The binary comes as the optional package wiretun-${platforms[0]}: reinstall without --no-optional or ` +
      `--omit=optional. ${FROM_SOURCE}`,
    tried,
    { cause },
  );
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0].replace(/\.+$/, '');
}

/** Where `npm run build:native` puts this host's binary (native/wiretun.<platform>.node), built or not. */
export function localBinary(root: string, host: Host = detectHost()): string {
  return path.join(root, 'native', `wiretun.${candidates(host)[0] ?? `${host.platform}-${host.arch}`}.node`);
}
