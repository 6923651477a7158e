// What the kernel path's classifiers (gateway and replica) share: reading a frame's headers onto the stack,
// checking them, IPv4-in-IPv4 in and out, and how a program ends. Every program keeps the skb in r6 and
// ends at one of three labels: 'carried' (its own ending), 'next' (not ours: the next program, or the
// stack and the agent as before) and 'drop'.
import { BpfAssembler, FP, type Register } from './bpf-assembler';

export const HELPER = {
  mapLookup: 1, ktimeGetNs: 5, getPrandomU32: 7, storeBytes: 9, l3CsumReplace: 10, l4CsumReplace: 11, cloneRedirect: 13, redirect: 23, loadBytes: 26,
  csumDiff: 28, changeTail: 38, adjustRoom: 50, fibLookup: 69, skLookupTcp: 84, skRelease: 86,
};
export const TCX_NEXT = -1;
export const TCX_PASS = 0;
export const TC_ACT_SHOT = 2;
/** struct bpf_fib_lookup's IPv4 fields. */
export const FIB = { family: 0, ifindex: 8, src: 16, dst: 32, smac: 52, dmac: 58, size: 64 } as const;
const AF_INET = 2;
const BPF_FIB_LOOKUP_OUTPUT = 2;
export const ETH_HEADER = 14;
export const IP_HEADER = 20;
export const TCP_HEADER = 20;
/** The skb's mark (struct __sk_buff). */
export const SKB_MARK = 8;
/** The skb's length, its link-layer header included. */
export const SKB_LEN = 0;
const SKB_PKT_TYPE = 4;
const PACKET_HOST = 0;
const SKB_GSO_SIZE = 176;
const ADJ_ROOM_MAC = 1;
/** bpf_skb_adjust_room's room after the IPv4 header. */
export const ADJ_ROOM_NET = 0;
/**
 * Marks the skb as encapsulated, for segmentation offload; a second encapsulation of the same skb is then
 * refused (EALREADY), so the switch's fan-out, which puts one outer header after another on one start
 * packet (never a segmentation-offload one), goes without it.
 */
export const ADJ_ROOM_ENCAP_L3_IPV4 = 2;
/** Headers land on the stack from here, two bytes off, so every IPv4 and TCP field is naturally aligned. */
const HEADERS_AT = -82;
/** Free stack below the headers, for a program's own use (keys, scratch). */
export const STACK_FREE_BELOW = -88;
const OUTER_HEADER_AT = -128;
const REWRITE_SCRATCH_AT = -136;
/** Free stack below everything these pieces use (encapsulation and rewrites included). */
export const SCRATCH_FREE_BELOW = REWRITE_SCRATCH_AT;
/** bpf_l4_csum_replace: the change is to the pseudo header (the only one a checksum offload still needs). */
export const BPF_F_PSEUDO_HDR = 0x10;

export const SKB: Register = 6;

/** Where packet byte `offset` lies on the stack. */
export const at = (offset: number): number => HEADERS_AT + offset;

export function copyHeaders(a: BpfAssembler, offset: number, length: number): void {
  a.movReg(1, SKB).mov(2, offset).movReg(3, FP).aluImm('add', 3, at(offset)).mov(4, length).call(HELPER.loadBytes).jumpImm('ne', 0, 0, 'next');
}

/** IPv4 without options, not a fragment. */
export function checkIpv4(a: BpfAssembler, ip: number): void {
  a.load(1, 0, FP, at(ip)).jumpImm('ne', 0, 0x45, 'next');
  // More-fragments and offset, read in network order from a little-endian load.
  a.load(2, 0, FP, at(ip + 6)).aluImm('and', 0, 0xff3f).jumpImm('ne', 0, 0, 'next');
}

export function checkProtocolIsTcp(a: BpfAssembler, ip: number): void {
  a.load(1, 0, FP, at(ip + 9)).jumpImm('ne', 0, 6, 'next');
}

/** SYN, FIN and RST are the agent's: they open, close and end connections. */
export function checkPlainSegment(a: BpfAssembler, tcp: number): void {
  a.load(1, 0, FP, at(tcp + 13)).aluImm('and', 0, 0x07).jumpImm('ne', 0, 0, 'next');
}

/**
 * The frame must be addressed to this host (a capture in promiscuous mode brings the classifier every
 * frame on the wire, which the stack, and so the agent, never takes), its Ethernet type IPv4, and its
 * IPv4 and TCP headers readable.
 */
export function prologue(a: BpfAssembler): void {
  a.movReg(SKB, 1);
  a.load(4, 0, SKB, SKB_PKT_TYPE).jumpImm('ne', 0, PACKET_HOST, 'next');
  copyHeaders(a, 0, ETH_HEADER + IP_HEADER + TCP_HEADER);
  a.load(2, 0, FP, at(12)).jumpImm('ne', 0, 0x0008, 'next');
  checkIpv4(a, ETH_HEADER);
}

/** An IPv4 address as the immediate whose little-endian store writes it in network order. */
export function addressImmediate(address: number): number {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(address >>> 0);
  return b.readInt32LE(0);
}

export interface EncapsulationOptions {
  /** bpf_skb_adjust_room's flags (ADJ_ROOM_ENCAP_L3_IPV4 unless said). */
  roomFlags?: number;
  /** Appended to the internal labels, for a program that encapsulates more than once. */
  labels?: string;
}

/** r0 = the ones' complement sum (32 bits, unfolded) of `length` bytes (a multiple of 4) at stack offset `from`, plus r5's. */
export function sumStack(a: BpfAssembler, from: number, length: number, seeded = false): void {
  a.mov(1, 0).mov(2, 0).movReg(3, FP).aluImm('add', 3, from).mov(4, length);
  if (!seeded) a.mov(5, 0);
  a.call(HELPER.csumDiff);
}

/** r0, a sum from sumStack, folded and inverted: the checksum that a two-byte store from r0 writes in network order. */
export function foldChecksum(a: BpfAssembler): void {
  a.movReg(1, 0).aluImm('rsh', 1, 16).aluImm('and', 0, 0xffff).aluReg('add', 0, 1);
  a.movReg(1, 0).aluImm('rsh', 1, 16).aluReg('add', 0, 1).aluImm('xor', 0, 0xffff).aluImm('and', 0, 0xffff);
}

/**
 * The next hop out of `ifindex` as the stack would route it: `fill` writes the addresses into the zeroed
 * struct bpf_fib_lookup at stack offset `fibAt`; an unresolved route or neighbour goes to `unresolved`.
 * After it the struct holds both link-layer addresses and the interface.
 */
export function lookUpNextHop(a: BpfAssembler, fibAt: number, ifindex: number, fill: () => void, unresolved: string): void {
  for (let off = 0; off < FIB.size; off += 8) a.storeImm(8, FP, fibAt + off, 0);
  a.storeImm(1, FP, fibAt + FIB.family, AF_INET);
  a.storeImm(4, FP, fibAt + FIB.ifindex, ifindex);
  fill();
  a.movReg(1, SKB).movReg(2, FP).aluImm('add', 2, fibAt).mov(3, FIB.size).mov(4, BPF_FIB_LOOKUP_OUTPUT).call(HELPER.fibLookup).jumpImm('ne', 0, 0, unresolved);
}

/**
 * Puts an outer IPv4 header from `src` to `dst` (registers holding addresses in network order, r8-r9) in
 * front of the frame's IPv4 packet, as the agents' encapsulate does (protocol.md): TOS and DF copied, TTL
 * 64, an id only where DF is clear (RFC 6864). A packet that would not fit `mtu` is left to `tooBig`.
 */
export function encapsulate(a: BpfAssembler, src: Register, dst: Register, mtu: number, tooBig: string, options: EncapsulationOptions = {}): void {
  const { roomFlags = ADJ_ROOM_ENCAP_L3_IPV4, labels = '' } = options;
  const ip = ETH_HEADER;
  const outer = OUTER_HEADER_AT;
  a.load(2, 0, FP, at(ip + 2)).networkToHost(0, 16).jumpImm('gt', 0, 0xffff - IP_HEADER, tooBig);
  a.load(4, 0, SKB, SKB_GSO_SIZE).jumpImm('ne', 0, 0, `encap-fits${labels}`);
  a.load(4, 0, SKB, SKB_LEN).jumpImm('gt', 0, ETH_HEADER + mtu - IP_HEADER, tooBig);
  a.label(`encap-fits${labels}`);
  a.load(1, 0, FP, at(ip + 1)).aluImm('lsh', 0, 8).aluImm('or', 0, 0x45).store(2, FP, outer, 0);
  a.load(2, 0, FP, at(ip + 2)).networkToHost(0, 16).aluImm('add', 0, IP_HEADER).networkToHost(0, 16).store(2, FP, outer + 2, 0);
  a.storeImm(2, FP, outer + 4, 0);
  a.load(2, 0, FP, at(ip + 6)).store(2, FP, outer + 6, 0).jumpImm('ne', 0, 0, `encap-id-done${labels}`);
  a.call(HELPER.getPrandomU32).store(2, FP, outer + 4, 0);
  a.label(`encap-id-done${labels}`);
  // TTL 64, protocol 4, checksum 0 until summed.
  a.storeImm(2, FP, outer + 8, 0x0440);
  a.storeImm(2, FP, outer + 10, 0);
  a.store(4, FP, outer + 12, src);
  a.store(4, FP, outer + 16, dst);
  sumStack(a, outer, IP_HEADER);
  foldChecksum(a);
  a.store(2, FP, outer + 10, 0);
  a.movReg(1, SKB).mov(2, IP_HEADER).mov(3, ADJ_ROOM_MAC).mov(4, roomFlags).call(HELPER.adjustRoom).jumpImm('ne', 0, 0, tooBig);
  a.movReg(1, SKB).mov(2, ETH_HEADER).movReg(3, FP).aluImm('add', 3, outer).mov(4, IP_HEADER).mov(5, 0).call(HELPER.storeBytes).jumpImm('ne', 0, 0, 'drop');
}

/**
 * Replaces the IPv4 address at `field` (12 source, 16 destination) held in `from` with `to` (r8-r9),
 * checksums included (RFC 1624, as the agents' rewrite). If the first step fails nothing has changed and
 * the packet goes on as `unchanged`; after that a failure drops it.
 */
export function rewriteAddress(a: BpfAssembler, field: 12 | 16, from: Register, to: Register, unchanged: string): void {
  const ip = ETH_HEADER;
  const tcp = ip + IP_HEADER;
  a.movReg(1, SKB).mov(2, tcp + 16).movReg(3, from).movReg(4, to).mov(5, BPF_F_PSEUDO_HDR | 4).call(HELPER.l4CsumReplace).jumpImm('ne', 0, 0, unchanged);
  a.movReg(1, SKB).mov(2, ip + 10).movReg(3, from).movReg(4, to).mov(5, 4).call(HELPER.l3CsumReplace).jumpImm('ne', 0, 0, 'drop');
  a.store(4, FP, REWRITE_SCRATCH_AT, to);
  a.movReg(1, SKB).mov(2, ip + field).movReg(3, FP).aluImm('add', 3, REWRITE_SCRATCH_AT).mov(4, 4).mov(5, 0).call(HELPER.storeBytes).jumpImm('ne', 0, 0, 'drop');
}

/** Removes the outer IPv4 header; on failure the packet is unchanged and goes on as `failed`. */
export function decapsulate(a: BpfAssembler, failed: string): void {
  a.movReg(1, SKB).mov(2, -IP_HEADER).mov(3, ADJ_ROOM_MAC).mov(4, 0).call(HELPER.adjustRoom).jumpImm('ne', 0, 0, failed);
}

/**
 * r0 = a pointer to u64 slot `index` of an array map (see SlotArray), its key written at stack offset
 * `keyAt`; `missing` when the map has none, which for an array in range is never.
 */
export function slotPointer(a: BpfAssembler, mapFd: number, index: number, keyAt: number, missing: string): void {
  a.storeImm(4, FP, keyAt, index);
  a.loadMap(1, mapFd).movReg(2, FP).aluImm('add', 2, keyAt).call(HELPER.mapLookup).jumpImm('eq', 0, 0, missing);
}

/**
 * A segment to one of `webPorts`, while the agent's switch in u64 slot `index` is on; else 'next'. `label`
 * names the place after the port check, unique in the program.
 */
export function requireWebPortWhileSwitchedOn(a: BpfAssembler, webPorts: number[], mapFd: number, index: number, keyAt: number, label: string): void {
  a.load(2, 0, FP, at(TCP_AT + 2)).networkToHost(0, 16);
  for (const port of webPorts) a.jumpImm('eq', 0, port, label);
  a.goto('next');
  a.label(label);
  slotPointer(a, mapFd, index, keyAt, 'next');
  a.load(8, 0, 0, 0).jumpImm('eq', 0, 0, 'next');
}

/** Adds one to u64 slot `index`, atomically: the classifier runs on every core at once. */
export function countInSlot(a: BpfAssembler, mapFd: number, index: number, keyAt: number, missing: string): void {
  slotPointer(a, mapFd, index, keyAt, missing);
  a.mov(1, 1).atomicAdd(8, 0, 0, 1);
}

const TCP_AT = ETH_HEADER + IP_HEADER;
const OPTION_KIND_EOL = 0;
const OPTION_KIND_NOP = 1;
const OPTION_KIND_EXPERIMENT = 253;
/** The synrace tag's experiment id ("SR") as a little-endian load of its two network-order bytes. */
const TAG_ID_LOADED = 0x5253;
/** 40 bytes of options hold at most 40 options (NOPs). */
const MAX_OPTION_STEPS = 40;

/** Where a walk of the TCP options (walkOptions) goes on. */
export interface OptionWalk {
  /** Two bytes of stack for the loads. */
  scratchAt: number;
  /** The list ended (EOL, or the header's end), r7 at its end: where the agent's cursor's listEnd is. */
  end: string;
  /** The first option with the synrace id (any 253 of length 4 or more, as the agent's cursor sees a tag), r7 at it and r9 its length. */
  tag: string;
  /** A length byte missing, below 2, or running past the header. */
  malformed: string;
  /** Emitted for each option that is not a 253: r7 at it, r9 its kind, r0 its length; must keep r0, r7 and r8. */
  other?: (step: number) => void;
}

/** One or two bytes of the packet at offset r7 + `plus` into r0 (r7 stays); a packet too short goes to 'next'. */
export function loadAtCursor(a: BpfAssembler, scratchAt: number, plus: number, size: 1 | 2): void {
  a.movReg(1, SKB).movReg(2, 7).aluImm('add', 2, plus).movReg(3, FP).aluImm('add', 3, scratchAt).mov(4, size).call(HELPER.loadBytes).jumpImm('ne', 0, 0, 'next');
  a.load(size, 0, FP, scratchAt);
}

/**
 * Walks the options of the frame's TCP header as the agent's cursor does (packet/tcp-options.ts), NOPs
 * skipped, to the end of the list or the first synrace tag. r7 is the cursor and r8 the header's end
 * (absolute offsets).
 */
export function walkOptions(a: BpfAssembler, walk: OptionWalk): void {
  a.load(1, 8, FP, at(TCP_AT + 12)).aluImm('rsh', 8, 4).aluImm('lsh', 8, 2).aluImm('add', 8, TCP_AT);
  a.mov(7, TCP_AT + 20);
  for (let step = 0; step < MAX_OPTION_STEPS; step++) {
    a.label(`option-${step}`);
    const following = `option-${step + 1}`;
    const skip = `option-${step}-skip`;
    const other = walk.other ? `option-${step}-other` : skip;
    a.jumpReg('ge', 7, 8, walk.end);
    loadAtCursor(a, walk.scratchAt, 0, 1);
    a.jumpImm('eq', 0, OPTION_KIND_EOL, walk.end);
    a.jumpImm('ne', 0, OPTION_KIND_NOP, `option-${step}-long`);
    a.aluImm('add', 7, 1).goto(following);
    a.label(`option-${step}-long`);
    a.movReg(9, 0);
    a.movReg(1, 7).aluImm('add', 1, 1).jumpReg('ge', 1, 8, walk.malformed);
    loadAtCursor(a, walk.scratchAt, 1, 1);
    a.jumpImm('lt', 0, 2, walk.malformed);
    a.movReg(1, 7).aluReg('add', 1, 0).jumpReg('gt', 1, 8, walk.malformed);
    a.jumpImm('ne', 9, OPTION_KIND_EXPERIMENT, other);
    a.jumpImm('lt', 0, 4, skip);
    a.movReg(9, 0);
    loadAtCursor(a, walk.scratchAt, 2, 2);
    a.jumpImm('eq', 0, TAG_ID_LOADED, walk.tag);
    a.movReg(0, 9);
    a.label(skip);
    a.aluReg('add', 7, 0).goto(following);
    if (walk.other) {
      a.label(other);
      walk.other(step);
      a.goto(skip);
    }
  }
  // Each step moves the cursor on by a byte at least: after the last the list has ended.
  a.label(`option-${MAX_OPTION_STEPS}`).goto(walk.end);
}

/** 'next', and 'drop' where something jumps there; 'carried' is each program's own. */
export function commonEndings(a: BpfAssembler): void {
  a.label('next').mov(0, TCX_NEXT).exit();
  // After a header was half rewritten, or a packet that must not leave as it is.
  if (a.isJumpedTo('drop')) a.label('drop').mov(0, TC_ACT_SHOT).exit();
}
