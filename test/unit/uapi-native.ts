// The native UAPI codec (crates/wiretun-core/src/uapi) as the unit tests reach it through the binding.
import { DeviceState } from '../../ts/config/model';
import { native } from '../../ts/native';

/** What the native server reads a set body as: its errno, and for an accepted one the change written back in
 * wireguard-tools' order (`canonical`) and the daemon's log line (`summary`). */
export const nativeReads = (body: string) => native().uapiCheckSet(`set=1\n${body}\n`);

/** The get reply body the native server writes for a state (without the errno line). */
export const nativeGet = (s: DeviceState): string =>
  native().uapiFormatGet(
    s.privateKey ?? undefined,
    s.listenPort,
    s.fwmark,
    // The binding takes an absent field, not null, for "none".
    s.peers.map((p) => ({ ...p, presharedKey: p.presharedKey ?? undefined, endpoint: p.endpoint ?? undefined })),
  );
