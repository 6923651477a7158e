// The replica's kernel path, with no state per connection.
// - Start packets (A, B, C). At the WAN's ingress, a switch's copy of a start packet (IPIP to the replica
//   from a configured switch, a SYN to a server address the replica holds) loses its outer header and goes
//   to the stack, re-addressed to the replica in A and B, as the agent's injection does, so a handshake
//   through the race wakes no process here. Only while the replica is neither busy nor dead, and only
//   where a socket will answer: the stack's refusal of a copy must not leave, and the agent keeps those
//   (and every start packet it does not take: a gateway's cached ones, strangers', the malformed).
// - C, the tunnel's two ends. At the WAN's ingress, a client's tunnelled segment (outer source its inner
//   source, to a server address the replica holds) loses its outer header and goes to the stack, as the
//   agent's injection does. At the WAN's egress, the stack's packet from a server address gets an outer
//   header replica -> client, as the agent's encapsulation; a packet that cannot be tunnelled is dropped:
//   one with the server's address must never cross the WAN plainly.
// - B, speaking as the server (one server address: which server a client asked for is otherwise the
//   agent's memory). At the WAN's egress, the stack's SYN+ACK from its own web port goes inside an outer
//   server -> client header, and every later packet leaves with the server's address as its source.
// The stack's resets never come here: they are routed to the agent, which keeps refusals of copied start
// packets to itself.
import { BpfAssembler, FP } from './bpf-assembler';
import {
  addressImmediate, at, checkIpv4, checkProtocolIsTcp, commonEndings, copyHeaders, countInSlot, decapsulate, encapsulate, ETH_HEADER, HELPER,
  IP_HEADER, prologue, rewriteAddress, SKB, slotPointer, STACK_FREE_BELOW, TCP_HEADER, TCX_PASS,
} from './classifier-pieces';

/**
 * Slots of the replica's state map (an array of u64): whether ingress carries client segments and takes
 * start packets, and what each direction carried.
 */
export const REPLICA_SLOTS = { carrying: 0, decapsulated: 1, encapsulated: 2, spoofed: 3, starting: 4, startsAnswered: 5 } as const;
export const REPLICA_SLOT_COUNT = 6;

export interface ReplicaProgramOptions {
  stateMapFd: number;
  ownAddress: number;
  serverAddresses: number[];
  wanMtu: number;
}

const SLOT_KEY_AT = STACK_FREE_BELOW - 8;
/** struct bpf_sock_tuple's IPv4 part: addresses and ports in network order. */
const TUPLE_AT = SLOT_KEY_AT - 12;
const TUPLE_SIZE = 12;
const BPF_F_CURRENT_NETNS = -1;
const TCP_SYN = 0x02;
const TCP_ACK = 0x10;
const TCP_SYN_ACK = 0x12;

const slot = (a: BpfAssembler, mapFd: number, index: number, missing: string): void => slotPointer(a, mapFd, index, SLOT_KEY_AT, missing);
const count = (a: BpfAssembler, mapFd: number, index: number): void => countInSlot(a, mapFd, index, SLOT_KEY_AT, 'carried');

/** The address at stack offset `field` must be one of `addresses`, else 'next'. */
function oneOf(a: BpfAssembler, field: number, addresses: number[], label: string): void {
  a.load(4, 0, FP, at(field));
  for (const address of addresses) a.jump32Imm('eq', 0, addressImmediate(address), label);
  a.goto('next');
  a.label(label);
}

function endings(a: BpfAssembler): void {
  a.label('carried').mov(0, TCX_PASS).exit();
  commonEndings(a);
}

/** WAN ingress: a switch's copied start packet to the stack. */
export function startInProgram(options: ReplicaProgramOptions & { configuration: 'A' | 'B' | 'C'; switchAddresses: number[] }): Buffer {
  const a = new BpfAssembler();
  const ip = ETH_HEADER;
  const innerIp = ip + IP_HEADER;
  const innerTcp = innerIp + IP_HEADER;
  const own = addressImmediate(options.ownAddress);
  prologue(a);
  a.load(1, 0, FP, at(ip + 9)).jumpImm('ne', 0, 4, 'next');
  a.load(4, 0, FP, at(ip + 16)).jump32Imm('ne', 0, own, 'next');
  oneOf(a, ip + 12, options.switchAddresses, 'from-switch');
  copyHeaders(a, innerTcp, TCP_HEADER);
  checkIpv4(a, innerIp);
  checkProtocolIsTcp(a, innerIp);
  a.load(1, 0, FP, at(innerTcp + 13)).aluImm('and', 0, TCP_SYN | TCP_ACK).jumpImm('ne', 0, TCP_SYN, 'next');
  oneOf(a, innerIp + 16, options.serverAddresses, 'to-server');
  slot(a, options.stateMapFd, REPLICA_SLOTS.starting, 'next');
  a.load(8, 0, 0, 0).jumpImm('eq', 0, 0, 'next');
  // The socket the stack would hand the start packet to, once re-addressed: a listener, or a connection
  // this client already has (a retransmitted SYN).
  a.load(4, 0, FP, at(innerIp + 12)).store(4, FP, TUPLE_AT, 0);
  if (options.configuration === 'C') a.load(4, 0, FP, at(innerIp + 16)).store(4, FP, TUPLE_AT + 4, 0);
  else a.storeImm(4, FP, TUPLE_AT + 4, own);
  a.load(4, 0, FP, at(innerTcp)).store(4, FP, TUPLE_AT + 8, 0);
  a.movReg(1, SKB).movReg(2, FP).aluImm('add', 2, TUPLE_AT).mov(3, TUPLE_SIZE).mov(4, BPF_F_CURRENT_NETNS).mov(5, 0).call(HELPER.skLookupTcp);
  a.jumpImm('eq', 0, 0, 'next');
  a.movReg(1, 0).call(HELPER.skRelease);
  a.load(4, 8, FP, at(innerIp + 16));
  decapsulate(a, 'next');
  if (options.configuration !== 'C') {
    a.mov(9, own);
    // Without its outer header the packet cannot go back to the agent: a failed rewrite drops it.
    rewriteAddress(a, 16, 8, 9, 'drop');
  }
  count(a, options.stateMapFd, REPLICA_SLOTS.startsAnswered);
  a.goto('carried');
  endings(a);
  return a.assemble();
}

/** WAN ingress: a client's tunnelled segment to the stack. */
export function tunnelInProgram(options: ReplicaProgramOptions): Buffer {
  const a = new BpfAssembler();
  const ip = ETH_HEADER;
  const innerIp = ip + IP_HEADER;
  const innerTcp = innerIp + IP_HEADER;
  prologue(a);
  a.load(1, 0, FP, at(ip + 9)).jumpImm('ne', 0, 4, 'next');
  a.load(4, 0, FP, at(ip + 16)).jump32Imm('ne', 0, addressImmediate(options.ownAddress), 'next');
  copyHeaders(a, innerTcp, TCP_HEADER);
  checkIpv4(a, innerIp);
  checkProtocolIsTcp(a, innerIp);
  a.load(1, 0, FP, at(innerTcp + 13)).aluImm('and', 0, TCP_SYN).jumpImm('ne', 0, 0, 'next');
  a.load(4, 0, FP, at(ip + 12)).load(4, 1, FP, at(innerIp + 12)).jumpReg('ne', 0, 1, 'next');
  oneOf(a, innerIp + 16, options.serverAddresses, 'to-server');
  // A replica played dead (or its path switched off) leaves every segment to the agent.
  slot(a, options.stateMapFd, REPLICA_SLOTS.carrying, 'next');
  a.load(8, 0, 0, 0).jumpImm('eq', 0, 0, 'next');
  decapsulate(a, 'next');
  count(a, options.stateMapFd, REPLICA_SLOTS.decapsulated);
  a.goto('carried');
  endings(a);
  return a.assemble();
}

/** WAN egress: the stack's packet from a server address, tunnelled to its client. */
export function tunnelOutProgram(options: ReplicaProgramOptions): Buffer {
  const a = new BpfAssembler();
  const ip = ETH_HEADER;
  prologue(a);
  oneOf(a, ip + 12, options.serverAddresses, 'from-server');
  a.load(1, 0, FP, at(ip + 9)).jumpImm('ne', 0, 6, 'drop');
  a.mov(8, addressImmediate(options.ownAddress)).load(4, 9, FP, at(ip + 16));
  encapsulate(a, 8, 9, options.wanMtu, 'drop');
  count(a, options.stateMapFd, REPLICA_SLOTS.encapsulated);
  a.goto('carried');
  endings(a);
  return a.assemble();
}

/** B's WAN egress: the stack's answers from its own web port, as the server's. */
export function spoofProgram(options: ReplicaProgramOptions & { webPort: number }): Buffer {
  if (options.serverAddresses.length !== 1) throw new Error('the kernel path speaks for one server address only');
  const a = new BpfAssembler();
  const ip = ETH_HEADER;
  const tcp = ip + IP_HEADER;
  const server = addressImmediate(options.serverAddresses[0]);
  prologue(a);
  checkProtocolIsTcp(a, ip);
  a.load(4, 0, FP, at(ip + 12)).jump32Imm('ne', 0, addressImmediate(options.ownAddress), 'next');
  a.load(2, 0, FP, at(tcp)).networkToHost(0, 16).jumpImm('ne', 0, options.webPort, 'next');
  a.load(1, 0, FP, at(tcp + 13)).aluImm('and', 0, 0x17).jumpImm('eq', 0, TCP_SYN_ACK, 'syn-ack');
  // As the agent's setSrc: an answer that cannot speak as the server must not leave as the replica.
  a.load(4, 8, FP, at(ip + 12)).mov(9, server);
  rewriteAddress(a, 12, 8, 9, 'drop');
  count(a, options.stateMapFd, REPLICA_SLOTS.spoofed);
  a.goto('carried');
  // The gateway learns the replica from the inner source; the outer one is the server it expects.
  a.label('syn-ack');
  a.mov(8, server).load(4, 9, FP, at(ip + 16));
  encapsulate(a, 8, 9, options.wanMtu, 'drop');
  count(a, options.stateMapFd, REPLICA_SLOTS.encapsulated);
  a.goto('carried');
  endings(a);
  return a.assemble();
}
