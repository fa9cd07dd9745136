// wiretund --user without root: the option and WIRETUN_USER, and the refusals that must happen before anything
// is created (the drop itself needs root: test/netns/privdrop.test.ts).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseArgs } from '../../ts/daemon/main';
import { planDrop } from '../../ts/daemon/privs';

describe('wiretund --user', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('takes --user NAME or --user=NAME anywhere before the name; WIRETUN_USER when the option is absent', () => {
    expect(parseArgs(['--user', 'nobody', 'wg0'], {})).toEqual({ foreground: false, iface: 'wg0', user: 'nobody' });
    expect(parseArgs(['-f', '--user=nobody', 'wg0'], {})).toEqual({ foreground: true, iface: 'wg0', user: 'nobody' });
    expect(parseArgs(['wg0'], { WIRETUN_USER: 'daemon' })).toEqual({ foreground: false, iface: 'wg0', user: 'daemon' });
    expect(parseArgs(['--user', 'nobody', 'wg0'], { WIRETUN_USER: 'daemon' }).user).toBe('nobody');
    expect(parseArgs(['wg0'], { WIRETUN_USER: '' })).toEqual({ foreground: false, iface: 'wg0' });
  });

  it('refuses --user without a name', () => {
    for (const argv of [['wg0', '--user'], ['--user=', 'wg0']]) {
      expect(parseArgs(argv, {}).exit).toMatchObject({ code: 1, err: expect.stringContaining('--user needs a user name') });
    }
  });

  it('refuses to plan a drop without root, naming the user', () => {
    vi.spyOn(process as { geteuid: () => number }, 'geteuid').mockReturnValue(1000);
    expect(() => planDrop('nobody')).toThrow('--user nobody needs root');
  });

  it.skipIf(process.geteuid?.() !== 0)('as root: refuses an unknown user and root itself before changing anything', () => {
    expect(() => planDrop('wt-no-such-user')).toThrow('unknown user "wt-no-such-user"');
    expect(() => planDrop('root')).toThrow('is root (uid 0)');
  });
});
