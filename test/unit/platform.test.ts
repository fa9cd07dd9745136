import { describe, expect, it } from 'vitest';
import { requireLinux, UnsupportedPlatformError } from '../../ts/platform';

describe('requireLinux', () => {
  it('passes on Linux', () => {
    expect(() => requireLinux('wiretun up', 'linux')).not.toThrow();
  });

  it('names the feature and the platform elsewhere', () => {
    expect(() => requireLinux('wiretun up', 'darwin')).toThrow(UnsupportedPlatformError);
    expect(() => requireLinux('wiretun up', 'darwin')).toThrow(/wiretun up.*macOS/);
    expect(() => requireLinux('wiretund', 'win32')).toThrow(/wiretund.*Windows/);
  });
});
