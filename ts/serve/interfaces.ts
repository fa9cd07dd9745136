// The interfaces the console manages and the one way it edits them. Config files are re-read on every request
// (they are small), so edits by `wiretun peer ...` or an editor show up at once. Every console edit runs
// serialized: in this process through a per-file queue, across processes through the same lock file
// `wiretun peer` takes (ts/peers/store.ts), and it is written atomically with the running interface changed in
// the same step or not at all. The running device sits behind LiveAccess, so unit tests fake only that part.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { configPath, CONFIG_DIR } from '../config/locate';
import { ConfigError } from '../config/wgquick';
import { parseConfig } from '../config/parse';
import { DeviceState } from '../uapi/codec';
import { addLivePeer, liveDevice, LivePeer, removeLivePeer } from '../peers/live';
import { commitEdit, LoadedConfig, loadConfig, withConfigLock } from '../peers/store';
import { ApiError, notFound } from './http';

/** The running side of an interface: its UAPI socket, and `up`/`down` as `wiretun up/down` do them. */
export interface LiveAccess {
  device(iface: string): Promise<DeviceState | undefined>;
  addPeer(iface: string, peer: LivePeer): Promise<void>;
  removePeer(iface: string, publicKey: string): Promise<void>;
  up(loaded: LoadedConfig): Promise<void>;
  down(loaded: LoadedConfig): Promise<void>;
}

/** The real thing: the UAPI client of `wiretun peer`, and the apply code of `wiretun up` / `down`. */
export function realLive(): LiveAccess {
  /* eslint-disable @typescript-eslint/no-require-imports */
  // Loaded on first use: the routing code is only needed to bring an interface up or down.
  const cli = () => require('../cli/wg-quick') as typeof import('../cli/wg-quick');
  const apply = () => require('../routing/apply') as typeof import('../routing/apply');
  const save = () => require('../cli/save') as typeof import('../cli/save');
  /* eslint-enable @typescript-eslint/no-require-imports */
  return {
    device: (iface) => liveDevice(iface),
    addPeer: (iface, peer) => addLivePeer(iface, peer),
    removePeer: (iface, key) => removeLivePeer(iface, key),
    up: (loaded) => apply().applyUp(cli().realEnv(), loaded.config, loaded.interfaceName, { configPath: loaded.path }),
    down: async (loaded) => {
      const env = cli().realEnv();
      env.saveConfig = save().saver(env, loaded.path, loaded.config);
      const failed = await apply().applyDown(env, loaded.config, loaded.interfaceName);
      if (failed) throw new Error(`down ${loaded.interfaceName}: ${failed} step(s) failed (see the server log)`);
    },
  };
}

/** What an edit decides: the new file text (unchanged = no write), the change to the running interface, and
 * the answer for the caller. Throwing changes nothing. */
export interface EditPlan<T> {
  text?: string;
  apply?: () => Promise<void>;
  result: T;
}

export interface InterfacesOptions {
  /** Where bare names live and which directory is listed when `names` is empty. */
  configDir?: string;
  /** Interface names or config paths, as for `wiretun up`; empty = every *.conf in configDir. */
  names?: string[];
  live: LiveAccess;
}

export class Interfaces {
  readonly live: LiveAccess;
  private readonly dir: string;
  private readonly names: string[];
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(opts: InterfacesOptions) {
    this.dir = opts.configDir ?? CONFIG_DIR;
    this.names = opts.names ?? [];
    this.live = opts.live;
    for (const n of this.names) configPath(n, this.dir); // a bad name fails at start, not on first request
  }

  /** Interface name → the argument that loads it (a name or a path). */
  async known(): Promise<Map<string, string>> {
    const args = this.names.length ? this.names : await this.scan();
    return new Map(args.map((a) => [configPath(a, this.dir).interfaceName, a]));
  }

  private async scan(): Promise<string[]> {
    const entries = await fs.readdir(this.dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
    return entries
      .filter((e) => /^[a-zA-Z0-9_=+.-]{1,15}\.conf$/.test(e))
      .sort()
      .map((e) => path.join(this.dir, e));
  }

  async load(iface: string): Promise<LoadedConfig> {
    const arg = (await this.known()).get(iface);
    if (arg === undefined) throw notFound(`no interface ${iface}`);
    try {
      return await loadConfig(arg, this.dir);
    } catch (err) {
      if (err instanceof ConfigError) throw new ApiError(409, 'bad_config', err.message);
      throw err;
    }
  }

  /** Loads, plans and commits one edit of `iface`'s file, serialized with every other wiretun writer. */
  async edit<T>(iface: string, plan: (loaded: LoadedConfig, live: DeviceState | undefined) => EditPlan<T> | Promise<EditPlan<T>>): Promise<T> {
    const file = (await this.load(iface)).path;
    const previous = this.queues.get(file) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() =>
      withConfigLock(file, async () => {
        const loaded = await this.load(iface);
        const p = await plan(loaded, await this.live.device(iface));
        if (p.text !== undefined && p.text !== loaded.text) {
          // The new text must still be a config `up` accepts: never write a file that would not come up.
          checkParses(p.text, loaded.path);
          await commitEdit(loaded, p.text, p.apply, { locked: true });
        } else if (p.apply) await p.apply();
        return p.result;
      }),
    );
    this.queues.set(file, run);
    try {
      return await run;
    } finally {
      if (this.queues.get(file) === run) this.queues.delete(file);
    }
  }
}

function checkParses(text: string, file: string): void {
  try {
    parseConfig(Buffer.from(text, 'latin1').toString('utf8'), { file });
  } catch (err) {
    throw new ApiError(500, 'internal', `refusing to write ${file}: the edit would not parse (${(err as Error).message})`);
  }
}
