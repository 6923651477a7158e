// The switch's fan-out in the kernel (issue 16): in the plain race a gateway's tagged start packet is
// copied to every replica of its origin at the WAN's ingress, so a handshake through the race wakes no
// process on the switch. The program takes a start packet only when the agent would fan it out:
// - a SYN to a web port of a configured origin, on a port whose content that origin's replicas hold;
// - the first synrace tag in its options is well formed and says permissible (the agent's readTag);
// - the frame's link-layer source is a gateway's (the map the agent fills from the neighbour table);
// - every replica's next hop is resolved (else the agent's send resolves it).
// Anything else goes on to the agent as before ('next'), which then decides and counts as it always did.
// The gateway's fan-out budget is this program's, a GCRA per gateway with the agent's rate and burst,
// taken with an atomic compare-and-exchange: over it, the SYN goes to the origin alone from here.
// The original, fanned out or over budget, carries the switch's steering mark, so its chain lets it pass
// unqueued; the synchronized and bounded races, whose copies wait, stay the agent's.
import { BpfAssembler, FP } from './bpf-assembler';
import {
  addressImmediate, at, checkProtocolIsTcp, commonEndings, countInSlot, decapsulate, encapsulate, ETH_HEADER, FIB, HELPER, IP_HEADER,
  loadAtCursor, lookUpNextHop, prologue, requireWebPortWhileSwitchedOn, SCRATCH_FREE_BELOW, SKB, SKB_MARK, TCX_PASS, walkOptions,
} from './classifier-pieces';

/** Slots of the switch's state map (an array of u64). */
export const SWITCH_SLOTS = { plain: 0, copies: 1, copyFailures: 2 } as const;
export const SWITCH_SLOT_COUNT = 3;
/** A gateway's bucket: GCRA's theoretical arrival time (ns), then what it fanned out and what went over. */
export const BUCKET = { tat: 0, fannedOut: 8, overBudget: 16, size: 24 } as const;
/** The gateways map's key: the link-layer address, then two zero bytes. */
export const GATEWAY_KEY_SIZE = 8;
/** The stack holds one next hop per replica: beyond this an origin's start packets stay the agent's. */
export const MAX_KERNEL_REPLICAS = 16;

export interface SwitchOrigin {
  address: number;
  replicas: number[];
  replicatablePorts: number[];
}

export interface FanOutProgramOptions {
  stateMapFd: number;
  gatewayMapFd: number;
  bucketMapFd: number;
  switchAddress: number;
  wanIndex: number;
  wanMtu: number;
  webPorts: number[];
  origins: SwitchOrigin[];
  markBit: number;
  /** Per gateway, fanned-out SYNs per second and at most this many at once (the agent's token bucket). */
  rate: number;
  burst: number;
}

const TCP = ETH_HEADER + IP_HEADER;
const TCP_SYN = 0x02;
const TCP_ACK = 0x10;
const TAG_LENGTH = 5;
const TAG_PERMISSIBLE = 1;
const KEY_AT = SCRATCH_FREE_BELOW - 8;
const OPTION_AT = KEY_AT - 8;
const FIB_AT = OPTION_AT - 64;
/** Per replica: its next hop's link-layer address, the switch's own, and the interface; as a frame starts. */
const HOP_SIZE = 16;
const HOPS_AT = FIB_AT - HOP_SIZE;
const hopAt = (j: number): number => HOPS_AT - j * HOP_SIZE;
const NS_PER_SECOND = 1_000_000_000;
/** A bucket's times are capped well inside u64, whatever rate and burst say. */
const MAX_NS = 2 ** 62;

const nanoseconds = (ns: number): bigint => BigInt(Math.max(1, Math.round(Math.min(ns, MAX_NS))));

/** r0 = the map's value under the key at KEY_AT, or 'next' when there is none. */
function lookup(a: BpfAssembler, mapFd: number): void {
  a.loadMap(1, mapFd).movReg(2, FP).aluImm('add', 2, KEY_AT).call(HELPER.mapLookup).jumpImm('eq', 0, 0, 'next');
}

/** Walks the options as the agent's cursor does, to the first synrace tag, which must say permissible. */
function requirePermissibleTag(a: BpfAssembler): void {
  walkOptions(a, { scratchAt: OPTION_AT, end: 'next', tag: 'tag', malformed: 'next' });
  a.label('tag');
  a.jumpImm('ne', 9, TAG_LENGTH, 'next');
  loadAtCursor(a, OPTION_AT, 4, 1);
  a.jumpImm('ne', 0, TAG_PERMISSIBLE, 'next');
}

/** r7 = the bucket of the gateway whose link-layer address the frame came from; else 'next'. */
function gatewayBucket(a: BpfAssembler, options: FanOutProgramOptions): void {
  a.load(4, 0, FP, at(6)).store(4, FP, KEY_AT, 0);
  a.load(2, 0, FP, at(10)).store(2, FP, KEY_AT + 4, 0);
  a.storeImm(2, FP, KEY_AT + 6, 0);
  lookup(a, options.gatewayMapFd);
  a.load(4, 0, 0, 0).store(4, FP, KEY_AT, 0);
  lookup(a, options.bucketMapFd);
  a.movReg(7, 0);
}

/** Each replica's next hop onto the stack; any not resolved leaves the packet to the agent. */
function nextHops(a: BpfAssembler, options: FanOutProgramOptions, replicas: number[]): void {
  replicas.forEach((replica, j) => {
    lookUpNextHop(a, FIB_AT, options.wanIndex, () => {
      a.storeImm(4, FP, FIB_AT + FIB.src, addressImmediate(options.switchAddress));
      a.storeImm(4, FP, FIB_AT + FIB.dst, addressImmediate(replica));
    }, 'next');
    for (let k = 0; k < 6; k += 2) {
      a.load(2, 0, FP, FIB_AT + FIB.dmac + k).store(2, FP, hopAt(j) + k, 0);
      a.load(2, 0, FP, FIB_AT + FIB.smac + k).store(2, FP, hopAt(j) + 6 + k, 0);
    }
    a.load(4, 0, FP, FIB_AT + FIB.ifindex).store(4, FP, hopAt(j) + 12, 0);
  });
}

/** GCRA on the bucket in r7: 'granted', or 'over-budget' (also when three exchanges in a row lose to another CPU). */
function takeToken(a: BpfAssembler, options: FanOutProgramOptions, labels: string): void {
  const interval = nanoseconds(NS_PER_SECOND / options.rate);
  const tolerance = nanoseconds((options.burst * NS_PER_SECOND) / options.rate);
  a.call(HELPER.ktimeGetNs).movReg(8, 0);
  for (let attempt = 0; attempt < 3; attempt++) {
    const later = `take-${labels}-${attempt}`;
    a.load(8, 0, 7, BUCKET.tat).movReg(1, 0).jumpReg('ge', 1, 8, later).movReg(1, 8);
    a.label(later);
    a.loadImm64(2, interval).aluReg('add', 1, 2);
    a.movReg(2, 1).aluReg('sub', 2, 8).loadImm64(3, tolerance).jumpReg('gt', 2, 3, 'over-budget');
    a.movReg(3, 0).compareExchange(7, BUCKET.tat, 1).jumpReg('eq', 0, 3, `granted-${labels}`);
  }
  a.goto('over-budget');
  a.label(`granted-${labels}`);
}

/** One copy per replica, in an outer header switch -> replica, sent from the WAN; the packet is the original again after each. */
function fanOut(a: BpfAssembler, options: FanOutProgramOptions, replicas: number[], labels: string): void {
  replicas.forEach((replica, j) => {
    const copy = `${labels}-${j}`;
    a.mov(8, addressImmediate(options.switchAddress)).mov(9, addressImmediate(replica));
    encapsulate(a, 8, 9, options.wanMtu, `not-copied-${copy}`, { roomFlags: 0, labels: copy });
    a.movReg(1, SKB).mov(2, 0).movReg(3, FP).aluImm('add', 3, hopAt(j)).mov(4, 12).mov(5, 0).call(HELPER.storeBytes).jumpImm('ne', 0, 0, 'drop');
    a.load(4, 2, FP, hopAt(j) + 12).movReg(1, SKB).mov(3, 0).call(HELPER.cloneRedirect).movReg(9, 0);
    // The copy left with its own outer header; without it the original cannot go on.
    decapsulate(a, 'drop');
    a.jumpImm('ne', 9, 0, `copy-failed-${copy}`);
    countInSlot(a, options.stateMapFd, SWITCH_SLOTS.copies, KEY_AT, 'next');
    a.goto(`not-copied-${copy}`);
    a.label(`copy-failed-${copy}`);
    countInSlot(a, options.stateMapFd, SWITCH_SLOTS.copyFailures, KEY_AT, 'next');
    a.label(`not-copied-${copy}`);
  });
  a.movReg(1, SKB).mov(2, 0).movReg(3, FP).aluImm('add', 3, at(0)).mov(4, 12).mov(5, 0).call(HELPER.storeBytes).jumpImm('ne', 0, 0, 'drop');
  a.mov(1, 1).atomicAdd(8, 7, BUCKET.fannedOut, 1);
  a.goto('origin-too');
}

/** WAN ingress of the switch: a gateway's tagged start packet, fanned out in the plain race. */
export function fanOutProgram(options: FanOutProgramOptions): Buffer {
  const a = new BpfAssembler();
  const ip = ETH_HEADER;
  prologue(a);
  checkProtocolIsTcp(a, ip);
  a.load(1, 0, FP, at(TCP + 13)).aluImm('and', 0, TCP_SYN | TCP_ACK).jumpImm('ne', 0, TCP_SYN, 'next');
  requireWebPortWhileSwitchedOn(a, options.webPorts, options.stateMapFd, SWITCH_SLOTS.plain, KEY_AT, 'web-port');
  const origins = options.origins.filter((o) => o.replicas.length > 0 && o.replicas.length <= MAX_KERNEL_REPLICAS && o.replicatablePorts.length > 0);
  const toOrigin = (label: (i: number) => string): void => {
    a.load(4, 0, FP, at(ip + 16));
    origins.forEach((o, i) => a.jump32Imm('eq', 0, addressImmediate(o.address), label(i)));
    a.goto('next');
  };
  toOrigin((i) => `origin-${i}`);
  origins.forEach((o, i) => {
    a.label(`origin-${i}`);
    a.load(2, 0, FP, at(TCP + 2)).networkToHost(0, 16);
    for (const port of o.replicatablePorts) a.jumpImm('eq', 0, port, 'replicatable');
    a.goto('next');
  });
  a.label('replicatable');
  requirePermissibleTag(a);
  gatewayBucket(a, options);
  toOrigin((i) => `tagged-${i}`);
  origins.forEach((o, i) => {
    a.label(`tagged-${i}`);
    nextHops(a, options, o.replicas);
    takeToken(a, options, String(i));
    fanOut(a, options, o.replicas, String(i));
  });
  a.label('over-budget');
  a.mov(1, 1).atomicAdd(8, 7, BUCKET.overBudget, 1);
  a.label('origin-too');
  a.load(4, 0, SKB, SKB_MARK).aluImm('or', 0, options.markBit).store(4, SKB, SKB_MARK, 0);
  a.mov(0, TCX_PASS).exit();
  commonEndings(a);
  return a.assemble();
}
