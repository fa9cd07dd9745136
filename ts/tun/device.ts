// TUN/TAP devices whose packets JS reads one by one: for learning, debugging and test fixtures. The WireGuard
// data plane never goes through here; it keeps packets in Rust.
import { callNative, fromNative } from '../errors';
import { native } from '../native';
import { requireLinux } from '../platform';
import { checkOptions, OPEN_TUN_OPTIONS } from '../options';

export type TunMode = 'tun' | 'tap';

export interface OpenTunOptions {
  /** Interface name; the kernel picks tunN/tapN when absent. An existing persistent device of that name is
   * attached to (its mode must match). */
  name?: string;
  /** `tun`: IP packets (layer 3). `tap`: Ethernet frames (layer 2). */
  mode: TunMode;
  /** Set the MTU (needs CAP_NET_ADMIN). */
  mtu?: number;
  /** Keep the interface after close(), like `ip tuntap add`; remove it with deletePersistentTun(). */
  persist?: boolean;
  /** Uid that may attach later without CAP_NET_ADMIN. */
  owner?: number;
  /** Gid whose members may attach later without CAP_NET_ADMIN. */
  group?: number;
  /** Keep the kernel's 4-byte flags/protocol prefix on every packet read and expect it on every write. */
  packetInfo?: boolean;
}

/** One TUN/TAP interface as /sys/class/net describes it. */
export interface TunInfo {
  name: string;
  mode: TunMode;
  persist: boolean;
  multiQueue: boolean;
  /** Absent: no owner set (only CAP_NET_ADMIN may attach). */
  owner?: number;
  group?: number;
}

// The binding's toolkit half; ts/native.ts types the data-plane half only.
interface NativeTun {
  readonly name: string;
  read(): Promise<Buffer>;
  write(packet: Buffer): number;
  close(): void;
}

interface NativeTunInfo {
  name: string;
  mode: string;
  persist: boolean;
  multiQueue: boolean;
  owner?: number | null;
  group?: number | null;
}

interface TunBinding {
  BindingTun: {
    open(opts: {
      name?: string;
      tap?: boolean;
      mtu?: number;
      persist?: boolean;
      owner?: number;
      group?: number;
      packetInfo?: boolean;
    }): NativeTun;
  };
  listTuns(): NativeTunInfo[];
  deletePersistentTun(name: string): void;
}

function binding(feature: string): TunBinding {
  requireLinux(feature);
  return native() as unknown as TunBinding;
}

/**
 * An open TUN/TAP interface. Each pending read holds one libuv thread-pool thread (4 by default) until a packet
 * arrives or close() is called, and keeps the process alive meanwhile: close the device when done.
 */
export class TunDevice implements AsyncIterable<Buffer> {
  readonly name: string;
  readonly mode: TunMode;
  #closed = false;

  /** Use openTun(). */
  constructor(
    private readonly handle: NativeTun,
    mode: TunMode,
  ) {
    this.name = handle.name;
    this.mode = mode;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The next packet (TUN) or frame (TAP). Rejects with a WiretunError, code EBADF, once the device is closed. */
  async read(): Promise<Buffer> {
    try {
      return await callNative(() => this.handle.read());
    } catch (err) {
      throw fromNative(err);
    }
  }

  /** Hands one whole packet (TUN) or frame (TAP) to the kernel. Returns the bytes written. */
  write(packet: Buffer): number {
    return callNative(() => this.handle.write(packet));
  }

  /** Ends every pending read and the iteration; a non-persistent interface disappears. Idempotent. */
  close(): void {
    this.#closed = true;
    callNative(() => this.handle.close());
  }

  /** Yields packets until close(). Leaving a `for await` loop early does not close the device. */
  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    while (!this.#closed) {
      let packet: Buffer;
      try {
        packet = await this.read();
      } catch (err) {
        if (this.#closed) return;
        throw err;
      }
      yield packet;
    }
  }
}

/**
 * Creates a TUN/TAP interface, or attaches to an existing persistent one. Linux only.
 * @throws TypeError for an option it does not know or of the wrong type, before anything is opened.
 */
export function openTun(options: OpenTunOptions): TunDevice {
  checkOptions('openTun', options, OPEN_TUN_OPTIONS);
  const b = binding('TUN/TAP devices');
  const { mode, ...rest } = options;
  const handle = callNative(() => b.BindingTun.open({ ...rest, tap: mode === 'tap' }));
  return new TunDevice(handle, mode);
}

/** TUN/TAP interfaces in this network namespace, by name. Linux only. */
export function listTuns(): TunInfo[] {
  return callNative(() => binding('TUN/TAP devices').listTuns()).map((t) => {
    const info: TunInfo = { name: t.name, mode: t.mode === 'tap' ? 'tap' : 'tun', persist: t.persist, multiQueue: t.multiQueue };
    if (t.owner != null) info.owner = t.owner;
    if (t.group != null) info.group = t.group;
    return info;
  });
}

/** Removes a persistent TUN/TAP interface (clears TUNSETPERSIST), like `ip tuntap del`. Fails with EBUSY while
 * a process has it open and EINVAL for a device that is not persistent. Linux only. */
export function deletePersistentTun(name: string): void {
  callNative(() => binding('TUN/TAP devices').deletePersistentTun(name));
}
