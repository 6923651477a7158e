// The WAN delay line: a learning switch across one port per board whose
// forwarding between sites passes through that directed site pair's delay
// queue. It replaces sch_netem, which this kernel lacks.
import { ConfigError } from '../config-error';
import { DelayScheduler } from '../delay/delay-scheduler';
import { monotonicNs } from '../io/clock';
import { openPacketSocket, PacketSocket } from '../io/packet-socket';
import { createPreciseTimer } from '../io/precise-timer';
import { LearningSwitch, type SwitchCounters } from '../switching/learning-switch';
import { DEFAULT_QUEUE_LIMIT, WanDelayConfig } from './wan-delay-config';

export type { WanDelayConfig } from './wan-delay-config';

export interface PairCounters {
  from: string;
  to: string;
  /** Frames handed to the egress device. */
  forwarded: number;
  droppedLoss: number;
  /** Delay queue full, or the egress device refused the frame. */
  droppedQueue: number;
}

export interface WanDelay {
  /** One entry per configured path, then one per site with several ports (never delayed). */
  counters(): PairCounters[];
  /** The learning switch's: refused MAC moves (a port claiming a fresh station of another), evictions, ageing. */
  fabric(): SwitchCounters & { stations: number };
  close(): void;
}

interface EgressTally {
  from: string;
  to: string;
  forwarded: number;
  /** Refused by the egress device after leaving the delay queue. */
  refused: number;
}

const NEVER_QUEUED = { droppedLoss: 0, droppedQueue: 0 };

interface Departure {
  frame: Buffer;
  port: number;
}

function openPorts(config: WanDelayConfig): PacketSocket[] {
  const sockets: PacketSocket[] = [];
  try {
    config.ports.forEach(({ ifname }, i) => {
      try {
        sockets.push(openPacketSocket(ifname));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENODEV') {
          throw new ConfigError(`roles.wan-delay.ports[${i}].ifname: ${(err as Error).message}`);
        }
        throw err;
      }
    });
  } catch (err) {
    for (const s of sockets) s.close();
    throw err;
  }
  return sockets;
}

export function startWanDelay(config: WanDelayConfig, log: (message: string) => void): WanDelay {
  const sites = [...new Set(config.ports.map((p) => p.site))];
  const siteOfPort = config.ports.map((p) => sites.indexOf(p.site));

  // Pair index per (from site, to site): configured paths first (they are
  // also the scheduler's path numbers), then same-site pairs.
  const pairs: EgressTally[] = config.paths.map(({ from, to }) => ({ from, to, forwarded: 0, refused: 0 }));
  const pairOf = sites.map((from) => sites.map((to) => config.paths.findIndex((p) => p.from === from && p.to === to)));
  sites.forEach((site, s) => {
    if (siteOfPort.filter((x) => x === s).length > 1) {
      pairOf[s][s] = pairs.push({ from: site, to: site, forwarded: 0, refused: 0 }) - 1;
    }
  });

  const scheduler = new DelayScheduler<Departure>(config.paths, {
    now: monotonicNs,
    random: Math.random,
    queueLimit: config.queueLimit ?? DEFAULT_QUEUE_LIMIT,
  });
  const pinned = new Map<number, number>();
  config.ports.forEach((p, i) => p.mac !== undefined && pinned.set(parseInt(p.mac.replace(/:/g, ''), 16), i));
  const fabric = new LearningSwitch(config.ports.length, { pinned });
  const sockets = openPorts(config);
  const reportedSendErrors = new Set<string>();

  const transmit = (pair: number, port: number, frame: Buffer): void => {
    let sent = false;
    try {
      sent = sockets[port].send(frame);
    } catch (err) {
      const key = `${port}:${(err as NodeJS.ErrnoException).code}`;
      if (!reportedSendErrors.has(key)) {
        reportedSendErrors.add(key);
        log(`wan-delay: dropping frames on ${config.ports[port].ifname}: ${(err as Error).message}`);
      }
    }
    if (sent) pairs[pair].forwarded++;
    else pairs[pair].refused++;
  };

  let armedAt = Infinity;
  const deliver = (path: number, d: Departure): void => transmit(path, d.port, d.frame);
  const timer = createPreciseTimer(() => {
    armedAt = scheduler.releaseDue(deliver);
    if (armedAt !== Infinity) timer.armAt(armedAt);
  });

  sockets.forEach((socket, ingress) => {
    const fromSite = siteOfPort[ingress];
    socket.onFrame((frame, rxNs) => {
      for (const port of fabric.egressPorts(ingress, frame, rxNs / 1e6)) {
        const toSite = siteOfPort[port];
        const pair = pairOf[fromSite][toSite];
        if (fromSite === toSite) {
          transmit(pair, port, frame);
          continue;
        }
        const departure = scheduler.enqueue(pair, { frame, port }, frame.length, rxNs);
        if (typeof departure === 'number' && departure < armedAt) {
          armedAt = departure;
          timer.armAt(departure);
        }
      }
    });
  });

  log(`wan-delay ready: ${config.ports.length} ports, ${config.paths.length} paths`);

  return {
    counters: () =>
      pairs.map(({ from, to, forwarded, refused }, i) => {
        const drops = i < config.paths.length ? scheduler.drops(i) : NEVER_QUEUED;
        return { from, to, forwarded, droppedLoss: drops.droppedLoss, droppedQueue: drops.droppedQueue + refused };
      }),
    fabric: () => ({ ...fabric.counters, stations: fabric.size }),
    close() {
      timer.close();
      for (const s of sockets) s.close();
    },
  };
}
