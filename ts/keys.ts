// WireGuard keys as base64 strings (the format of wg(8) and config files), made natively (X25519).
import { native } from './native';
import { callNative, WiretunError } from './errors';

const KEY_BYTES = 32;

/** A new random private key, base64. */
export function generatePrivateKey(): string {
  return callNative(() => native().generatePrivateKey()).toString('base64');
}

/** The public key of a base64 private key. */
export function publicKeyFromPrivate(privateKey: string): string {
  const raw = decodeKey(privateKey, 'private key');
  return callNative(() => native().publicKeyFromPrivate(raw)).toString('base64');
}

/** A new random preshared key, base64. */
export function generatePresharedKey(): string {
  return callNative(() => native().generatePresharedKey()).toString('base64');
}

/** Decodes a base64 key, insisting on exactly 32 bytes. `what` names the key in the error, never its value. */
export function decodeKey(key: string, what = 'key'): Buffer {
  const trimmed = key.trim();
  if (!/^[A-Za-z0-9+/]{43}=$/.test(trimmed)) {
    throw new WiretunError('EINVAL', `${what} is not a 44-character base64 WireGuard key`);
  }
  const raw = Buffer.from(trimmed, 'base64');
  if (raw.length !== KEY_BYTES) throw new WiretunError('EINVAL', `${what} does not decode to 32 bytes`);
  return raw;
}
