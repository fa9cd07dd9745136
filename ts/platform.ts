// Guards for features that only exist on Linux (routing through `ip`, policy rules, nftables, network
// namespaces). The native core loads on macOS and Windows too; what does not port must say so plainly instead of
// failing later with "spawn ip ENOENT".

const NAMES: Partial<Record<NodeJS.Platform, string>> = {
  darwin: 'macOS',
  win32: 'Windows',
  freebsd: 'FreeBSD',
  openbsd: 'OpenBSD',
  linux: 'Linux',
};

/** A readable name for a Node platform id: `darwin` → `macOS (darwin)`. */
export function platformName(platform: NodeJS.Platform = process.platform): string {
  const name = NAMES[platform];
  return name && name.toLowerCase() !== platform ? `${name} (${platform})` : platform;
}

/** Thrown by requireLinux; `code` lets callers tell it from other failures. */
export class UnsupportedPlatformError extends Error {
  readonly code = 'ERR_WIRETUN_UNSUPPORTED_PLATFORM';
  constructor(
    readonly feature: string,
    readonly platform: NodeJS.Platform,
  ) {
    super(
      `${feature} is only supported on Linux; this is ${platformName(platform)}. ` +
        'It sets up interfaces, addresses and routes with Linux tools (ip, policy routing, nftables, network ' +
        'namespaces). Key commands (wiretun genkey/pubkey/genpsk) work on every platform.',
    );
    this.name = 'UnsupportedPlatformError';
  }
}

/**
 * Throws an UnsupportedPlatformError naming `feature` and the current platform unless running on Linux.
 * `platform` is for tests.
 */
export function requireLinux(feature: string, platform: NodeJS.Platform = process.platform): void {
  if (platform !== 'linux') throw new UnsupportedPlatformError(feature, platform);
}
