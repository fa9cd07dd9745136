// Reading devices for the wg-style subcommands: which interfaces exist (their UAPI sockets) and each one's state
// with the public key derived, as wg derives it from the private key the daemon reports.
import { promises as fs } from 'node:fs';
import { getDevice } from '../uapi/client';
import { SOCKET_DIR } from '../uapi/server';
import { native } from '../native';
import { callNative } from '../errors';
import { ShownDevice } from './wg-format';

/** Userspace interfaces: the `*.sock` files in the socket directory, sorted so the output is stable. */
export async function listInterfaces(dir = SOCKET_DIR): Promise<string[]> {
  let entries: string[];
  try {
    entries = await fs.readdir(dir);
  } catch (err) {
    // No directory means no daemon has ever run: an empty list, as wg prints.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const names = entries.filter((e) => e.endsWith('.sock') && e.length > 5).map((e) => e.slice(0, -5));
  const sockets = await Promise.all(names.map(async (n) => (await fs.stat(`${dir}/${n}.sock`).catch(() => undefined))?.isSocket()));
  return names.filter((_, i) => sockets[i]).sort();
}

export async function loadDevice(name: string): Promise<ShownDevice> {
  const state = await getDevice(name);
  const priv = state.privateKey;
  const publicKey = priv ? callNative(() => native().publicKeyFromPrivate(priv)) : undefined;
  return { name, state, publicKey };
}

export const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));
