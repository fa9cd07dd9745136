/**
 * wiretun: userspace WireGuard for Node.js.
 *
 * The data plane (TUN, encryption, UDP) runs on native threads; this package's JavaScript handles
 * configuration, peers and events only.
 * @packageDocumentation
 */
export { Tunnel } from './tunnel';
export type { TunnelOptions, TunnelEvents, PeerOptions, PeerChanges, PeerStatus, ConnectListener } from './tunnel';
export type { NetstackTunnelOptions, NetstackFromConfigOptions } from './netstack/config';
export { TunnelServer, TunnelDatagramSocket } from './netstack/index';
export type {
  TunnelConnectOptions,
  TunnelServerEvents,
  TunnelDatagramEvents,
  RemoteInfo,
  LookupAddress,
  StackStats,
  FetchTlsOptions,
} from './netstack/index';
export { generatePrivateKey, generatePresharedKey, publicKeyFromPrivate } from './keys';
export { WiretunError } from './errors';
export { parseConfig } from './config/parse';
export { formatConfig } from './config/format';
export { ConfigError, configPeer, emptyConfig } from './config/wgquick';
export type { WgQuickConfig, ParseResult } from './config/wgquick';
export { emptyDeviceUpdate, emptyPeerUpdate } from './config/model';
export type { DeviceUpdate, PeerUpdate } from './config/model';
export type { ParseOptions } from './config/parse';

// The TUN/TAP toolkit: the one place JS sees packets one by one (for learning and debugging, not the data plane).
export * from './tun/index';
