// The packet codec: IPv4/TCP parsing into reusable views, in-place rewrites
// with incremental checksums, and the few builders that must copy.
export { ipToString, parseIp } from './address';
export { setDst, setSrc } from './address-rewrite';
export { fold, internetChecksum, onesComplementSum, updateChecksum16, updateChecksum32 } from './checksum';
export { crack, encapsulate } from './ipip';
export {
  computeIpv4HeaderChecksum, createIpv4View, IPPROTO_IPIP, IPPROTO_TCP, parseIpv4,
  type Ipv4Status, type Ipv4View,
} from './ipv4';
export { clampMss, MSS_OPTION_LENGTH } from './mss';
export type { Rebuilt } from './rebuilt';
export { buildRst, type RstSpec } from './rst';
export { addTag, readTag, stripTags, TAG_BLOCK_LENGTH, TAG_EXPERIMENT_ID, type TagReading, type TagRefusal } from './tag';
export {
  computeTcpChecksum, createTcpView, parseTcp, TCP_MAX_HEADER_LENGTH, TcpFlag, verifyTcpChecksum,
  type TcpStatus, type TcpView,
} from './tcp';
export { readWindowScale, TcpOptionCursor, TcpOptionKind, type OptionStep } from './tcp-options';
