// What the gateway's kernel path tells its agent through clones (kernel-path/gateway-programs.ts): a start
// packet the LAN classifier tagged, or sent to a remembered winner (A), and an answer the WAN classifier
// found first (A). Each clone's packet has left already: the clone only fills the table and is dropped.
import { readTag, readWindowScale, setDst, TcpFlag } from '../packet';
import { readAnswerKey, readConnectionKey, type AnswerKey, type ConnectionKey, type TableEntry, type TranslationTable } from '../table';
import type { Counters } from '../protocol/counters';
import { PacketParser } from '../protocol/packet-parser';
import type { Verdicts } from '../protocol/steered-queue';
import type { KernelWin } from '../kernel-path/gateway-kernel-path';
import type { CachedStarts } from './cached-starts';
import type { ClientGatewayConfig } from './client-gateway-config';

export interface KernelClones {
  /** A start packet's clone, from the LAN. */
  started(packet: Buffer, v: Verdicts): void;
  /** A winning answer's clone, from the WAN. */
  won(packet: Buffer, v: Verdicts): void;
}

export interface KernelClonesDeps {
  config: ClientGatewayConfig;
  table: TranslationTable;
  counters: Counters;
  send(packet: Buffer, dst: number): void;
  now(): number;
  cachedStarts?: CachedStarts;
  /** Each winner's server, where the classifier sends cached start packets (A, no address a candidate of two servers). */
  serverOfWinner?: Map<number, number>;
  /** Writes a pending entry's race into the flow map for the WAN classifier (A); true when it did. */
  raceInKernel(entry: TableEntry): boolean;
  /** Records the classifier's winner as the agent's acknowledgement() would. */
  adoptKernelWin(entry: TableEntry, win: KernelWin, answerWindowShift: number): void;
}

export function createKernelClones({ config, table, counters, send, now, cachedStarts, serverOfWinner, raceInKernel, adoptKernelWin }: KernelClonesDeps): KernelClones {
  const webPorts = new Set(config.webPorts);
  const local = new Set(config.localAddresses);
  const starts = new PacketParser();
  const answers = new PacketParser();
  // Reused per clone: the table reads keys and never keeps them.
  const key: ConnectionKey = { clientIp: 0, clientPort: 0, serverIp: 0, serverPort: 0 };
  const answer: AnswerKey = { clientIp: 0, clientPort: 0, serverPort: 0, answerer: 0 };

  function started(packet: Buffer, v: Verdicts): void {
    // Its packet has left: whatever the clone is, it goes no further.
    v.drop();
    const { ip, tcp } = starts;
    if (starts.parse(packet) !== 'tcp' || (tcp.flags & (TcpFlag.SYN | TcpFlag.ACK)) !== TcpFlag.SYN || !webPorts.has(tcp.dstPort) || local.has(ip.dst)) {
      counters.add('start-clone-not-a-start-packet-dropped');
      return;
    }
    readConnectionKey(key, starts);
    if (readTag(packet, tcp) === 'absent') cached(packet);
    else tagged(packet);
  }

  /**
   * A start packet the kernel path tagged, clamped and sent: the race's entry, as startPacket opens it.
   * Without an entry (the table refuses it) the race goes on unrecorded: the origin's answer then passes and
   * the replicas' are dropped, as for any race the gateway does not know.
   */
  function tagged(packet: Buffer): void {
    const { tcp } = starts;
    const result = table.getOrCreatePending(key, tcp.seq, now());
    if (!result.entry) {
      counters.add(`syn-tagged-in-kernel-without-entry-${result.refused}`);
      return;
    }
    result.entry.clientWindowShift = readWindowScale(packet, tcp);
    counters.add(result.created ? 'syn-tagged' : 'syn-retransmitted');
    counters.add('syn-tagged-in-kernel');
    if (result.entry.state === 'pending' && raceInKernel(result.entry)) counters.add('race-in-kernel');
  }

  /**
   * A start packet the kernel path clamped and sent, untagged, to a remembered winner (A; the clone names
   * the winner): the entry startPacket would open for it, kept and timed by cachedStarts. A retransmission
   * (the flow map did not know the connection) is raced, as startPacket races one. Without an entry (the
   * table refuses it) the start packet goes to the origin as well, as an untagged one would: the replica's
   * answer is dropped.
   */
  function cached(packet: Buffer): void {
    const { ip, tcp } = starts;
    const server = serverOfWinner?.get(ip.dst);
    if (server === undefined || !cachedStarts) return counters.add('cached-clone-to-unknown-winner-dropped');
    key.serverIp = server;
    const result = table.getOrCreatePending(key, tcp.seq, now());
    if (!result.entry) {
      counters.add(`syn-cached-in-kernel-without-entry-${result.refused}`);
      if (ip.dst === server) return;
      setDst(packet, ip, server);
      return send(Buffer.from(packet.subarray(ip.offset, ip.offset + ip.totalLength)), server);
    }
    const entry = result.entry;
    entry.clientWindowShift = readWindowScale(packet, tcp);
    if (result.created) cachedStarts.startedInKernel(packet, ip, entry);
    else {
      counters.add('syn-retransmitted');
      cachedStarts.raceInstead(entry, 'retransmission', true);
    }
    if (entry.state === 'pending' && raceInKernel(entry)) counters.add('race-in-kernel');
  }

  /**
   * An answer the WAN classifier judged first and sent on to the client: the race's winner, recorded as
   * acknowledgement() records one. The table may know already (the agent adopted the decision from the map
   * when another packet of the connection came first).
   */
  function won(packet: Buffer, v: Verdicts): void {
    v.drop();
    const { ip, tcp } = answers;
    if (answers.parse(packet) !== 'tcp' || (tcp.flags & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.RST | TcpFlag.FIN)) !== (TcpFlag.SYN | TcpFlag.ACK)) {
      counters.add('kernel-win-clone-not-an-answer-dropped');
      return;
    }
    readAnswerKey(answer, answers);
    const entry = table.findForAnswer(answer);
    if (entry?.state !== 'pending') {
      counters.add(entry ? 'kernel-win-clone-already-known' : 'kernel-win-clone-without-entry');
      return;
    }
    adoptKernelWin(entry, { winner: ip.src, serverNextSeq: (tcp.seq + 1) >>> 0 }, readWindowScale(packet, tcp));
  }

  return { started, won };
}
