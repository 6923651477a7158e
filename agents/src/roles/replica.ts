// A replica (P400A/B/C): cracks the switch's encapsulated start packet and hands
// the inner SYN to the local TCP stack, whose unmodified web server answers.
//   A: the SYN is re-addressed to the replica, whose stack answers plainly.
//   B: as A, but the stack's answers are shaped: the SYN+ACK goes out inside an
//      outer server->client header, later packets with the server as source.
//   C: the stack owns the connection under the server's address (a local,
//      non-ARPing one); everything it sends is tunnelled replica->client, and
//      the gateway's tunnelled client packets are cracked into the stack.
// With the kernel path a switch's copy reaches the stack from a classifier, while the replica is neither busy
// nor dead and a socket will take it (kernel-path/replica-programs.ts); every other copy comes here.
// Start packets are believed only inside IPIP from a configured switch; in C a client's tunnelled segment
// only when its outer source is its inner source (the gateway tunnels from the client's own address).
import { readFileSync } from 'node:fs';
import { IPPROTO_IPIP } from '../io/libc';
import { openRawIpSocket } from '../io/raw-ip-socket';
import { openTunDevice, type TunDevice } from '../io/tun-device';
import { crack, createIpv4View, createTcpView, encapsulate, ipToString, parseIpv4, parseTcp, setDst, setSrc, TcpFlag } from '../packet';
import { Counters } from '../protocol/counters';
import { RawSender } from '../protocol/raw-sender';
import { AGENT_MARK, installReplyDiversion } from '../protocol/reply-diversion';
import { installStartRefusal, type StartRefusal } from '../protocol/start-refusal';
import { prefixContains } from '../config-fields';
import type { ReplicaConfig } from './replica-config';
import { ReplicaKernelPath, type ReplicaKernelPathDump } from '../kernel-path/replica-kernel-path';

const LOAD_SAMPLE_MS = 1000;
const TUN_NAME = 'srtun0';
/** Configuration B: the web port whose answers the replica sends as the server's. */
const SPOOFED_PORT = 80;
/** Configuration B and C: each client connection's server and initial sequence number, remembered from its SYN; bounded. */
const MAX_REMEMBERED_CLIENTS = 65536;

export interface Replica {
  counters(): Record<string, unknown>;
  setBusy(forced: boolean): void;
  setDead(forced: boolean): void;
  close(): void;
}

/** The replica's packet logic, without sockets: the runtime below and the fuzz harness drive it. */
export interface ReplicaCore {
  /** An IPIP packet for this board (IPv4 header included), as the raw IPIP socket reads it. */
  onCopy(packet: Buffer): void;
  /** B and C: a packet the local stack sent towards a client (from the TUN device). */
  fromStack(packet: Buffer): void;
  rememberedClients(): number;
  busy: { forced: boolean; load: number; dead: boolean };
}

interface Remembered {
  server: number;
  isn: number;
}

function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/** `toStack` injects a packet into the local stack; `toClient` sends one towards a client. */
export function createReplicaCore(config: ReplicaConfig, counters: Counters, toStack: (packet: Buffer, dst: number) => void, toClient: (packet: Buffer, dst: number) => void): ReplicaCore {
  const servers = new Set(config.serverAddresses);
  const switches = new Set(config.switchAddresses);
  const gatewayClients = new Map(config.gateways.map((g) => [g.address, g.clients]));
  const outer = createIpv4View();
  const inner = createIpv4View();
  const tcp = createTcpView();
  const ofClient = new Map<number, Remembered>();
  const state = { forced: false, load: 0, dead: false };

  function startPacket(packet: Buffer): void {
    if (state.forced || state.load > config.busyLoad) return counters.add(state.forced ? 'busy-dropped-forced' : 'busy-dropped-load');
    if (config.configuration !== 'A') {
      if (ofClient.size >= MAX_REMEMBERED_CLIENTS) ofClient.delete(ofClient.keys().next().value!);
      ofClient.set(inner.src * 0x10000 + tcp.srcPort, { server: inner.dst, isn: tcp.seq });
    }
    if (config.configuration !== 'C') setDst(packet, inner, config.ownAddress);
    counters.add('start-packets-answered');
    injectInner(packet);
  }

  function injectInner(packet: Buffer): void {
    toStack(packet.subarray(inner.offset, inner.offset + inner.totalLength), inner.dst);
  }

  function onCopy(packet: Buffer): void {
    if (state.dead) return; // a dead replica does nothing at all, as if powered off
    if (parseIpv4(packet, 0, outer) !== 'ok' || outer.dst !== config.ownAddress) return counters.add('copy-not-for-us');
    const status = crack(packet, outer, inner);
    if (status !== 'ok') return counters.add(`copy-dropped-inner-${status}`);
    if (parseTcp(packet, inner, tcp) !== 'ok') return counters.add('copy-dropped-inner-not-tcp');
    if (!servers.has(inner.dst)) return counters.add('copy-dropped-unknown-server');
    if ((tcp.flags & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN) {
      // Only a switch fans out start packets, and a gateway tunnels cached ones for its own clients alone;
      // from anyone else this would make the replica answer a forgery.
      if (switches.has(outer.src)) return startPacket(packet);
      const clients = gatewayClients.get(outer.src);
      if (!clients) return counters.add('ipip-from-stranger-dropped');
      if (!clients.some((prefix) => prefixContains(prefix, inner.src))) return counters.add('cached-start-for-foreign-client-dropped');
      counters.add('cached-start-from-gateway');
      return startPacket(packet);
    }
    // Only configuration C tunnels the rest of a connection to the replica, from the client's own address.
    if (config.configuration !== 'C') return counters.add('copy-dropped-not-a-start-packet');
    if (outer.src !== inner.src) return counters.add('tunnel-outer-source-not-client-dropped');
    counters.add('tunnelled-from-client');
    injectInner(packet);
  }

  /** B and C: shapes what the stack sends towards a client. */
  function fromStack(packet: Buffer): void {
    if (parseIpv4(packet, 0, inner) !== 'ok' || parseTcp(packet, inner, tcp) !== 'ok') return counters.add('stack-packet-dropped-unparsable');
    const client = inner.dst;
    const remembered = ofClient.get(client * 0x10000 + tcp.dstPort);
    // The stack refusing a copied start packet (nothing listens here): a replica's refusal never goes
    // out, since it must not decide the race (in B it would even carry the server's address).
    // RFC 793 answers a segment without ACK with seq 0: an established connection's abort carries its own number.
    const refusal = (tcp.flags & (TcpFlag.RST | TcpFlag.ACK)) === (TcpFlag.RST | TcpFlag.ACK) && tcp.seq === 0;
    if (refusal && remembered && tcp.ack === ((remembered.isn + 1) >>> 0)) {
      return counters.add('refusal-not-sent');
    }
    if (config.configuration === 'C') {
      const wrapped = encapsulate(packet, inner, config.ownAddress, client);
      if (!wrapped.ok) return counters.add(`stack-packet-dropped-${wrapped.reason}`);
      counters.add('tunnelled-to-client');
      return toClient(wrapped.packet, client);
    }
    const server = remembered?.server ?? config.serverAddresses[0];
    if ((tcp.flags & (TcpFlag.SYN | TcpFlag.ACK)) === (TcpFlag.SYN | TcpFlag.ACK)) {
      // The gateway learns the replica from the inner source; the outer one is the server it expects.
      const wrapped = encapsulate(packet, inner, server, client);
      if (!wrapped.ok) return counters.add(`stack-packet-dropped-${wrapped.reason}`);
      counters.add('acknowledgements-spoofed');
      return toClient(wrapped.packet, client);
    }
    setSrc(packet, inner, server);
    counters.add('spoofed-to-client');
    toClient(packet, client);
  }

  return { onCopy, fromStack, rememberedClients: () => ofClient.size, busy: state };
}

export function startReplica(config: ReplicaConfig, log: (message: string) => void): Replica {
  const counters = new Counters();
  // Marked, so that in B and C the agent's own sends are not diverted back into the TUN device.
  const raw = new RawSender(counters, AGENT_MARK);
  const send = (packet: Buffer, dst: number): void => raw.send(packet, dst);
  const core = createReplicaCore(config, counters, send, send);
  // A: cached start packets reach the stack directly, so busy and dead are the filter's to enforce too.
  const startFilter = config.configuration === 'A' ? installStartRefusal(ipToString(config.ownAddress)) : undefined;
  const refusalNow = (): StartRefusal => (core.busy.dead ? 'drop' : core.busy.forced || core.busy.load > config.busyLoad ? 'refuse' : 'none');
  const kernelPath = config.kernelPath && kernelCanCarry(config) ? openKernelPath(config, counters, log) : undefined;
  const busyChanged = (): void => {
    const refusal = refusalNow();
    startFilter?.set(refusal);
    kernelPath?.setStarting(refusal === 'none');
  };
  core.busy.load = loadAverage();
  busyChanged();
  const sampler = setInterval(() => {
    core.busy.load = loadAverage();
    busyChanged();
  }, LOAD_SAMPLE_MS);
  const copies = openRawIpSocket(IPPROTO_IPIP);
  let tun: TunDevice | undefined;
  let removeDiversion = () => undefined as void;
  copies.onPacket(core.onCopy);

  if (config.configuration !== 'A') {
    tun = openTunDevice(TUN_NAME);
    const own = ipToString(config.ownAddress);
    const servers = config.serverAddresses.map(ipToString);
    removeDiversion = installReplyDiversion({
      tun: TUN_NAME,
      selector: config.configuration === 'C' ? ['from', servers[0]] : ['from', own, 'ipproto', 'tcp', 'sport', String(SPOOFED_PORT)],
      localAddresses: config.configuration === 'C' ? servers : [],
      // With the kernel path the stack's resets (a refusal must not leave) still come here, and in C anything but TCP.
      ...(kernelPath ? { only: diverted(config, own, servers) } : {}),
    });
    tun.onPacket(core.fromStack);
  }
  log(`replica ready: configuration ${config.configuration}, serving ${config.serverAddresses.length} origin server(s), start packets from ${config.switchAddresses.map(ipToString).join(', ')}`);

  return {
    counters: () => ({
      ...counters.toJSON(), ...startsAnsweredInAll(counters, kernelPath), busy: core.busy.forced, dead: core.busy.dead, loadAverage: core.busy.load,
      ...(startFilter ? { startRefusal: startFilter.mode } : {}),
      kernelPath: kernelPathState(config, kernelPath),
    }),
    setBusy(forced) {
      core.busy.forced = forced;
      busyChanged();
      log(`replica: busy ${forced ? 'forced on' : 'off'}`);
    },
    setDead(forced) {
      core.busy.dead = forced;
      kernelPath?.setCarrying(!forced);
      busyChanged();
      log(`replica: dead ${forced ? 'forced on' : 'off'}`);
    },
    close() {
      clearInterval(sampler);
      startFilter?.remove();
      copies.close();
      tun?.close();
      // The diversion (and in C the server's addresses) goes first: once the classifiers are gone, nothing may
      // leave from a server's address untunnelled.
      removeDiversion();
      kernelPath?.close();
      raw.close();
    },
  };
}

/** A and C always; B speaks for one server only (for more, which server a client asked for is the agent's memory). */
function kernelCanCarry(config: ReplicaConfig): boolean {
  return config.configuration !== 'B' || config.serverAddresses.length === 1;
}

/** The start packets the replica answered, the agent's and the kernel path's together: both are its answers. */
function startsAnsweredInAll(counters: Counters, path: ReplicaKernelPath | undefined): Record<string, number> {
  const total = counters.get('start-packets-answered') + (path?.dump().startsAnswered ?? 0);
  return total === 0 ? {} : { 'start-packets-answered': total };
}

/** What the stack sends that still goes to the agent when the kernel path carries the rest. */
function diverted(config: ReplicaConfig, own: string, servers: string[]): string[][] {
  if (config.configuration === 'B') return [['-s', own, '-p', 'tcp', '--sport', String(SPOOFED_PORT), '--tcp-flags', 'RST', 'RST']];
  return servers.flatMap((s) => [['-s', s, '-p', 'tcp', '--tcp-flags', 'RST', 'RST'], ['-s', s, '!', '-p', 'tcp']]);
}

/** The replica's classifiers, or undefined (logged and counted) where the kernel has no tcx or refuses them. */
function openKernelPath(config: ReplicaConfig, counters: Counters, log: (message: string) => void): ReplicaKernelPath | undefined {
  try {
    const path = ReplicaKernelPath.open(config.configuration, config.ownAddress, config.serverAddresses, config.switchAddresses, SPOOFED_PORT);
    log(`replica: kernel path on (tcx on ${path.wanInterface})`);
    return path;
  } catch (err) {
    counters.add('kernel-path-unavailable');
    log(`replica: kernel path unavailable, the agent shapes every answer itself: ${(err as Error).message}`);
    return undefined;
  }
}

function kernelPathState(config: ReplicaConfig, path: ReplicaKernelPath | undefined): ReplicaKernelPathDump | 'not-configured' | 'unavailable' | 'agent-only-here' {
  if (path) return path.dump();
  if (!config.kernelPath) return 'not-configured';
  return kernelCanCarry(config) ? 'unavailable' : 'agent-only-here';
}
