// `wiretun proxy`'s sandbox, as wireproxy has one: once every listener is up, Landlock (Linux 5.13+) leaves
// the process only the files it still needs. The Rust side (crates/wiretun-proxy/src/sandbox) applies it to
// every thread; this chooses the paths and words the log line. Only the file system is restricted.
import * as path from 'node:path';
import type { NativeSandboxOutcome, NativeSandboxPaths } from '../native';

/**
 * `files`: the config, the wg-quick file, certificates and keys (nothing re-reads them today, but a reload
 * would). Node itself needs nothing more once its modules are loaded (they are all required at start, and its
 * built-in ones live in the binary), except /dev/null and /dev/urandom as libraries open them, and the time
 * zone files for local times. With `--system-dns` the C library's resolver reads its files on every lookup
 * and loads its NSS modules (libnss_*) on first use, so the library folders stay readable too: they hold
 * nothing secret.
 */
export function sandboxPaths(files: string[], systemDns: boolean): NativeSandboxPaths {
  const readFiles = [...new Set(files.map((f) => path.resolve(f)))];
  readFiles.push('/dev/urandom', '/etc/localtime');
  const readDirs = ['/usr/share/zoneinfo'];
  if (systemDns) {
    readFiles.push('/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf', '/etc/host.conf', '/etc/gai.conf', '/etc/services');
    readDirs.push('/lib', '/lib64', '/usr/lib', '/usr/lib64');
  }
  return { readFiles, readDirs, writeFiles: ['/dev/null'] };
}

/** The log line's words for what the sandbox did. */
export function sandboxLine(outcome: NativeSandboxOutcome | 'off'): string {
  switch (outcome === 'off' ? 'off' : outcome.status) {
    case 'off': return 'sandbox: off (--no-sandbox)';
    case 'full': return 'sandbox: Landlock applied fully: no file but the config\'s (and the resolver\'s) can be opened any more';
    case 'partial': return `sandbox: Landlock applied partially: ${(outcome as NativeSandboxOutcome).detail ?? 'some restrictions are missing'}`;
    case 'no-kernel-support': return 'sandbox: not applied: this kernel has no Landlock (Linux 5.13+ with landlock among its LSMs)';
    default: return 'sandbox: not applied: Landlock is Linux\'s, and this OS has no sandbox wiretun uses';
  }
}
