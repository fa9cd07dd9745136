// The UAPI socket, /var/run/wireguard/IF.sock: served natively (crates/wiretun-core/src/uapi) on a Rust thread
// of the device, so requests are answered whatever the JS thread is doing, including waiting for a
// synchronous `wg` child. Refused requests and applied changes reach JS as the device's `uapiError` and
// `uapiSet` events.
import * as path from 'node:path';
import { callNative } from '../errors';
import { NativeDevice } from '../native';

export const SOCKET_DIR = '/var/run/wireguard';

export function socketPath(iface: string, dir = SOCKET_DIR): string {
  return path.join(dir, `${iface}.sock`);
}

export interface UapiServer {
  readonly path: string;
  /** Stops serving and removes the socket. Throws (EACCES after a privilege drop) only when the socket could
   * not be removed; serving has stopped regardless. */
  close(): void;
}

/**
 * Serves `device` on `dir/NAME.sock` (root only, directory 0755; a stale socket is replaced, one another
 * process answers on is refused: "interface NAME is in use"). Closing the device also closes the server.
 * While served, the process stays alive, as with any listening socket (a native thread does not hold the
 * event loop, so a timer does).
 */
export function serveUapi(device: NativeDevice, opts: { dir?: string } = {}): UapiServer {
  return serveUapiAt(device, socketPath(device.name, opts.dir));
}

/** Serves `device` on the socket at `file` (a rootless tunnel's `uapiPath`), as {@link serveUapi} does. */
export function serveUapiAt(device: NativeDevice, file: string): UapiServer {
  const sock = callNative(() => device.serveUapi(file));
  const keepAlive = setInterval(() => undefined, 0x7fffffff);
  return {
    path: sock,
    close: () => {
      clearInterval(keepAlive);
      callNative(() => device.closeUapi());
    },
  };
}
