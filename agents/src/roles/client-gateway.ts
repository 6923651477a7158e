// The client gateway (patent router 106): tags start packets (P200), takes the
// first acknowledgement and resets the rest (P500), and translates the bound
// connection (P600). Configuration A: NAT both ways. Within a TTL of a race, a new
// connection's start packet goes straight to the remembered winner (P250, cached-starts.ts).
//
// The kernel forwards; the gateway's chain queues web traffic to it (steered-queue.ts) and each packet
// goes back with a verdict: untouched, rewritten, or dropped. Only RSTs to late answerers are its own.
// Once a race is won, the kernel path (kernel-path/) carries the connection's segments but SYN, FIN and
// RST, which still come here. The kernel path tags start packets too: while the winner cache is off, and
// in configuration A also with it on, where the LAN classifier first sends a start packet to its server's
// remembered winner from a mirror of the cache. In A it also judges every race's plain answers (a cached
// start packet's too). Clones of those start packets and winning answers fill the table (kernel-clones.ts).
import {
  buildRst, clampMss, crack, createIpv4View, createTcpView, encapsulate, parseIpv4, parseTcp, readWindowScale, setDst, setSrc, addTag, stripTags, TcpFlag, type Ipv4View, type TcpView,
} from '../packet';
import { DEFAULT_TABLE_OPTIONS, readAnswerKey, readConnectionKey, TranslationTable, type AnswerKey, type CachedWinner, type ConnectionKey, type TableCounters, type TableDump, type TableEntry } from '../table';
import { addKernelCount, Counters } from '../protocol/counters';
import { PacketParser, type PacketKind } from '../protocol/packet-parser';
import { RawSender } from '../protocol/raw-sender';
import { createDeadlineQueue } from '../io/deadline-queue';
import { keepReceiveStampsOn } from '../io/receive-stamps';
import { interfaceIndex, openSteeredQueue, type Verdicts } from '../protocol/steered-queue';
import { GATEWAY_CLONES, GATEWAY_STEERING, NOT_LOCAL_MATCH, START_PACKET_MATCH, webPortsMatch, type SteeringRule } from '../protocol/steering';
import type { ClientGatewayConfig } from './client-gateway-config';
import { createCachedStarts, type CachedStarts } from './cached-starts';
import { createKernelClones } from './kernel-clones';
import { GatewayKernelPath, type KernelPathDump, type KernelWin } from '../kernel-path/gateway-kernel-path';
import type { FlowMode, StartMode } from '../kernel-path/gateway-programs';

const SWEEP_INTERVAL_MS = 1000;
const NS_PER_MS = 1e6;

export interface ClientGateway {
  counters(): Record<string, unknown>;
  table(): TableDump;
  setWinnerCache(on: boolean): void;
  setKernelPath(on: boolean): void;
  close(): void;
}

/** The gateway's packet logic, without sockets: the runtime below and the fuzz harness drive it. */
export interface GatewayCore {
  /** `startedInKernel`: the clone of a start packet the LAN classifier tagged, or sent to a remembered winner. */
  fromClient(packet: Buffer, v: Verdicts, startedInKernel?: boolean): void;
  /** `wonInKernel`: the clone of an answer the WAN classifier found first and sent on. */
  fromServer(packet: Buffer, v: Verdicts, wonInKernel?: boolean): void;
  /** Forgets idle entries; one the kernel path carries is idle only if its classifiers saw nothing either. */
  sweep(now: number): void;
  readonly table: TranslationTable;
  /** Absent when the config has no winner cache. */
  readonly cachedStarts?: CachedStarts;
  /** What the LAN classifier may do with start packets, with the winner cache on or off. */
  startMode(cacheOn: boolean): StartMode;
}

/** Runs fn after ms; returns a cancel. */
export type Later = (ms: number, fn: () => void) => () => void;

/**
 * `send` sends a packet the gateway originates (RSTs, cached and kept start packets); `now` is the table's
 * clock in ms; `later` times cached start packets' deadlines.
 */
export function createGatewayCore(config: ClientGatewayConfig, counters: Counters, send: (packet: Buffer, dst: number) => void, now: () => number, later: Later, kernel?: GatewayKernelPath): GatewayCore {
  const table = new TranslationTable(config.table);
  if (kernel) table.onRemoved = (entry, why) => kernel.leave(entry, why);
  /** How the kernel path carries a connection a replica won; one the origin won crosses untouched. */
  const replicaFlow: FlowMode = config.configuration === 'A' ? 'translate' : config.configuration === 'B' ? 'translate-spoofed' : 'tunnel';
  // Only A's answers are all plain: in B and C a replica's comes through the tunnel, which is the agent's to judge.
  const raceInKernel = (entry: TableEntry): boolean => config.configuration === 'A' && kernel !== undefined && kernel.race(entry);
  // The classifier's clone of a cached start packet names only the winner, which must name its server.
  const serverOfWinner = config.configuration === 'A' && kernel ? serversByWinner(config.candidates) : undefined;
  const mirror = serverOfWinner && kernel && config.winnerCache && {
    remembered: (e: CachedWinner) => kernel.mirrorCachedWinner(e.server, e.port, e.winner, config.winnerCache!.ttlMs - (now() - e.racedAt)),
    forgotten: (e: CachedWinner) => kernel.forgetCachedWinner(e.server, e.port),
  };
  const cachedStarts = config.winnerCache && createCachedStarts({
    config, cacheConfig: config.winnerCache, counters, send, now, later, learnKernelWin: (entry) => withKernelDecision(entry), ...(mirror ? { mirror } : {}),
  });
  const clones = createKernelClones({
    config, table, counters, send, now, raceInKernel, adoptKernelWin, ...(cachedStarts ? { cachedStarts } : {}), ...(serverOfWinner ? { serverOfWinner } : {}),
  });
  const webPorts = new Set(config.webPorts);
  const local = new Set(config.localAddresses);
  const fromClients = new PacketParser();
  const towardsClients = new PacketParser();
  // Reused per packet: the table reads keys and never keeps them.
  const key: ConnectionKey = { clientIp: 0, clientPort: 0, serverIp: 0, serverPort: 0 };
  const answer: AnswerKey = { clientIp: 0, clientPort: 0, serverPort: 0, answerer: 0 };
  const innerIp = createIpv4View();
  const innerTcp = createTcpView();
  const scratchIp = createIpv4View();
  const candidateSets = new Map(config.candidates.map((c) => [c.server, new Set(c.replicas)]));
  const noCandidates = new Set<number>();
  const servers = new Set(config.candidates.map((c) => c.server));
  const replicas = new Set(config.candidates.flatMap((c) => c.replicas).filter((r) => !servers.has(r)));
  /** The replicas that may answer for a server: the switch fans out to exactly these. */
  const candidatesOf = (server: number) => candidateSets.get(server) ?? noCandidates;

  /** P200: strip any tag the client wrote, tag the start packet, clamp its MSS, open (or reuse) its table entry. */
  function startPacket(packet: Buffer, v: Verdicts): void {
    const { ip, tcp } = fromClients;
    // Only this gateway may say a connection is replicatable: a client's own option 253 never leaves.
    const stripped = stripTags(packet, tcp);
    if (stripped > 0) counters.add('client-tag-stripped');
    const result = table.getOrCreatePending(key, tcp.seq, now());
    if (!result.entry) {
      counters.add(`syn-untagged-${result.refused}`);
      return stripped > 0 ? v.rewritten(packet) : v.pass();
    }
    const entry = result.entry;
    entry.clientWindowShift = readWindowScale(packet, tcp);
    clampMss(packet, tcp, config.maxMss);
    if (result.created && cachedStarts?.start(packet, ip, entry, v)) {
      if (raceInKernel(entry)) counters.add('race-in-kernel');
      return;
    }
    // The retransmission itself is raced: the cached winner has had its chance.
    if (!result.created) cachedStarts?.raceInstead(entry, 'retransmission', false);
    counters.add(result.created ? 'syn-tagged' : 'syn-retransmitted');
    const tagged = addTag(packet, ip, tcp, true);
    if (!tagged.ok) {
      counters.add(`syn-untagged-${tagged.reason}`);
      if (result.created) entry.via = 'untagged';
      return v.rewritten(packet);
    }
    if (entry.state === 'pending' && raceInKernel(entry)) counters.add('race-in-kernel');
    v.rewritten(tagged.packet);
  }

  /**
   * A segment of a carried connection that reached the agent: a SYN, FIN or RST, or one the classifiers
   * would not vouch for. What they learnt comes first, so a RST is judged at the current sequence number;
   * a FIN takes the connection back to the agent for its close.
   */
  function settle(entry: TableEntry, flags: number): void {
    if (!kernel || entry.path !== 'kernel') return;
    if (flags & TcpFlag.FIN) kernel.leave(entry, 'fin');
    else kernel.sync(entry);
  }

  /**
   * Records the classifier's winner as the agent's own acknowledgement() would record it. `answerWindowShift`
   * is the winner's window scale when its answer is at hand; read from the map, the classifier's assumption
   * that it scales as the client does.
   */
  function adoptKernelWin(entry: TableEntry, win: KernelWin, answerWindowShift = 0): void {
    if (table.recordAnswer(entry, win.winner, (entry.isn + 1) >>> 0, now(), (win.serverNextSeq - 1) >>> 0, answerWindowShift) !== 'won') return;
    counters.add('won-in-kernel');
    won(entry, true);
  }

  /**
   * A packet of a pending entry reached the agent: what the classifier already decided comes first. With
   * `takeRace` (an answer the agent is about to judge) a race the classifier did not decide becomes the
   * agent's alone.
   */
  function withKernelDecision(entry: TableEntry, takeRace = false): void {
    if (entry.state !== 'pending' || !kernel) return;
    const win = takeRace ? kernel.takeRace(entry) : kernel.decision(entry);
    if (win) adoptKernelWin(entry, win);
  }

  /** A race won, by the agent's judgement or the classifier's: counted, remembered, and carried by the kernel path. */
  function won(entry: TableEntry, inKernel: boolean): void {
    counters.add(entry.state === 'origin' ? 'won-by-origin' : 'won-by-replica');
    cachedStarts?.won(entry);
    const carried = inKernel ? kernel?.adopt(entry) : kernel?.carry(entry, entry.state === 'replica' ? replicaFlow : 'pass');
    if (carried) counters.add('kernel-path-carried');
  }

  /** P600, client to server: a connection bound to a replica goes to the replica. */
  function clientSegment(packet: Buffer, v: Verdicts): void {
    const { ip, tcp } = fromClients;
    const entry = table.get(key);
    if (entry) {
      withKernelDecision(entry);
      settle(entry, tcp.flags);
      table.recordClientAcknowledgement(entry, tcp.flags, tcp.ack, tcp.window);
      table.recordSegment(entry, 'client', tcp.flags, now());
    }
    if (entry?.state === 'replica' && entry.winner !== null) {
      counters.add('to-replica');
      if (config.configuration === 'C') {
        const wrapped = encapsulate(packet, ip, ip.src, entry.winner);
        if (!wrapped.ok) {
          counters.add(`to-replica-dropped-${wrapped.reason}`);
          return v.drop();
        }
        return v.rewritten(wrapped.packet);
      }
      setDst(packet, ip, entry.winner);
      return v.rewritten(packet);
    }
    counters.add(entry ? 'to-origin' : 'unmatched-passed');
    v.pass();
  }

  /**
   * True for a whole segment of the web traffic (the web port on the `port` side, not to the gateway
   * itself). Anything else gets its verdict here: malformed segments are dropped and counted; first
   * fragments, other traffic and traffic to the gateway are passed untouched.
   */
  function isWebSegment(parser: PacketParser, kind: PacketKind, port: 'dstPort' | 'srcPort', v: Verdicts): boolean {
    if (kind === 'malformed') {
      counters.add(`dropped-${parser.problem}`);
      v.drop();
      return false;
    }
    if ((kind !== 'tcp' && kind !== 'tcp-fragment') || !webPorts.has(parser.tcp[port]) || local.has(parser.ip.dst)) {
      counters.add('not-web-passed');
      v.pass();
      return false;
    }
    if (kind === 'tcp-fragment') {
      counters.add('fragment-passed');
      v.pass();
      return false;
    }
    return true;
  }

  function fromClient(packet: Buffer, v: Verdicts, inKernel = false): void {
    if (inKernel) return clones.started(packet, v);
    if (!isWebSegment(fromClients, fromClients.parse(packet), 'dstPort', v)) return;
    readConnectionKey(key, fromClients);
    if ((fromClients.tcp.flags & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN) startPacket(packet, v);
    else clientSegment(packet, v);
  }

  /**
   * P500: the first acknowledgement wins; a later one gets a RST that really ends its half-open
   * connection. `ip`/`tcp` view the answer as the client will get it (the inner packet when tunnelled).
   */
  function acknowledgement(packet: Buffer, ip: Ipv4View, tcp: TcpView, v: Verdicts): void {
    const tunnelled = ip !== towardsClients.ip;
    const entry = table.findForAnswer(answer);
    if (!entry) {
      if (tunnelled) {
        counters.add('tunnel-unmatched-dropped');
        return v.drop();
      }
      // A replica answers only copies of start packets this gateway tagged; without an entry it answers a
      // forgery, and handing its SYN+ACK on would amplify it. The origin's answer still goes through.
      if (replicas.has(answer.answerer)) {
        counters.add('answer-from-replica-without-entry-dropped');
        return v.drop();
      }
      counters.add('answer-unmatched-passed');
      return v.pass();
    }
    if (answer.answerer !== entry.serverIp && !candidatesOf(entry.serverIp).has(answer.answerer)) {
      // Never a RST to a bystander: only addresses that can have received the SYN are answered at all.
      counters.add('answer-from-stranger-dropped');
      return v.drop();
    }
    // Only an answer that can win takes the race from the classifier: a forged one cannot call it back.
    if (tcp.ack === ((entry.isn + 1) >>> 0)) withKernelDecision(entry, true);
    const verdict = table.recordAnswer(entry, answer.answerer, tcp.ack, now(), tcp.seq, readWindowScale(packet, tcp));
    if (verdict === 'late') {
      counters.add('late-answer-reset');
      resetLateAnswerer(answer.answerer, entry.serverIp, tcp);
      return v.drop();
    }
    if (verdict === 'unrelated') {
      counters.add('answer-unrelated-dropped');
      return v.drop();
    }
    if (verdict === 'won') won(entry, false);
    // Configuration C: the client's segments will be tunnelled, 20 bytes longer; its MSS comes from here.
    const clamped = config.configuration === 'C' && clampMss(packet, tcp, config.maxMss);
    deliver(packet, ip, entry.serverIp, clamped, v);
  }

  /** The RST reaches the answerer's stack under the connection it holds: tunnelled to the server address in C. */
  function resetLateAnswerer(answerer: number, serverIp: number, tcp: TcpView): void {
    const client = answer.clientIp;
    if (config.configuration === 'C' && answerer !== serverIp) {
      const rst = buildRst({ src: client, dst: serverIp, srcPort: tcp.dstPort, dstPort: tcp.srcPort, seq: tcp.ack });
      parseIpv4(rst, 0, scratchIp);
      const wrapped = encapsulate(rst, scratchIp, client, answerer);
      if (wrapped.ok) send(wrapped.packet, answerer);
      return;
    }
    send(buildRst({ src: client, dst: answerer, srcPort: tcp.dstPort, dstPort: tcp.srcPort, seq: tcp.ack }), answerer);
  }

  /**
   * Hands a packet of the winner to the client, appearing to come from the server. A tunnelled packet
   * leaves as its inner packet; a plain one untouched when nothing in it changed.
   */
  function deliver(packet: Buffer, ip: Ipv4View, serverIp: number, changed: boolean, v: Verdicts): void {
    const tunnelled = ip !== towardsClients.ip;
    if (ip.src !== serverIp) {
      setSrc(packet, ip, serverIp);
      changed = true;
    }
    if (tunnelled) return v.rewritten(packet.subarray(ip.offset, ip.offset + ip.totalLength));
    if (changed) return v.rewritten(packet);
    v.pass();
  }

  /** A plain (not tunnelled) segment from the server side. */
  function serverSegment(packet: Buffer, v: Verdicts): void {
    const { ip, tcp } = towardsClients;
    const entry = table.findForAnswer(answer);
    if (!entry) {
      // Not the gateway's: the kernel's FORWARD rules decide, as for any packet.
      counters.add('unmatched-passed');
      return v.pass();
    }
    withKernelDecision(entry);
    settle(entry, tcp.flags);
    if (entry.state === 'pending') return pendingReset(entry, v);
    // C carries a replica-bound connection only inside the tunnel; plain packets claiming to be part of it are forged.
    if (config.configuration === 'C' && entry.state === 'replica') {
      counters.add('plain-in-tunnelled-connection-dropped');
      return v.drop();
    }
    // B's saving: the bound replica sends with the server's address, and those cross untranslated.
    const spoofedByWinner = config.configuration === 'B' && entry.state === 'replica' && ip.src === entry.serverIp;
    if (entry.winner !== ip.src && !spoofedByWinner) {
      counters.add('from-loser-dropped');
      return v.drop();
    }
    fromWinner(packet, ip, tcp, entry, v);
  }

  /**
   * Before any acknowledgement won, the only segment from the server side that means something is the
   * origin's refusal: RST+ACK acknowledging the start packet (nothing listens on the port). It reaches the
   * client at once ("connection refused" within a round trip) and ends the entry. A replica's RST never
   * decides the race: the origin or another replica may still answer.
   */
  function pendingReset(entry: TableEntry, v: Verdicts): void {
    const { ip, tcp } = towardsClients;
    const refusal = (tcp.flags & (TcpFlag.RST | TcpFlag.ACK | TcpFlag.SYN)) === (TcpFlag.RST | TcpFlag.ACK) && tcp.ack === ((entry.isn + 1) >>> 0);
    if (refusal && ip.src === entry.serverIp) {
      table.endRefused(entry);
      counters.add('refused-by-origin');
      return v.pass();
    }
    // Configuration A: a cached winner's stack refusing the SYN sent straight to it; the race decides now.
    if (refusal && entry.via === 'cache' && ip.src === entry.cached?.winner) {
      cachedStarts?.raceInstead(entry, 'refusal', true);
      return v.drop();
    }
    counters.add(refusal ? 'refusal-from-replica-dropped' : 'before-answer-dropped');
    v.drop();
  }

  /** A segment of the bound connection towards the client; a RST must carry the expected sequence number. */
  function fromWinner(packet: Buffer, ip: Ipv4View, tcp: TcpView, entry: TableEntry, v: Verdicts): void {
    if (tcp.flags & TcpFlag.RST && !table.acceptsServerReset(entry, tcp.seq)) {
      counters.add('forged-reset-dropped');
      return v.drop();
    }
    table.recordSegment(entry, 'server', tcp.flags, now(), tcp.seq, tcp.payloadLength);
    deliver(packet, ip, entry.serverIp, false, v);
  }

  /** Configurations B and C: an IPIP packet towards a client, cracked and checked before anything of it is used. */
  function onTunnel(packet: Buffer, v: Verdicts): void {
    const outer = towardsClients.ip;
    if (local.has(outer.dst)) {
      counters.add('not-web-passed');
      return v.pass();
    }
    const status = crack(packet, outer, innerIp);
    if (status !== 'ok') {
      counters.add(`tunnel-dropped-inner-${status}`);
      return v.drop();
    }
    if (parseTcp(packet, innerIp, innerTcp) !== 'ok' || !webPorts.has(innerTcp.srcPort) || innerIp.dst !== outer.dst) {
      counters.add('tunnel-dropped-not-web-to-client');
      return v.drop();
    }
    // B names the replica in the inner source (the outer one is the server); C in the outer source.
    readAnswerKey(answer, { ip: innerIp, tcp: innerTcp }, config.configuration === 'B' ? innerIp.src : outer.src);
    if ((innerTcp.flags & (TcpFlag.SYN | TcpFlag.ACK)) === (TcpFlag.SYN | TcpFlag.ACK)) return acknowledgement(packet, innerIp, innerTcp, v);
    const entry = table.findForAnswer(answer);
    if (entry) settle(entry, innerTcp.flags);
    if (config.configuration !== 'C' || !entry || entry.state !== 'replica' || entry.winner !== outer.src) {
      counters.add('tunnel-dropped-not-from-bound-replica');
      return v.drop();
    }
    fromWinner(packet, innerIp, innerTcp, entry, v);
  }

  function fromServer(packet: Buffer, v: Verdicts, wonInKernel = false): void {
    if (wonInKernel) return clones.won(packet, v);
    // One parse per packet: the kind decides between the tunnel (B, C) and plain segments.
    const kind = towardsClients.parse(packet);
    if (kind === 'ipip' && config.configuration !== 'A') return onTunnel(packet, v);
    if (!isWebSegment(towardsClients, kind, 'srcPort', v)) return;
    const { ip, tcp } = towardsClients;
    readAnswerKey(answer, towardsClients);
    if ((tcp.flags & (TcpFlag.SYN | TcpFlag.ACK)) === (TcpFlag.SYN | TcpFlag.ACK)) acknowledgement(packet, ip, tcp, v);
    else serverSegment(packet, v);
  }

  function sweep(at: number): void {
    // A winner whose clone the agent's queue lost is still in the map: adopted before its pending entry could expire.
    for (const entry of kernel?.races() ?? []) withKernelDecision(entry);
    table.sweep(at, kernel && ((entry) => kernel.lastSeen(entry)));
  }

  /** The cache on, start packets go first to its remembered winners: the classifier's if it has a mirror, else the agent's. */
  const startMode = (cacheOn: boolean): StartMode => (!cacheOn ? 'tag' : mirror ? 'cached' : 'agent');

  return { fromClient, fromServer, sweep, table, startMode, ...(cachedStarts ? { cachedStarts } : {}) };
}

/** Each winner's server, when no address is a candidate of two servers; else undefined. */
function serversByWinner(candidates: ClientGatewayConfig['candidates']): Map<number, number> | undefined {
  const servers = new Map<number, number>();
  for (const c of candidates) {
    for (const winner of new Set([c.server, ...c.replicas])) {
      if (servers.has(winner)) return undefined;
      servers.set(winner, c.server);
    }
  }
  return servers;
}

/** The steering rules: web traffic both ways, and in B and C the tunnel towards the clients. */
export function gatewaySteeringRules(config: ClientGatewayConfig): SteeringRule[] {
  const { startQueue, otherQueue } = GATEWAY_STEERING;
  const web = (direction: 'dport' | 'sport') => webPortsMatch(config.webPorts, direction);
  const cloneMark = `0x${GATEWAY_CLONES.markBit.toString(16)}`;
  const clones = (from: string) => ({ match: ['-i', from, '-p', 'tcp', '-m', 'mark', '--mark', `${cloneMark}/${cloneMark}`], queue: GATEWAY_CLONES.num });
  return [
    // First: the clones the kernel path marks, of start packets its LAN classifier tagged and answers its WAN classifier found first.
    ...(config.kernelPath ? [clones(config.lanInterface), clones(config.wanInterface)] : []),
    { match: ['-i', config.lanInterface, '-p', 'tcp', ...START_PACKET_MATCH, ...web('dport'), ...NOT_LOCAL_MATCH], queue: startQueue },
    { match: ['-i', config.lanInterface, '-p', 'tcp', ...web('dport'), ...NOT_LOCAL_MATCH], queue: otherQueue },
    { match: ['-i', config.wanInterface, '-p', 'tcp', ...web('sport'), ...NOT_LOCAL_MATCH], queue: otherQueue },
    // B and C answer (and C carries whole connections) inside IPv4-in-IPv4 towards the client.
    ...(config.configuration === 'A' ? [] : [{ match: ['-i', config.wanInterface, '-p', '4', ...NOT_LOCAL_MATCH], queue: otherQueue }]),
  ];
}

export function startClientGateway(config: ClientGatewayConfig, log: (message: string) => void): ClientGateway {
  const counters = new Counters();
  const lanIndex = interfaceIndex(config.lanInterface);
  const wanIndex = interfaceIndex(config.wanInterface);
  const sender = new RawSender(counters);
  // A cached start packet's deadline runs on the precise timer, from the packet's arrival at the board (its
  // clone's, when the classifier sent it): neither this agent's wake-up nor setTimeout's whole milliseconds
  // are added to a missed winner's cost. Closed with the agent: a deadline after it would send through a closed socket.
  const stopStamps = keepReceiveStampsOn();
  const deadlines = createDeadlineQueue();
  let arrivedNs = 0;
  const later: Later = (ms, fn) => deadlines.at(arrivedNs + ms * NS_PER_MS, fn);
  const kernelPath = config.kernelPath ? openKernelPath(config, lanIndex, wanIndex, counters, log) : undefined;
  const core = createGatewayCore(config, counters, (packet, dst) => sender.send(packet, dst), Date.now, later, kernelPath);
  let queue;
  try {
    queue = openSteeredQueue(GATEWAY_STEERING, gatewaySteeringRules(config), log);
  } catch (err) {
    kernelPath?.close();
    deadlines.close();
    stopStamps();
    sender.close();
    throw err;
  }
  const steered = queue;
  steered.onPacket((p, v) => {
    arrivedNs = p.receivedNs;
    const cloned = (p.mark & GATEWAY_CLONES.markBit) !== 0;
    if (p.indev === lanIndex) return core.fromClient(p.payload, v, cloned);
    if (p.indev === wanIndex) return core.fromServer(p.payload, v, cloned);
    counters.add('other-interface-passed');
    v.pass();
  });
  // Only now that the clones have a queue (a tagged start packet's clone with none would be forwarded too).
  kernelPath?.setStartMode(core.startMode(core.cachedStarts?.cache.enabled ?? false));
  const sweeper = setInterval(() => core.sweep(Date.now()), SWEEP_INTERVAL_MS);
  log(`client-gateway ready: configuration ${config.configuration}, web ports ${config.webPorts.join(',')}, ${config.lanInterface} -> ${config.wanInterface}`);

  return {
    counters: () => {
      const kernel = kernelPathState(config, kernelPath);
      const lateResets = typeof kernel === 'object' ? kernel.lateResets : 0;
      const own = counters.toJSON();
      addKernelCount(own, 'late-answer-reset', lateResets);
      return {
        ...own,
        ...steered.counters(),
        table: withKernelLateAnswers(core.table.counters, lateResets),
        entries: core.table.size,
        ...(core.cachedStarts ? { winnerCache: core.cachedStarts.cache.dump(Date.now()) } : {}),
        kernelPath: kernel,
      };
    },
    table: () => {
      kernelPath?.syncAll();
      const dump = core.table.dump(Date.now());
      return { ...dump, counters: withKernelLateAnswers(dump.counters, kernelPath?.dump().lateResets ?? 0) };
    },
    setWinnerCache(on) {
      if (!core.cachedStarts) throw new Error('this gateway has no winner cache configured');
      core.cachedStarts.cache.setEnabled(on);
      kernelPath?.setStartMode(core.startMode(on));
      log(`client-gateway: winner cache ${on ? 'on' : 'off'}`);
    },
    setKernelPath(on) {
      if (!kernelPath) throw new Error(config.kernelPath ? 'this gateway\'s kernel cannot carry connections (see its log)' : 'this gateway has no kernel path configured');
      kernelPath.setEnabled(on);
      log(`client-gateway: kernel path ${on ? 'on' : 'off'}`);
    },
    close() {
      clearInterval(sweeper);
      deadlines.close();
      stopStamps();
      // The classifiers first: a clone of a start packet they tag must find the queue.
      kernelPath?.close();
      steered.close();
      sender.close();
    },
  };
}

/** The classifiers, or undefined (logged and counted) where the kernel has no tcx or refuses them: the agent carries everything then. */
function openKernelPath(config: ClientGatewayConfig, lanIndex: number, wanIndex: number, counters: Counters, log: (message: string) => void): GatewayKernelPath | undefined {
  try {
    const path = GatewayKernelPath.open({
      lanIndex, wanInterface: config.wanInterface, wanIndex,
      markBit: GATEWAY_STEERING.markBit, maxFlows: config.table.maxEntries ?? DEFAULT_TABLE_OPTIONS.maxEntries, maxCachedWinners: config.winnerCache?.maxEntries ?? 1,
      webPorts: config.webPorts, localAddresses: config.localAddresses, maxMss: config.maxMss, cloneMarkBit: GATEWAY_CLONES.markBit,
      // C's replicas answer inside the tunnel, and their RST goes back inside it: the agent's.
      plainAnswerers: config.candidates.map((c) => ({ server: c.server, answerers: [c.server, ...(config.configuration === 'C' ? [] : c.replicas)] })),
    });
    log(`client-gateway: kernel path on (tcx ingress on ${config.lanInterface} and ${config.wanInterface})`);
    return path;
  } catch (err) {
    counters.add('kernel-path-unavailable');
    log(`client-gateway: kernel path unavailable, the agent carries every connection: ${(err as Error).message}`);
    return undefined;
  }
}

/** The losers' answers the WAN classifier reset are the gateway's late answers too. */
function withKernelLateAnswers(counters: TableCounters, lateResets: number): TableCounters {
  return { ...counters, lateAnswers: counters.lateAnswers + lateResets };
}

function kernelPathState(config: ClientGatewayConfig, path: GatewayKernelPath | undefined): KernelPathDump | 'not-configured' | 'unavailable' {
  if (path) return path.dump();
  return config.kernelPath ? 'unavailable' : 'not-configured';
}
