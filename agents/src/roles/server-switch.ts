// The server switch (P300): a tagged start packet for replicatable content is
// copied, encapsulated, to every replica, and the original goes to the origin.
// In the synchronized race mode each copy is held so all candidates get theirs
// at the same moment, and the one nearest the client answers first.
import { openPacketSocket, type PacketSocket } from '../io/packet-socket';
import { encapsulate, readTag, TcpFlag } from '../packet';
import { Counters } from '../protocol/counters';
import { FrameParser } from '../protocol/frame-parser';
import { Forwarder } from '../protocol/forwarder';
import { installSteering, webPortsMatch } from '../protocol/steering';
import type { OriginServer, RaceMode, ServerSwitchConfig } from './server-switch-config';

export interface ServerSwitch {
  counters(): Record<string, unknown>;
  setRaceMode(mode: RaceMode): void;
  close(): void;
}

export function startServerSwitch(config: ServerSwitchConfig, log: (message: string) => void): ServerSwitch {
  const counters = new Counters();
  const forwarder = new Forwarder(counters);
  const parser = new FrameParser();
  const webPorts = new Set(config.webPorts);
  const origins = new Map<number, OriginServer>(config.origins.map((o) => [o.address, o]));
  const held = new Set<NodeJS.Timeout>();
  let raceMode = config.raceMode;

  // Only start packets: the rest of each connection is the kernel's to forward.
  const removeSteering = installSteering([['-i', config.wanInterface, '-p', 'tcp', '--syn', ...webPortsMatch(config.webPorts, 'dport')]]);

  /** Sends now, or after the candidate's hold when the race is synchronized. */
  function release(candidate: number, send: () => void): void {
    const hold = raceMode === 'synchronized' ? (config.holdMs.get(candidate) ?? 0) : 0;
    if (hold <= 0) return send();
    const timer = setTimeout(() => {
      held.delete(timer);
      send();
    }, hold);
    held.add(timer);
  }

  function onFrame(frame: Buffer): void {
    const kind = parser.parse(frame);
    const { ip, tcp } = parser;
    if (kind === 'malformed') return counters.add(`dropped-${parser.problem}`);
    if (kind !== 'tcp' && kind !== 'tcp-fragment') return;
    if ((tcp.flags & (TcpFlag.SYN | TcpFlag.ACK)) !== TcpFlag.SYN || !webPorts.has(tcp.dstPort)) return;
    if (kind === 'tcp-fragment') {
      counters.add('fragment-forwarded');
      return forwarder.forward(frame, ip);
    }
    const origin = origins.get(ip.dst);
    const tag = readTag(frame, tcp);
    const fanOut = origin !== undefined && tag === 'permissible' && origin.replicatablePorts.includes(tcp.dstPort) && origin.replicas.length > 0;
    counters.add(fanOut ? 'syn-fanned-out' : `syn-to-origin-only-${origin ? tag : 'unknown-server'}`);
    if (fanOut) {
      for (const replica of origin.replicas) {
        const copy = encapsulate(frame, ip, config.switchAddress, replica);
        if (!copy.ok) {
          counters.add(`copy-not-sent-${copy.reason}`);
          continue;
        }
        const outer = copy.packet.subarray(ip.offset);
        release(replica, () => forwarder.send(outer, replica));
        counters.add('copies-sent');
      }
      // The parser's view is reused by the next frame; a held original keeps its own (the frame is already ours).
      const view = { ...ip };
      release(view.dst, () => forwarder.forward(frame, view));
      return;
    }
    forwarder.forward(frame, ip);
  }

  const wan: PacketSocket = openPacketSocket(config.wanInterface);
  wan.onFrame(onFrame);
  log(`server-switch ready: ${config.origins.length} origin(s), ${config.origins.reduce((n, o) => n + o.replicas.length, 0)} replica(s), ${raceMode} race`);

  return {
    counters: () => ({ ...counters.toJSON(), raceMode }),
    setRaceMode(mode) {
      raceMode = mode;
      log(`server-switch: race mode ${mode}`);
    },
    close() {
      held.forEach((t) => clearTimeout(t));
      wan.close();
      removeSteering();
      forwarder.close();
    },
  };
}
