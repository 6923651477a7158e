// The gateway's kernel path: two tcx classifiers that carry a connection's established segments once its
// race is decided and its flow is in the map. One sits at the LAN's ingress (client to
// server), one at the WAN's (towards the client). They do for a carried connection exactly what the
// agent's verdicts do (protocol.md P600), with the agent's checks:
// - only a segment without SYN, FIN or RST: those, and anything the program does not recognise, go on
//   to the agent as before (TCX_NEXT, unmarked);
// - towards the client, only from the winner (or, in B, the server address the winner spoofs), and in C
//   only inside the tunnel from the winner with the server's inner source;
// - the server's next sequence number moves only with the client's acknowledgements and with server
//   segments that end inside the window the client advertised, so the agent still believes a RST at
//   exactly that number and no other (RFC 5961).
// A carried segment gets the gateway's mark bit, so the steering chain lets it through to the kernel's
// routing without queueing it.
// While a connection is carried, and after its FIN until its table entry ends (FLOW_CLOSING), a losing
// answer (a SYN+ACK acknowledging the start packet, from the server or one of its candidates, not the
// winner) gets from the WAN classifier the RST the agent would send it (protocol.md P500), routed out of
// the WAN without waking the agent. Only plain answers: a tunnelled one (B's and C's replicas) is still the
// agent's.
// A client's start packet is tagged at the LAN's ingress (protocol.md P200) when the agent lets the
// classifier tag (its winner cache off, the path on) and the classifier can do exactly what the agent's
// startPacket would: a SYN to a web port, not to the gateway itself, whose options are well formed, carry
// no tag, leave room for one, and hold at most one MSS. The tagged packet goes on to the stack's forwarding
// with the steering mark; a clone of it, marked as tagged here, goes back into the LAN's ingress and so to
// the agent's queue, which opens the race's table entry from it and drops it. The clone waits in this CPU's
// backlog only until the packet's own forwarding is done, so it is in the agent's queue long before an
// answer can be, and the agent reads its queues in order: the entry exists when the first answer is judged.
// In configuration A, where every answer is plain, the agent then writes the race into the map as pending
// (FLOW_PENDING), and the WAN classifier judges its answers as the agent's acknowledgement() would: the
// first plain answer from the server or a candidate that acknowledges the start packet wins, goes on to the
// client as the server's, and is carried from then on; a clone of it tells the agent, whose table, counters
// and dump then say what they always said. Any answer the classifier does not judge still reaches the
// agent, which takes the race back first (gateway-kernel-path.ts, takeRace).
import { MSS_OPTION_LENGTH, TAG_BLOCK_LENGTH, TCP_MAX_HEADER_LENGTH, TcpOptionKind } from '../packet';
import { BpfAssembler, FP, type Register } from './bpf-assembler';
import {
  addressImmediate, ADJ_ROOM_NET, at, BPF_F_PSEUDO_HDR, checkIpv4, checkPlainSegment, checkProtocolIsTcp, commonEndings, copyHeaders, countInSlot, decapsulate, encapsulate,
  ETH_HEADER, FIB, foldChecksum, HELPER, IP_HEADER, lookUpNextHop, prologue, requireWebPortWhileSwitchedOn, rewriteAddress, SCRATCH_FREE_BELOW, SKB, SKB_LEN, SKB_MARK,
  STACK_FREE_BELOW, sumStack, TCP_HEADER, TCX_PASS, walkOptions,
} from './classifier-pieces';

/** Key: the client socket and the server port, in network order, as the agent's table chains them. */
export const FLOW_KEY_SIZE = 8;

/** Byte offsets in a flow's value. Addresses are in network order, the rest host order. */
export const FLOW_VALUE = {
  serverIp: 0,
  winner: 4,
  mode: 8,
  windowShift: 12,
  serverNextSeq: 16,
  clientWindow: 20,
  lastSeenNs: 24,
  toServerPackets: 32,
  toClientPackets: 40,
  /** The acknowledgement number every answer to the start packet carries: the client's ISN + 1. */
  startAck: 48,
  size: 56,
} as const;

/** Key of the winner cache's mirror: the server's address and port in network order, two bytes of zero. */
export const CACHED_KEY_SIZE = 8;
/** The remembered winner (network order) and when its TTL runs out, on the kernel's monotonic clock (ns). */
export const CACHED_VALUE = { winner: 0, expiresNs: 8, size: 16 } as const;

/**
 * Slots of the gateway's state map (an array of u64): what the LAN classifier may do with start packets
 * (the agent's switch, START_MODES), and what the classifiers did without the agent.
 */
export const GATEWAY_SLOTS = { lateResets: 0, starts: 1, startsTagged: 2, startCopyFailures: 3, racesWon: 4, winCopyFailures: 5, startsCached: 6 } as const;
export const GATEWAY_SLOT_COUNT = 7;

/**
 * agent: every start packet is the agent's. tag: the classifier tags them (the winner cache off). cached:
 * one whose server and port the cache's mirror holds, within its TTL, goes straight to the remembered winner
 * (configuration A, the cache on); any other is tagged.
 */
export const START_MODES = { agent: 0, tag: 1, cached: 2 } as const;
export type StartMode = keyof typeof START_MODES;

/**
 * pass: the origin won; segments cross untouched. translate: A (and B towards the server): the server
 * address becomes the winner's and back. translate-spoofed: B, where the winner may also answer with the
 * server's address. tunnel: C, IPv4-in-IPv4 to and from the winner.
 */
export const FLOW_MODES = { pass: 0, translate: 1, tunnel: 2, 'translate-spoofed': 3 } as const;
export type FlowMode = keyof typeof FLOW_MODES;
/**
 * Not carried: the agent has the connection back for its close (a FIN), and the flow stays in the map
 * only so that its race's late answers still get their RST here, until the table entry ends.
 */
export const FLOW_CLOSING = 4;
/**
 * Not carried: the race of a start packet the agent has an entry for, which the WAN classifier's first
 * plain answer takes. Above FLOW_CLOSING, as every mode of a flow that is not carried.
 */
export const FLOW_PENDING = 5;

export interface PlainAnswerers {
  server: number;
  /** Whose plain answers for `server` the classifier judges: the server, and in A and B its replicas. */
  answerers: number[];
}

export interface GatewayProgramOptions {
  flowMapFd: number;
  /** The winner cache's mirror (CACHED_KEY_SIZE, CACHED_VALUE), written by the agent. */
  cachedMapFd: number;
  stateMapFd: number;
  wanIndex: number;
  plainAnswerers: PlainAnswerers[];
  /** The gateway's steering mark bit: its chain lets a marked packet through. */
  markBit: number;
  /** C: the WAN's MTU; a segment that would not fit once tunnelled is left to the agent. */
  wanMtu: number;
  lanIndex: number;
  webPorts: number[];
  /** The gateway's own addresses: a start packet to one of them is not tagged (the agent passes it untouched). */
  localAddresses: number[];
  /** The MSS a tagged start packet offers at most (the agent's clampMss). */
  maxMss: number;
  /** Marks the clones for the agent's queue of them: start packets the LAN classifier tagged, answers that won at the WAN's. */
  cloneMarkBit: number;
}

const KEY_AT = STACK_FREE_BELOW - 8;
/** The RST being built (IPv4 and TCP headers), its pseudo header, its frame's link-layer addresses and its route. */
const RST_AT = SCRATCH_FREE_BELOW - 40;
const PSEUDO_AT = RST_AT - 16;
const LINK_AT = PSEUDO_AT - 16;
const FIB_AT = LINK_AT - FIB.size;
const SLOT_KEY_AT = FIB_AT - 8;
/** A start packet's TCP header before and after tagging (zero beyond its length), and the tag block. */
const OLD_HEADER_AT = SLOT_KEY_AT - 64;
const NEW_HEADER_AT = OLD_HEADER_AT - 64;
const TAG_BLOCK_AT = NEW_HEADER_AT - 8;
/** The EOL bytes still to write, and two bytes for loads and stores. */
const PAD_AT = TAG_BLOCK_AT - 8;
const BYTES_AT = PAD_AT - 8;
/** A pending flow's mode and window shift, to put back when the race's winner could not be copied to the agent. */
const PENDING_WAS_AT = BYTES_AT - 8;
/** The winner cache mirror's key, and the expiry of the entry found. */
const CACHED_KEY_AT = PENDING_WAS_AT - 8;
const EXPIRES_AT = CACHED_KEY_AT - 8;
/** NOP, NOP, NOP, then kind 253, length 5, "SR", permissible (packet/tag.ts's block), as two little-endian words. */
const TAG_BLOCK_WORDS = [0xfd010101 | 0, 0x01525305];
const BPF_F_INGRESS = 1;
/**
 * The option list's end and the MSS option's offset (0: none yet) pass through the skb's control block
 * (struct __sk_buff's cb[0] and cb[1]), which the verifier reads back as any value. Kept in registers or on
 * the stack, the constants of each path through the option walk stayed precise, no two paths' states were
 * alike, and verifying the program took 5 s (the switch's, with the same walk, 0.1 s).
 */
const CB_LIST_END = 48;
const CB_MSS_OPTION = 52;
/** The start mode the state map said (START_MODES), read once per start packet. */
const CB_START_MODE = 56;
const RST_LENGTH = IP_HEADER + TCP_HEADER;
const TCP_SYN = 0x02;
const TCP_SYN_ACK = 0x12;
const TCP_CONTROL = 0x17;

// Register roles: r7 the flow's value, r8/r9 the addresses a rewrite swaps or a tunnel's ends.
const FLOW: Register = 7;
const FROM: Register = 8;
const TO: Register = 9;

function lookupFlow(a: BpfAssembler, mapFd: number, clientIp: number, clientPort: number, serverPort: number): void {
  a.load(4, 0, FP, at(clientIp)).store(4, FP, KEY_AT, 0);
  a.load(2, 0, FP, at(clientPort)).store(2, FP, KEY_AT + 4, 0);
  a.load(2, 0, FP, at(serverPort)).store(2, FP, KEY_AT + 6, 0);
  a.loadMap(1, mapFd).movReg(2, FP).aluImm('add', 2, KEY_AT).call(HELPER.mapLookup).jumpImm('eq', 0, 0, 'next');
  a.movReg(FLOW, 0);
}

function touch(a: BpfAssembler, packetsField: number): void {
  a.call(HELPER.ktimeGetNs).store(8, FLOW, FLOW_VALUE.lastSeenNs, 0);
  a.load(8, 1, FLOW, packetsField).aluImm('add', 1, 1).store(8, FLOW, packetsField, 1);
}

/** The client's acknowledgement is its RCV.NXT (only ever forward); its window the room it gives the server. */
function trackClientAcknowledgement(a: BpfAssembler, tcp: number): void {
  a.load(1, 0, FP, at(tcp + 13)).aluImm('and', 0, 0x10).jumpImm('eq', 0, 0, 'ack-done');
  a.load(4, 0, FP, at(tcp + 8)).networkToHost(0, 32);
  a.load(4, 1, FLOW, FLOW_VALUE.serverNextSeq).movReg(2, 0).alu32Reg('sub', 2, 1).jump32Imm('sle', 2, 0, 'ack-window');
  a.store(4, FLOW, FLOW_VALUE.serverNextSeq, 0);
  a.label('ack-window');
  a.load(2, 0, FP, at(tcp + 14)).networkToHost(0, 16).load(4, 1, FLOW, FLOW_VALUE.windowShift).aluReg('lsh', 0, 1);
  a.store(4, FLOW, FLOW_VALUE.clientWindow, 0);
  a.label('ack-done');
}

/** A server segment moves the server's next sequence number only when it ends inside the client's window. */
function trackServerSequence(a: BpfAssembler, ip: number, tcp: number, done: string): void {
  a.load(2, 0, FP, at(ip + 2)).networkToHost(0, 16).aluImm('sub', 0, IP_HEADER);
  a.load(1, 1, FP, at(tcp + 12)).aluImm('rsh', 1, 4).aluImm('lsh', 1, 2).aluReg('sub', 0, 1);
  a.load(4, 1, FP, at(tcp + 4)).networkToHost(1, 32).aluReg('add', 0, 1);
  a.load(4, 1, FLOW, FLOW_VALUE.serverNextSeq).movReg(2, 0).alu32Reg('sub', 2, 1).jump32Imm('sle', 2, 0, done);
  a.load(4, 3, FLOW, FLOW_VALUE.clientWindow).aluImm('add', 3, 1).jumpReg('gt', 2, 3, done);
  a.store(4, FLOW, FLOW_VALUE.serverNextSeq, 0);
  a.label(done);
}

/**
 * 'answer': a plain SYN+ACK that acknowledges the start packet of a flow in the map, from one of its
 * server's plain answerers. While the flow's race is pending (configuration A, the agent's start packet
 * entry written before any answer can come), the first such answer takes the race with one compare and
 * exchange ('race'). Once it is decided, one from the winner is the agent's (a repeat), and one from anyone
 * else gets the agent's RST (packet/rst.ts: client to answerer, its acknowledgement as the sequence number),
 * built over the answer and sent back out of the WAN. All else (an unrelated acknowledgement, a stranger,
 * no route) is the agent's, as before.
 */
function judgeAnswer(a: BpfAssembler, options: GatewayProgramOptions): void {
  const ip = ETH_HEADER;
  const tcp = ETH_HEADER + IP_HEADER;
  a.label('answer');
  // The clone of a winning answer this program sent the agent, back at the ingress.
  a.load(4, 0, SKB, SKB_MARK).aluImm('and', 0, options.cloneMarkBit).jumpImm('ne', 0, 0, 'next');
  lookupFlow(a, options.flowMapFd, ip + 16, tcp + 2, tcp);
  a.load(4, 0, FP, at(tcp + 8)).networkToHost(0, 32).load(4, 1, FLOW, FLOW_VALUE.startAck).jumpReg('ne', 0, 1, 'next');
  a.load(4, FROM, FP, at(ip + 12)).load(4, TO, FLOW, FLOW_VALUE.serverIp);
  options.plainAnswerers.forEach((r, i) => {
    a.jump32Imm('ne', TO, addressImmediate(r.server), `not-server-${i}`);
    for (const answerer of r.answerers) a.jump32Imm('eq', FROM, addressImmediate(answerer), 'candidate');
    a.goto('next');
    a.label(`not-server-${i}`);
  });
  a.goto('next');
  a.label('candidate');
  a.load(8, 0, FLOW, FLOW_VALUE.mode).jump32Imm('eq', 0, FLOW_PENDING, 'race');
  a.label('decided');
  a.load(4, 0, FLOW, FLOW_VALUE.winner).jumpReg('eq', FROM, 0, 'next');
  a.label('loser');
  lookUpNextHop(a, FIB_AT, options.wanIndex, () => {
    a.load(4, 0, FP, at(ip + 16)).store(4, FP, FIB_AT + FIB.src, 0);
    a.store(4, FP, FIB_AT + FIB.dst, FROM);
  }, 'next');
  // IPv4: version and length, TOS 0; total length; id 0 with DF (RFC 6864); TTL 64, TCP, checksum 0 until summed.
  a.storeImm(2, FP, RST_AT, 0x0045).storeImm(2, FP, RST_AT + 2, 0x2800).storeImm(4, FP, RST_AT + 4, 0x00400000).storeImm(4, FP, RST_AT + 8, 0x00000640);
  a.load(4, 0, FP, at(ip + 16)).store(4, FP, RST_AT + 12, 0).store(4, FP, PSEUDO_AT, 0);
  a.store(4, FP, RST_AT + 16, FROM).store(4, FP, PSEUDO_AT + 4, FROM);
  // TCP: the answer's ports swapped, its acknowledgement as the sequence number, RST alone, window 0.
  a.load(2, 0, FP, at(tcp + 2)).store(2, FP, RST_AT + 20, 0);
  a.load(2, 0, FP, at(tcp)).store(2, FP, RST_AT + 22, 0);
  a.load(4, 0, FP, at(tcp + 8)).store(4, FP, RST_AT + 24, 0);
  a.storeImm(4, FP, RST_AT + 28, 0).storeImm(4, FP, RST_AT + 32, 0x00000450).storeImm(4, FP, RST_AT + 36, 0);
  // The pseudo header's zero, protocol and TCP length (20).
  a.storeImm(4, FP, PSEUDO_AT + 8, 0x14000600);
  sumStack(a, RST_AT, IP_HEADER);
  foldChecksum(a);
  a.store(2, FP, RST_AT + 10, 0);
  sumStack(a, PSEUDO_AT, 12);
  a.movReg(5, 0);
  sumStack(a, RST_AT + IP_HEADER, TCP_HEADER, true);
  foldChecksum(a);
  a.store(2, FP, RST_AT + IP_HEADER + 16, 0);
  for (let k = 0; k < 6; k += 2) {
    a.load(2, 0, FP, FIB_AT + FIB.dmac + k).store(2, FP, LINK_AT + k, 0);
    a.load(2, 0, FP, FIB_AT + FIB.smac + k).store(2, FP, LINK_AT + 6 + k, 0);
  }
  // Nothing has changed yet: a frame the kernel will not shorten stays the agent's.
  a.movReg(1, SKB).mov(2, ETH_HEADER + RST_LENGTH).mov(3, 0).call(HELPER.changeTail).jumpImm('ne', 0, 0, 'next');
  a.movReg(1, SKB).mov(2, 0).movReg(3, FP).aluImm('add', 3, LINK_AT).mov(4, 12).mov(5, 0).call(HELPER.storeBytes).jumpImm('ne', 0, 0, 'drop');
  a.movReg(1, SKB).mov(2, ETH_HEADER).movReg(3, FP).aluImm('add', 3, RST_AT).mov(4, RST_LENGTH).mov(5, 0).call(HELPER.storeBytes).jumpImm('ne', 0, 0, 'drop');
  countInSlot(a, options.stateMapFd, GATEWAY_SLOTS.lateResets, SLOT_KEY_AT, 'drop');
  // bpf_redirect's answer is TC_ACT_REDIRECT: out of the interface the route names.
  a.load(4, 1, FP, FIB_AT + FIB.ifindex).mov(2, 0).call(HELPER.redirect).exit();
  takeRace(a, options);
}

/**
 * 'race': r0 holds the pending flow's mode and, above it, the window shift the agent wrote, which nothing
 * changes while the race is pending; the compare and exchange of both makes this answer the winner only if
 * no other CPU's answer was first. The winner's sequence number goes in the map; a clone of the answer goes
 * to the agent (its table, counters and dump learn the race from it); the answer itself, translated to come
 * from the server as the agent's deliver() would, goes on to the client. Without the agent's clone the
 * race is pending again and the answer dropped: its answerer will repeat it, or another will win.
 */
function takeRace(a: BpfAssembler, options: GatewayProgramOptions): void {
  const tcp = ETH_HEADER + IP_HEADER;
  a.label('race');
  a.movReg(2, 0).store(8, FP, PENDING_WAS_AT, 2);
  a.movReg(1, 0).aluImm('rsh', 1, 32).aluImm('lsh', 1, 32);
  a.jumpReg('eq', FROM, TO, 'race-claim').aluImm('or', 1, FLOW_MODES.translate);
  a.label('race-claim');
  a.compareExchange(FLOW, FLOW_VALUE.mode, 1).jumpReg('ne', 0, 2, 'decided');
  a.store(4, FLOW, FLOW_VALUE.winner, FROM);
  a.load(4, 0, FP, at(tcp + 4)).networkToHost(0, 32).aluImm('add', 0, 1).store(4, FLOW, FLOW_VALUE.serverNextSeq, 0);
  a.call(HELPER.ktimeGetNs).store(8, FLOW, FLOW_VALUE.lastSeenNs, 0);
  a.load(4, 1, SKB, SKB_MARK).aluImm('or', 1, options.cloneMarkBit).store(4, SKB, SKB_MARK, 1);
  a.movReg(1, SKB).mov(2, options.wanIndex).mov(3, BPF_F_INGRESS).call(HELPER.cloneRedirect).jumpImm('ne', 0, 0, 'race-not-copied');
  countInSlot(a, options.stateMapFd, GATEWAY_SLOTS.racesWon, SLOT_KEY_AT, 'drop');
  a.load(4, 1, SKB, SKB_MARK).aluImm('and', 1, ~options.cloneMarkBit).store(4, SKB, SKB_MARK, 1);
  // The origin's answer crosses untouched; a replica's is the server's, as every segment after it.
  a.jumpReg('eq', FROM, TO, 'carried');
  rewriteAddress(a, 12, FROM, TO, 'next');
  a.goto('carried');
  a.label('race-not-copied');
  a.load(8, 1, FP, PENDING_WAS_AT).store(8, FLOW, FLOW_VALUE.mode, 1);
  countInSlot(a, options.stateMapFd, GATEWAY_SLOTS.winCopyFailures, SLOT_KEY_AT, 'drop');
  a.goto('drop');
}

/** `register` (a length in host order) as the two-byte network-order value the checksum helpers take. */
const asNetwork16 = (a: BpfAssembler, register: Register): void => {
  a.networkToHost(register, 16);
};

/**
 * 'start': a SYN alone. Tagged here as the agent's startPacket would (packet/tag.ts, packet/mss.ts), or left
 * to the agent ('next') untouched. r7 ends at the option list's end, r8 holds the old header length and r9
 * the new one.
 */
function tagStartPacket(a: BpfAssembler, options: GatewayProgramOptions): void {
  const ip = ETH_HEADER;
  const tcp = ETH_HEADER + IP_HEADER;
  a.label('start');
  // The clone this program sent the agent, back at the ingress.
  a.load(4, 0, SKB, SKB_MARK).aluImm('and', 0, options.cloneMarkBit).jumpImm('ne', 0, 0, 'next');
  requireWebPortWhileSwitchedOn(a, options.webPorts, options.stateMapFd, GATEWAY_SLOTS.starts, SLOT_KEY_AT, 'start-web');
  a.store(4, SKB, CB_START_MODE, 0);
  a.load(4, 0, FP, at(ip + 16));
  for (const local of options.localAddresses) a.jump32Imm('eq', 0, addressImmediate(local), 'next');
  // A header the stack would drop on receipt (a bad checksum, a length beyond the frame) is the stack's:
  // tagged, it would be counted twice, the packet and its clone.
  sumStack(a, at(ip), IP_HEADER);
  foldChecksum(a);
  a.jumpImm('ne', 0, 0, 'next');
  a.load(2, 0, FP, at(ip + 2)).networkToHost(0, 16).aluImm('add', 0, ETH_HEADER).load(4, 1, SKB, SKB_LEN).jumpReg('gt', 0, 1, 'next');
  a.mov(1, 0).store(4, SKB, CB_MSS_OPTION, 1);
  walkOptions(a, {
    scratchAt: BYTES_AT, end: 'start-listed', tag: 'next', malformed: 'next',
    other: (step) => {
      const done = `start-mss-${step}`;
      a.jumpImm('ne', 9, TcpOptionKind.MSS, done).jumpImm('ne', 0, MSS_OPTION_LENGTH, done);
      // A second MSS option is the agent's.
      a.load(4, 1, SKB, CB_MSS_OPTION).jumpImm('ne', 1, 0, 'next');
      a.store(4, SKB, CB_MSS_OPTION, 7);
      a.label(done);
    },
  });
  a.label('start-listed');
  a.store(4, SKB, CB_LIST_END, 7);
  a.load(4, 0, SKB, CB_START_MODE).jumpImm('eq', 0, START_MODES.cached, 'cached-start');
  a.label('start-tag');
  a.load(4, 7, SKB, CB_LIST_END);
  // The tag block goes where the list ends, the header padded with EOL to a multiple of 4; a header that
  // would not hold it, or would shrink (padding beyond the block), is the agent's.
  a.movReg(9, 7).aluImm('add', 9, TAG_BLOCK_LENGTH + 3 - tcp).aluImm('rsh', 9, 2).aluImm('lsh', 9, 2);
  a.jumpImm('gt', 9, TCP_MAX_HEADER_LENGTH, 'next').jumpImm('lt', 9, TCP_HEADER, 'next');
  a.load(1, 8, FP, at(tcp + 12)).aluImm('rsh', 8, 4).aluImm('lsh', 8, 2);
  a.jumpImm('lt', 8, TCP_HEADER, 'next').jumpReg('gt', 8, 9, 'next');
  a.load(2, 0, FP, at(ip + 2)).networkToHost(0, 16).aluImm('sub', 0, IP_HEADER).jumpReg('lt', 0, 8, 'next');
  a.load(2, 0, FP, at(ip + 2)).networkToHost(0, 16).aluReg('add', 0, 9).aluReg('sub', 0, 8).jumpImm('gt', 0, 0xffff, 'next');
  a.movReg(1, 9).aluImm('add', 1, tcp - TAG_BLOCK_LENGTH).aluReg('sub', 1, 7).store(8, FP, PAD_AT, 1);
  for (let off = 0; off < 64; off += 8) {
    a.storeImm(8, FP, OLD_HEADER_AT + off, 0);
    a.storeImm(8, FP, NEW_HEADER_AT + off, 0);
  }
  a.storeImm(4, FP, TAG_BLOCK_AT, TAG_BLOCK_WORDS[0]).storeImm(4, FP, TAG_BLOCK_AT + 4, TAG_BLOCK_WORDS[1]);
  a.movReg(1, SKB).mov(2, tcp).movReg(3, FP).aluImm('add', 3, OLD_HEADER_AT).movReg(4, 8).call(HELPER.loadBytes).jumpImm('ne', 0, 0, 'next');
  // Room after the IPv4 header, then the old header back in front of it: nothing has changed until this.
  a.movReg(2, 9).aluReg('sub', 2, 8).jumpImm('eq', 2, 0, 'start-roomy');
  a.movReg(1, SKB).mov(3, ADJ_ROOM_NET).mov(4, 0).call(HELPER.adjustRoom).jumpImm('ne', 0, 0, 'next');
  a.label('start-roomy');
  a.movReg(1, SKB).mov(2, tcp).movReg(3, FP).aluImm('add', 3, OLD_HEADER_AT).movReg(4, 8).mov(5, 0).call(HELPER.storeBytes).jumpImm('ne', 0, 0, 'drop');
  a.movReg(1, SKB).movReg(2, 7).movReg(3, FP).aluImm('add', 3, TAG_BLOCK_AT).mov(4, TAG_BLOCK_LENGTH).mov(5, 0).call(HELPER.storeBytes).jumpImm('ne', 0, 0, 'drop');
  a.storeImm(1, FP, BYTES_AT, 0);
  for (let k = 0; k < 3; k++) {
    a.load(8, 0, FP, PAD_AT).jumpImm('le', 0, k, 'start-padded');
    a.movReg(1, SKB).movReg(2, 7).aluImm('add', 2, TAG_BLOCK_LENGTH + k).movReg(3, FP).aluImm('add', 3, BYTES_AT).mov(4, 1).mov(5, 0).call(HELPER.storeBytes).jumpImm('ne', 0, 0, 'drop');
  }
  a.label('start-padded');
  a.movReg(1, 9).aluImm('lsh', 1, 2).load(1, 0, FP, at(tcp + 12)).aluImm('and', 0, 0x0f).aluReg('or', 0, 1).store(1, FP, BYTES_AT, 0);
  a.movReg(1, SKB).mov(2, tcp + 12).movReg(3, FP).aluImm('add', 3, BYTES_AT).mov(4, 1).mov(5, 0).call(HELPER.storeBytes).jumpImm('ne', 0, 0, 'drop');
  // An MSS above the gateway's is lowered to it.
  a.load(4, 2, SKB, CB_MSS_OPTION).jumpImm('eq', 2, 0, 'start-clamped');
  a.movReg(1, SKB).aluImm('add', 2, 2).movReg(3, FP).aluImm('add', 3, BYTES_AT).mov(4, 2).call(HELPER.loadBytes).jumpImm('ne', 0, 0, 'drop');
  a.load(2, 0, FP, BYTES_AT).networkToHost(0, 16).jumpImm('le', 0, options.maxMss, 'start-clamped');
  a.mov(0, options.maxMss);
  asNetwork16(a, 0);
  a.store(2, FP, BYTES_AT, 0);
  a.load(4, 2, SKB, CB_MSS_OPTION).movReg(1, SKB).aluImm('add', 2, 2).movReg(3, FP).aluImm('add', 3, BYTES_AT).mov(4, 2).mov(5, 0).call(HELPER.storeBytes).jumpImm('ne', 0, 0, 'drop');
  a.label('start-clamped');
  // TCP's checksum: the header's sum before and after (the old checksum in both), and the new length.
  a.movReg(1, SKB).mov(2, tcp).movReg(3, FP).aluImm('add', 3, NEW_HEADER_AT).movReg(4, 9).call(HELPER.loadBytes).jumpImm('ne', 0, 0, 'drop');
  a.movReg(1, FP).aluImm('add', 1, OLD_HEADER_AT).mov(2, TCP_MAX_HEADER_LENGTH).movReg(3, FP).aluImm('add', 3, NEW_HEADER_AT).mov(4, TCP_MAX_HEADER_LENGTH).mov(5, 0).call(HELPER.csumDiff);
  a.movReg(4, 0).movReg(1, SKB).mov(2, tcp + 16).mov(3, 0).mov(5, 0).call(HELPER.l4CsumReplace).jumpImm('ne', 0, 0, 'drop');
  a.load(2, 3, FP, at(ip + 2)).networkToHost(3, 16).aluImm('sub', 3, IP_HEADER).movReg(4, 3).aluReg('add', 4, 9).aluReg('sub', 4, 8);
  asNetwork16(a, 3);
  asNetwork16(a, 4);
  a.movReg(1, SKB).mov(2, tcp + 16).mov(5, BPF_F_PSEUDO_HDR | 2).call(HELPER.l4CsumReplace).jumpImm('ne', 0, 0, 'drop');
  // IPv4's total length and checksum.
  a.load(2, 3, FP, at(ip + 2)).networkToHost(3, 16).movReg(4, 3).aluReg('add', 4, 9).aluReg('sub', 4, 8);
  asNetwork16(a, 3);
  asNetwork16(a, 4);
  a.store(2, FP, BYTES_AT, 4);
  a.movReg(1, SKB).mov(2, ip + 10).mov(5, 2).call(HELPER.l3CsumReplace).jumpImm('ne', 0, 0, 'drop');
  a.movReg(1, SKB).mov(2, ip + 2).movReg(3, FP).aluImm('add', 3, BYTES_AT).mov(4, 2).mov(5, 0).call(HELPER.storeBytes).jumpImm('ne', 0, 0, 'drop');
  // The agent's copy first, into the LAN's ingress again; without it the agent would not know the race, so no copy, no packet.
  a.load(4, 1, SKB, SKB_MARK).aluImm('or', 1, options.cloneMarkBit).store(4, SKB, SKB_MARK, 1);
  a.movReg(1, SKB).mov(2, options.lanIndex).mov(3, BPF_F_INGRESS).call(HELPER.cloneRedirect).jumpImm('ne', 0, 0, 'start-not-copied');
  countInSlot(a, options.stateMapFd, GATEWAY_SLOTS.startsTagged, SLOT_KEY_AT, 'drop');
  a.load(4, 1, SKB, SKB_MARK).aluImm('and', 1, ~options.cloneMarkBit).store(4, SKB, SKB_MARK, 1);
  a.goto('carried');
  a.label('start-not-copied');
  countInSlot(a, options.stateMapFd, GATEWAY_SLOTS.startCopyFailures, SLOT_KEY_AT, 'drop');
  a.goto('drop');
  sendCachedStart(a, options);
}

/**
 * 'cached-start': a start packet the option walk found well formed and untagged, in the cached mode. If the
 * cache's mirror holds its server and port within the TTL, it goes to the remembered winner untagged, as the
 * agent's cached-starts.ts sends it: its MSS clamped, addressed to the winner (the origin's unchanged). A
 * clone of it, as sent, goes to the agent, which keeps the start packet, times its deadline and writes its
 * race into the flow map as pending; so no copy, no packet. Not in the mirror (or expired): tagged
 * ('start-tag'). A connection the flow map knows already (a retransmission) is the agent's: it races it.
 */
function sendCachedStart(a: BpfAssembler, options: GatewayProgramOptions): void {
  const ip = ETH_HEADER;
  const tcp = ETH_HEADER + IP_HEADER;
  a.label('cached-start');
  a.load(4, 0, FP, at(ip + 16)).store(4, FP, CACHED_KEY_AT, 0);
  a.load(2, 0, FP, at(tcp + 2)).store(2, FP, CACHED_KEY_AT + 4, 0);
  a.storeImm(2, FP, CACHED_KEY_AT + 6, 0);
  a.loadMap(1, options.cachedMapFd).movReg(2, FP).aluImm('add', 2, CACHED_KEY_AT).call(HELPER.mapLookup).jumpImm('eq', 0, 0, 'start-tag');
  a.load(4, TO, 0, CACHED_VALUE.winner);
  a.load(8, 1, 0, CACHED_VALUE.expiresNs).store(8, FP, EXPIRES_AT, 1);
  a.call(HELPER.ktimeGetNs).load(8, 1, FP, EXPIRES_AT).jumpReg('ge', 0, 1, 'start-tag');
  a.load(4, 0, FP, at(ip + 12)).store(4, FP, KEY_AT, 0);
  a.load(2, 0, FP, at(tcp)).store(2, FP, KEY_AT + 4, 0);
  a.load(2, 0, FP, at(tcp + 2)).store(2, FP, KEY_AT + 6, 0);
  a.loadMap(1, options.flowMapFd).movReg(2, FP).aluImm('add', 2, KEY_AT).call(HELPER.mapLookup).jumpImm('ne', 0, 0, 'next');
  // Nothing has changed until the MSS: a helper that fails before it leaves the packet to the agent.
  a.load(4, 2, SKB, CB_MSS_OPTION).jumpImm('eq', 2, 0, 'cached-clamped');
  a.movReg(1, SKB).aluImm('add', 2, 2).movReg(3, FP).aluImm('add', 3, BYTES_AT).mov(4, 2).call(HELPER.loadBytes).jumpImm('ne', 0, 0, 'next');
  a.load(2, 3, FP, BYTES_AT).movReg(0, 3).networkToHost(0, 16).jumpImm('le', 0, options.maxMss, 'cached-clamped');
  a.mov(4, options.maxMss);
  asNetwork16(a, 4);
  a.store(2, FP, BYTES_AT, 4);
  // A value at an odd offset straddles two of the checksum's 16-bit words: its bytes count the other way round.
  a.load(4, 0, SKB, CB_MSS_OPTION).aluImm('and', 0, 1).jumpImm('eq', 0, 0, 'cached-mss-summed');
  a.networkToHost(3, 16).networkToHost(4, 16);
  a.label('cached-mss-summed');
  a.movReg(1, SKB).mov(2, tcp + 16).mov(5, 2).call(HELPER.l4CsumReplace).jumpImm('ne', 0, 0, 'next');
  a.load(4, 2, SKB, CB_MSS_OPTION).movReg(1, SKB).aluImm('add', 2, 2).movReg(3, FP).aluImm('add', 3, BYTES_AT).mov(4, 2).mov(5, 0).call(HELPER.storeBytes).jumpImm('ne', 0, 0, 'drop');
  a.label('cached-clamped');
  // The origin's own address stays; a replica's goes in, as the agent's setDst would write it.
  a.load(4, FROM, FP, at(ip + 16)).jumpReg('eq', FROM, TO, 'cached-addressed');
  rewriteAddress(a, 16, FROM, TO, 'next');
  a.label('cached-addressed');
  a.load(4, 1, SKB, SKB_MARK).aluImm('or', 1, options.cloneMarkBit).store(4, SKB, SKB_MARK, 1);
  a.movReg(1, SKB).mov(2, options.lanIndex).mov(3, BPF_F_INGRESS).call(HELPER.cloneRedirect).jumpImm('ne', 0, 0, 'start-not-copied');
  countInSlot(a, options.stateMapFd, GATEWAY_SLOTS.startsCached, SLOT_KEY_AT, 'drop');
  a.load(4, 1, SKB, SKB_MARK).aluImm('and', 1, ~options.cloneMarkBit).store(4, SKB, SKB_MARK, 1);
  a.goto('carried');
}

/** A carried segment gets the steering mark, so the gateway's chain lets it through unqueued. */
function endings(a: BpfAssembler, markBit: number): void {
  a.label('carried').load(4, 1, SKB, SKB_MARK).aluImm('or', 1, markBit).store(4, SKB, SKB_MARK, 1).mov(0, TCX_PASS).exit();
  commonEndings(a);
}

/** Client to server, at the LAN's ingress. */
export function clientSideProgram(options: GatewayProgramOptions): Buffer {
  const a = new BpfAssembler();
  const ip = ETH_HEADER;
  const tcp = ETH_HEADER + IP_HEADER;
  prologue(a);
  checkProtocolIsTcp(a, ip);
  a.load(1, 0, FP, at(tcp + 13)).aluImm('and', 0, TCP_CONTROL).jumpImm('eq', 0, TCP_SYN, 'start');
  checkPlainSegment(a, tcp);
  lookupFlow(a, options.flowMapFd, ip + 12, tcp, tcp + 2);
  a.load(4, 0, FP, at(ip + 16)).load(4, 1, FLOW, FLOW_VALUE.serverIp).jumpReg('ne', 0, 1, 'next');
  a.load(4, 0, FLOW, FLOW_VALUE.mode).jumpImm('ge', 0, FLOW_CLOSING, 'next');
  trackClientAcknowledgement(a, tcp);
  touch(a, FLOW_VALUE.toServerPackets);
  a.load(4, 0, FLOW, FLOW_VALUE.mode).jumpImm('eq', 0, FLOW_MODES.pass, 'carried').jumpImm('eq', 0, FLOW_MODES.tunnel, 'tunnel');
  a.load(4, FROM, FP, at(ip + 16)).load(4, TO, FLOW, FLOW_VALUE.winner);
  rewriteAddress(a, 16, FROM, TO, 'next');
  a.goto('carried');

  a.label('tunnel');
  a.load(4, FROM, FP, at(ip + 12)).load(4, TO, FLOW, FLOW_VALUE.winner);
  // From the client's own address to the winner, as the agent tunnels; one too big for the WAN is the agent's.
  encapsulate(a, FROM, TO, options.wanMtu, 'next');
  a.goto('carried');
  tagStartPacket(a, options);
  endings(a, options.markBit);
  return a.assemble();
}

/** Towards the client, at the WAN's ingress. */
export function serverSideProgram(options: GatewayProgramOptions): Buffer {
  const a = new BpfAssembler();
  const ip = ETH_HEADER;
  const tcp = ETH_HEADER + IP_HEADER;
  prologue(a);
  a.load(1, 0, FP, at(ip + 9)).jumpImm('eq', 0, 4, 'ipip').jumpImm('ne', 0, 6, 'next');
  a.load(1, 0, FP, at(tcp + 13)).aluImm('and', 0, TCP_CONTROL).jumpImm('eq', 0, TCP_SYN_ACK, 'answer');

  checkPlainSegment(a, tcp);
  lookupFlow(a, options.flowMapFd, ip + 16, tcp + 2, tcp);
  a.load(4, FROM, FP, at(ip + 12)).load(4, TO, FLOW, FLOW_VALUE.serverIp);
  a.load(4, 0, FLOW, FLOW_VALUE.mode).jumpImm('ge', 0, FLOW_CLOSING, 'next').jumpImm('eq', 0, FLOW_MODES.tunnel, 'next').jumpImm('eq', 0, FLOW_MODES.pass, 'from-server');
  a.load(4, 1, FLOW, FLOW_VALUE.winner).jumpReg('eq', FROM, 1, 'from-winner');
  a.jumpImm('ne', 0, FLOW_MODES['translate-spoofed'], 'next');
  a.label('from-server').jumpReg('ne', FROM, TO, 'next');
  trackServerSequence(a, ip, tcp, 'server-tracked');
  touch(a, FLOW_VALUE.toClientPackets);
  a.goto('carried');
  a.label('from-winner');
  trackServerSequence(a, ip, tcp, 'winner-tracked');
  touch(a, FLOW_VALUE.toClientPackets);
  rewriteAddress(a, 12, FROM, TO, 'next');
  a.goto('carried');

  // C: the winner's IPIP packet; the inner one must be TCP to the outer destination, from the server address.
  const innerIp = ETH_HEADER + IP_HEADER;
  const innerTcp = innerIp + IP_HEADER;
  a.label('ipip');
  copyHeaders(a, innerTcp, TCP_HEADER);
  checkIpv4(a, innerIp);
  checkProtocolIsTcp(a, innerIp);
  a.load(4, 0, FP, at(innerIp + 16)).load(4, 1, FP, at(ip + 16)).jumpReg('ne', 0, 1, 'next');
  checkPlainSegment(a, innerTcp);
  lookupFlow(a, options.flowMapFd, innerIp + 16, innerTcp + 2, innerTcp);
  a.load(4, 0, FLOW, FLOW_VALUE.mode).jumpImm('ne', 0, FLOW_MODES.tunnel, 'next');
  a.load(4, 0, FP, at(ip + 12)).load(4, 1, FLOW, FLOW_VALUE.winner).jumpReg('ne', 0, 1, 'next');
  a.load(4, 0, FP, at(innerIp + 12)).load(4, 1, FLOW, FLOW_VALUE.serverIp).jumpReg('ne', 0, 1, 'next');
  trackServerSequence(a, innerIp, innerTcp, 'tunnel-tracked');
  touch(a, FLOW_VALUE.toClientPackets);
  decapsulate(a, 'next');
  a.goto('carried');
  judgeAnswer(a, options);
  endings(a, options.markBit);
  return a.assemble();
}
