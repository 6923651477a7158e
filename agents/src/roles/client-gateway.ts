// The client gateway (patent router 106): tags start packets (P200), takes the
// first acknowledgement and resets the rest (P500), and translates the bound
// connection (P600). Configuration A: NAT both ways.
import { openPacketSocket, type PacketSocket } from '../io/packet-socket';
import { addTag, buildRst, clampMss, crack, createIpv4View, createTcpView, encapsulate, parseIpv4, parseTcp, setDst, setSrc, TcpFlag, type Ipv4View, type TcpView } from '../packet';
import { TranslationTable, type AnswerKey, type ConnectionKey, type TableDump, type TableEntry } from '../table';
import { Counters } from '../protocol/counters';
import { ETH_HEADER_BYTES, FrameParser, type FrameKind } from '../protocol/frame-parser';
import { Forwarder } from '../protocol/forwarder';
import { installSteering, webPortsMatch } from '../protocol/steering';
import type { ClientGatewayConfig } from './client-gateway-config';

const SWEEP_INTERVAL_MS = 1000;

export interface ClientGateway {
  counters(): Record<string, unknown>;
  table(): TableDump;
  close(): void;
}

export function startClientGateway(config: ClientGatewayConfig, log: (message: string) => void): ClientGateway {
  const counters = new Counters();
  const table = new TranslationTable(config.table);
  const forwarder = new Forwarder(counters);
  const webPorts = new Set(config.webPorts);
  const local = new Set(config.localAddresses);
  const fromClients = new FrameParser();
  const towardsClients = new FrameParser();
  // Reused per packet: the table reads keys and never keeps them.
  const key: ConnectionKey = { clientIp: 0, clientPort: 0, serverIp: 0, serverPort: 0 };
  const answer: AnswerKey = { clientIp: 0, clientPort: 0, serverPort: 0, answerer: 0 };

  const removeSteering = installSteering([
    ['-i', config.lanInterface, '-p', 'tcp', ...webPortsMatch(config.webPorts, 'dport')],
    ['-i', config.wanInterface, '-p', 'tcp', ...webPortsMatch(config.webPorts, 'sport')],
    // B and C answer (and C carries whole connections) inside IPv4-in-IPv4 towards the client.
    ...(config.configuration === 'A' ? [] : [['-i', config.wanInterface, '-p', '4']]),
  ]);
  const innerIp = createIpv4View();
  const innerTcp = createTcpView();
  const scratchIp = createIpv4View();
  const candidateSets = new Map(config.candidates.map((c) => [c.server, new Set(c.replicas)]));
  const noCandidates = new Set<number>();
  /** The replicas that may answer for a server: the switch fans out to exactly these. */
  const candidatesOf = (server: number) => candidateSets.get(server) ?? noCandidates;

  /** P200: tag the start packet, clamp its MSS, open (or reuse) its table entry. */
  function startPacket(frame: Buffer): void {
    const { ip, tcp } = fromClients;
    const result = table.getOrCreatePending(key, tcp.seq, Date.now());
    if (!result.entry) {
      counters.add(`syn-untagged-${result.refused}`);
      forwarder.forward(frame, ip);
      return;
    }
    counters.add(result.created ? 'syn-tagged' : 'syn-retransmitted');
    clampMss(frame, tcp, config.maxMss);
    const tagged = addTag(frame, ip, tcp, true);
    if (!tagged.ok) {
      counters.add(`syn-untagged-${tagged.reason}`);
      forwarder.forward(frame, ip);
      return;
    }
    parseIpv4(tagged.packet, ETH_HEADER_BYTES, ip);
    forwarder.forward(tagged.packet, ip);
  }

  /** P600, client to server: a connection bound to a replica goes to the replica. */
  function clientSegment(frame: Buffer): void {
    const { ip, tcp } = fromClients;
    const entry = table.get(key);
    if (entry) table.recordSegment(entry, 'client', tcp.flags, Date.now());
    if (entry?.state === 'replica' && entry.winner !== null) {
      counters.add('to-replica');
      if (config.configuration === 'C') {
        const wrapped = encapsulate(frame, ip, ip.src, entry.winner);
        if (!wrapped.ok) return counters.add(`to-replica-dropped-${wrapped.reason}`);
        return forwarder.send(wrapped.packet.subarray(ip.offset), entry.winner);
      }
      setDst(frame, ip, entry.winner);
    } else {
      counters.add(entry ? 'to-origin' : 'unmatched-forwarded');
    }
    forwarder.forward(frame, ip);
  }

  /**
   * True for a whole segment of the web traffic the steering rules took from the kernel (the web port on
   * the `port` side). Malformed packets are counted and dropped, as the kernel would have; first fragments
   * are forwarded untouched, since nothing of the race may depend on fragmentation.
   */
  function isSteeredSegment(parser: FrameParser, kind: FrameKind, frame: Buffer, port: 'dstPort' | 'srcPort'): boolean {
    if (kind === 'malformed') {
      counters.add(`dropped-${parser.problem}`);
      return false;
    }
    if ((kind !== 'tcp' && kind !== 'tcp-fragment') || !webPorts.has(parser.tcp[port]) || local.has(parser.ip.dst)) return false;
    if (kind === 'tcp-fragment') {
      counters.add('fragment-forwarded');
      forwarder.forward(frame, parser.ip);
      return false;
    }
    return true;
  }

  function onClientFrame(frame: Buffer): void {
    if (!isSteeredSegment(fromClients, fromClients.parse(frame), frame, 'dstPort')) return;
    const { ip, tcp } = fromClients;
    key.clientIp = ip.src;
    key.clientPort = tcp.srcPort;
    key.serverIp = ip.dst;
    key.serverPort = tcp.dstPort;
    if ((tcp.flags & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN) startPacket(frame);
    else clientSegment(frame);
  }

  /**
   * P500: the first acknowledgement wins; a later one gets a RST that really ends its half-open
   * connection. `ip`/`tcp` view the answer as the client will get it (the inner packet when tunnelled).
   */
  function acknowledgement(frame: Buffer, ip: Ipv4View, tcp: TcpView): void {
    const entry = table.findForAnswer(answer);
    if (!entry) {
      if (ip !== towardsClients.ip) return counters.add('tunnel-unmatched-dropped');
      counters.add('answer-unmatched-forwarded');
      return forwarder.forward(frame, ip);
    }
    if (answer.answerer !== entry.serverIp && !candidatesOf(entry.serverIp).has(answer.answerer)) {
      // Never a RST to a bystander: only addresses that can have received the SYN are answered at all.
      return counters.add('answer-from-stranger-dropped');
    }
    const verdict = table.recordAnswer(entry, answer.answerer, tcp.ack, Date.now(), tcp.seq);
    if (verdict === 'late') {
      counters.add('late-answer-reset');
      return resetLateAnswerer(answer.answerer, entry.serverIp, tcp);
    }
    if (verdict === 'unrelated') return counters.add('answer-unrelated-dropped');
    if (verdict === 'won') counters.add(entry.state === 'origin' ? 'won-by-origin' : 'won-by-replica');
    // Configuration C: the client's segments will be tunnelled, 20 bytes longer; its MSS comes from here.
    if (config.configuration === 'C') clampMss(frame, tcp, config.maxMss);
    deliver(frame, ip, entry.serverIp);
  }

  /** The RST reaches the answerer's stack under the connection it holds: tunnelled to the server address in C. */
  function resetLateAnswerer(answerer: number, serverIp: number, tcp: TcpView): void {
    const client = answer.clientIp;
    if (config.configuration === 'C' && answerer !== serverIp) {
      const rst = buildRst({ src: client, dst: serverIp, srcPort: tcp.dstPort, dstPort: tcp.srcPort, seq: tcp.ack });
      parseIpv4(rst, 0, scratchIp);
      const wrapped = encapsulate(rst, scratchIp, client, answerer);
      if (wrapped.ok) forwarder.send(wrapped.packet, answerer);
      return;
    }
    forwarder.send(buildRst({ src: client, dst: answerer, srcPort: tcp.dstPort, dstPort: tcp.srcPort, seq: tcp.ack }), answerer);
  }

  /** Hands a packet of the winner to the client, appearing to come from the server. */
  function deliver(frame: Buffer, ip: Ipv4View, serverIp: number): void {
    if (ip.src !== serverIp) setSrc(frame, ip, serverIp);
    forwarder.forward(frame, ip);
  }

  /** A plain (not tunnelled) segment from the server side. */
  function serverSegment(frame: Buffer): void {
    const { ip, tcp } = towardsClients;
    const entry = table.findForAnswer(answer);
    if (!entry) {
      counters.add('unmatched-forwarded');
      return forwarder.forward(frame, ip);
    }
    // C carries a replica-bound connection only inside the tunnel; plain packets claiming to be part of it are forged.
    if (config.configuration === 'C' && entry.state === 'replica') return counters.add('plain-in-tunnelled-connection-dropped');
    // B's saving: the bound replica sends with the server's address, and those cross untranslated.
    const spoofedByWinner = config.configuration === 'B' && entry.state === 'replica' && ip.src === entry.serverIp;
    if (entry.winner !== ip.src && !spoofedByWinner) return counters.add('from-loser-dropped');
    fromWinner(frame, ip, tcp, entry);
  }

  /** A segment of the bound connection towards the client; a RST must carry the expected sequence number. */
  function fromWinner(frame: Buffer, ip: Ipv4View, tcp: TcpView, entry: TableEntry): void {
    if (tcp.flags & TcpFlag.RST && !table.acceptsServerReset(entry, tcp.seq)) return counters.add('forged-reset-dropped');
    table.recordSegment(entry, 'server', tcp.flags, Date.now(), tcp.seq, tcp.payloadLength);
    deliver(frame, ip, entry.serverIp);
  }

  /** Configurations B and C: an IPIP packet towards a client, cracked and checked before anything of it is used. */
  function onTunnelFrame(frame: Buffer): void {
    const outer = towardsClients.ip;
    if (local.has(outer.dst)) return;
    const status = crack(frame, outer, innerIp);
    if (status !== 'ok') return counters.add(`tunnel-dropped-inner-${status}`);
    if (parseTcp(frame, innerIp, innerTcp) !== 'ok' || !webPorts.has(innerTcp.srcPort) || innerIp.dst !== outer.dst) return counters.add('tunnel-dropped-not-web-to-client');
    answer.clientIp = innerIp.dst;
    answer.clientPort = innerTcp.dstPort;
    answer.serverPort = innerTcp.srcPort;
    // B names the replica in the inner source (the outer one is the server); C in the outer source.
    answer.answerer = config.configuration === 'B' ? innerIp.src : outer.src;
    if ((innerTcp.flags & (TcpFlag.SYN | TcpFlag.ACK)) === (TcpFlag.SYN | TcpFlag.ACK)) return acknowledgement(frame, innerIp, innerTcp);
    const entry = table.findForAnswer(answer);
    if (config.configuration !== 'C' || !entry || entry.state !== 'replica' || entry.winner !== outer.src) {
      return counters.add('tunnel-dropped-not-from-bound-replica');
    }
    fromWinner(frame, innerIp, innerTcp, entry);
  }

  function onServerFrame(frame: Buffer): void {
    // One parse per packet: the kind decides between the tunnel (B, C) and plain segments.
    const kind = towardsClients.parse(frame);
    if (kind === 'ipip') {
      if (config.configuration !== 'A') onTunnelFrame(frame);
      return;
    }
    if (!isSteeredSegment(towardsClients, kind, frame, 'srcPort')) return;
    const { ip, tcp } = towardsClients;
    answer.clientIp = ip.dst;
    answer.clientPort = tcp.dstPort;
    answer.serverPort = tcp.srcPort;
    answer.answerer = ip.src;
    if ((tcp.flags & (TcpFlag.SYN | TcpFlag.ACK)) === (TcpFlag.SYN | TcpFlag.ACK)) acknowledgement(frame, ip, tcp);
    else serverSegment(frame);
  }

  const sockets: PacketSocket[] = [];
  try {
    const lan = openPacketSocket(config.lanInterface);
    sockets.push(lan);
    const wan = openPacketSocket(config.wanInterface);
    sockets.push(wan);
    lan.onFrame((frame) => onClientFrame(frame));
    wan.onFrame((frame) => onServerFrame(frame));
  } catch (err) {
    sockets.forEach((s) => s.close());
    removeSteering();
    forwarder.close();
    throw err;
  }
  const sweeper = setInterval(() => table.sweep(Date.now()), SWEEP_INTERVAL_MS);
  log(`client-gateway ready: configuration ${config.configuration}, web ports ${config.webPorts.join(',')}, ${config.lanInterface} -> ${config.wanInterface}`);

  return {
    counters: () => ({ ...counters.toJSON(), table: table.counters, entries: table.size }),
    table: () => table.dump(Date.now()),
    close() {
      clearInterval(sweeper);
      sockets.forEach((s) => s.close());
      removeSteering();
      forwarder.close();
    },
  };
}
