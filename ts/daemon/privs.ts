// `wiretund --user NAME`: start as root, create the TUN and the UAPI socket, then run as NAME with only
// CAP_NET_ADMIN left, on the native UAPI thread alone: every configuration change arrives there, and SO_MARK
// for fwmark changes is the one privileged call left (see crates/wiretun-napi/src/privs.rs for why the other
// threads, the JS one included, need nothing).
//
// The UAPI socket stays owned by root with mode 0600. Root connects whatever the owner, so `wg` as root keeps
// working; giving the socket to NAME would instead let every other process running as NAME (nobody is shared
// by many services) read the private key and reconfigure the tunnel. The price: NAME cannot unlink the socket
// from the root-owned /var/run/wireguard at exit, so a stopped daemon leaves a stale socket behind. Nothing
// answers on it, so it is harmless, and it goes away on its own: `wg` (as root) deletes a socket that refuses
// connections, and the next wiretund for the same name removes it before binding (see claim() in
// crates/wiretun-core/src/uapi/server.rs). Making the directory writable for NAME would let NAME delete other interfaces' sockets.
import { callNative } from '../errors';
import { native, NativeDevice } from '../native';

interface PrivsBinding {
  lookupUser(name: string): { uid: number; gid: number };
  restrictNewThreads(): void;
}

const binding = (): PrivsBinding => native() as unknown as PrivsBinding;

/** A drop planned before set-up: the user exists and we are root, so apply() can only fail on the kernel. */
export interface PlannedDrop {
  user: string;
  uid: number;
  gid: number;
  /** Switches every thread to the user, from the UAPI thread of `device` (which must be serving); returns a
   * line for the verbose log. */
  apply(device: NativeDevice): string;
}

/** Everything about --user that can be checked without changing anything: root, and a user other than root. */
export function resolveUser(user: string): { uid: number; gid: number } {
  if (process.geteuid?.() !== 0) {
    throw new Error(`--user ${user} needs root: wiretund sets up as root, then switches to ${user}`);
  }
  const ids = callNative(() => binding().lookupUser(user));
  if (ids.uid === 0) throw new Error(`--user ${user} is root (uid 0): nothing would be dropped`);
  return ids;
}

/**
 * Checks the user before the system is touched, so a bad --user leaves nothing behind, then restricts the
 * threads the device is about to start (no_new_privs, bounding set CAP_NET_ADMIN).
 */
export function planDrop(user: string): PlannedDrop {
  const ids = resolveUser(user);
  callNative(() => binding().restrictNewThreads());
  return {
    user,
    ...ids,
    apply: (device) => {
      const r = callNative(() => device.dropPrivileges(ids.uid, ids.gid));
      return (
        `running as ${user} (uid ${ids.uid}, gid ${ids.gid}, no supplementary groups); ` +
        `${r.threads} threads checked, only thread ${r.keptBy} (wt-uapi) keeps CAP_NET_ADMIN`
      );
    },
  };
}
