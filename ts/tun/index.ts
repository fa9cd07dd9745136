// The TUN/TAP learning and debugging toolkit: devices whose packets JS sees one by one, header decoding and
// an echo responder. Separate from the WireGuard data plane.
export { openTun, listTuns, deletePersistentTun, TunDevice } from './device';
export type { OpenTunOptions, TunInfo, TunMode } from './device';
export { decodePacket, PacketDecodeError } from './decode';
export type { DecodedPacket, TcpSummary, UdpSummary, IcmpSummary } from './decode';
export { decodeFrame, formatPacket, formatFrame, describePacket } from './format';
export type { DecodedFrame } from './format';
export { buildEchoReply, internetChecksum, ipv6PseudoHeader } from './echo';
