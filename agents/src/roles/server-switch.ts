// The server switch (P300): a tagged start packet for replicatable content is
// copied, encapsulated, to every replica, and the original goes on to the origin.
// In the synchronized race mode each copy is held so all candidates get theirs
// at the same moment, and the one nearest the client answers first; in the bounded
// mode no copy is held longer than a budget, so candidates farther than that race unheld.
//
// Only a tag that arrives from a client gateway counts (the frame's link-layer source is the MAC the
// switch's neighbour table holds for one of the configured gateway addresses), and each gateway's
// fan-out is a token bucket: SYNs over its budget, or tagged by anyone else, go to the origin alone.
// With the kernel path, the plain race's fan-out runs in a classifier with the same checks and its own
// bucket (kernel-path/switch-programs.ts); what it does not take comes here as before.
import { execFile, execFileSync } from 'node:child_process';
import { encapsulate, ipToString, parseIp, readTag, TcpFlag } from '../packet';
import { addKernelCount, Counters } from '../protocol/counters';
import { PacketParser } from '../protocol/packet-parser';
import { createDeadlineQueue } from '../io/deadline-queue';
import { keepReceiveStampsOn } from '../io/receive-stamps';
import { RawSender } from '../protocol/raw-sender';
import { openSteeredQueue, type PacketIn, type Verdicts } from '../protocol/steered-queue';
import { START_PACKET_MATCH, SWITCH_STEERING, webPortsMatch } from '../protocol/steering';
import type { RaceMode } from '../race-mode';
import { SwitchKernelPath } from '../kernel-path/switch-kernel-path';
import type { OriginServer, ServerSwitchConfig } from './server-switch-config';

/** How often the gateways' link-layer addresses are read again from the neighbour table. */
const NEIGHBOUR_REFRESH_MS = 5000;

export interface ServerSwitch {
  counters(): Record<string, unknown>;
  setRaceMode(mode: RaceMode): void;
  setHolds(holds: Map<number, number>): void;
  close(): void;
}

/** The switch's verdicts: the original may also go on after a hold (synchronized race). */
export interface SwitchVerdicts extends Verdicts {
  passAfter(ms: number): void;
}

/** A token bucket: `rate` tokens per second up to `burst`, starting full. */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(private readonly rate: number, private readonly burst: number, now: number) {
    this.tokens = burst;
    this.at = now;
  }

  /** Takes a token at `now` (ms) if there is one. */
  take(now: number): boolean {
    if (now > this.at) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
      this.at = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

interface Gateway {
  address: number;
  bucket: TokenBucket;
  fannedOut: number;
  overBudget: number;
}

export interface SwitchCore {
  fromWan(p: PacketIn, v: SwitchVerdicts): void;
  /** Which link-layer address each gateway address has now (from the neighbour table). */
  setGatewayLinks(links: Map<number, number>): void;
  /** A tagged SYN came from a link-layer address no gateway has; the runtime may refresh the neighbours. */
  onUnknownSender?: () => void;
  setRaceMode(mode: RaceMode): void;
  /** New synchronized holds (a geography changed live); the bounded race's cut follows. */
  setHolds(holds: Map<number, number>): void;
  readonly raceMode: RaceMode;
  gatewayCounters(): Record<string, { fannedOut: number; overBudget: number; linkLayer: string | null }>;
}

/**
 * `send` sends a packet the switch originates (the encapsulated copies), `later` runs a function after
 * a hold, `now` is the buckets' clock in ms.
 */
export function createSwitchCore(config: ServerSwitchConfig, counters: Counters, send: (packet: Buffer, dst: number) => void, later: (ms: number, fn: () => void) => void, now: () => number): SwitchCore {
  const parser = new PacketParser();
  const webPorts = new Set(config.webPorts);
  const origins = new Map<number, OriginServer>(config.origins.map((o) => [o.address, o]));
  const gateways = new Map<number, Gateway>(config.gateways.map((address) => [address, { address, bucket: new TokenBucket(config.fanOutLimit.rate, config.fanOutLimit.burst, now()), fannedOut: 0, overBudget: 0 }]));
  let gatewayOfLink = new Map<number, Gateway>();
  let linkOf = new Map<number, number>();
  let raceMode = config.raceMode;

  let holdMs = config.holdMs;
  const cutOf = (holds: Map<number, number>) => Math.max(0, Math.max(0, ...holds.values()) - config.holdBudgetMs);
  let boundedCut = cutOf(holdMs);
  const holdOf = (candidate: number): number => {
    if (raceMode === 'plain') return 0;
    const hold = holdMs.get(candidate) ?? 0;
    return raceMode === 'synchronized' ? hold : Math.max(0, hold - boundedCut);
  };

  function originOnly(reason: string, v: Verdicts): void {
    counters.add(`syn-to-origin-only-${reason}`);
    v.pass();
  }

  const core: SwitchCore = {
    fromWan(p, v) {
      const kind = parser.parse(p.payload);
      const { ip, tcp } = parser;
      if (kind === 'malformed') {
        counters.add(`dropped-${parser.problem}`);
        return v.drop();
      }
      if ((kind !== 'tcp' && kind !== 'tcp-fragment') || (tcp.flags & (TcpFlag.SYN | TcpFlag.ACK)) !== TcpFlag.SYN || !webPorts.has(tcp.dstPort)) {
        counters.add('not-a-start-packet-passed');
        return v.pass();
      }
      if (kind === 'tcp-fragment') {
        counters.add('fragment-passed');
        return v.pass();
      }
      const origin = origins.get(ip.dst);
      if (!origin) return originOnly('unknown-server', v);
      const tag = readTag(p.payload, tcp);
      if (tag !== 'permissible') return originOnly(tag, v);
      if (!origin.replicatablePorts.includes(tcp.dstPort) || origin.replicas.length === 0) return originOnly('not-replicatable', v);
      const gateway = gatewayOfLink.get(p.hwSource);
      if (!gateway) {
        core.onUnknownSender?.();
        return originOnly('tag-from-non-gateway', v);
      }
      if (!gateway.bucket.take(now())) {
        gateway.overBudget++;
        return originOnly('fan-out-over-budget', v);
      }
      gateway.fannedOut++;
      counters.add('syn-fanned-out');
      for (const replica of origin.replicas) {
        const copy = encapsulate(p.payload, ip, config.switchAddress, replica);
        if (!copy.ok) {
          counters.add(`copy-not-sent-${copy.reason}`);
          continue;
        }
        const hold = holdOf(replica);
        if (hold > 0) later(hold, () => send(copy.packet, replica));
        else send(copy.packet, replica);
        counters.add('copies-sent');
      }
      const hold = holdOf(ip.dst);
      if (hold > 0) return v.passAfter(hold);
      v.pass();
    },
    setGatewayLinks(links) {
      linkOf = new Map();
      gatewayOfLink = new Map();
      for (const [address, link] of links) {
        const gateway = gateways.get(address);
        if (!gateway) continue;
        linkOf.set(address, link);
        gatewayOfLink.set(link, gateway);
      }
    },
    setRaceMode(mode) {
      raceMode = mode;
    },
    setHolds(holds) {
      holdMs = holds;
      boundedCut = cutOf(holds);
    },
    get raceMode() {
      return raceMode;
    },
    gatewayCounters() {
      return Object.fromEntries([...gateways.values()].map((g) => {
        const link = linkOf.get(g.address);
        return [ipToString(g.address), { fannedOut: g.fannedOut, overBudget: g.overBudget, linkLayer: link === undefined ? null : macToString(link) }];
      }));
    },
  };
  return core;
}

/** The origins' addresses as one iptables destination list. */
function originDestinations(origins: OriginServer[]): string {
  return origins.map((o) => `${ipToString(o.address)}/32`).join(',');
}

export function macToString(mac: number): string {
  return mac.toString(16).padStart(12, '0').replace(/(..)(?!$)/g, '$1:');
}

/** Parses `ip -j neigh show dev <wan>`: address -> link-layer address, for entries that have one. */
export function neighbourLinks(json: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const n of JSON.parse(json || '[]') as { dst?: string; lladdr?: string; state?: string[] }[]) {
    const address = n.dst === undefined ? null : parseIp(n.dst);
    if (address === null || !n.lladdr || n.state?.includes('FAILED') || n.state?.includes('INCOMPLETE')) continue;
    out.set(address, parseInt(n.lladdr.replace(/:/g, ''), 16));
  }
  return out;
}

const NS_PER_MS = 1e6;

export function startServerSwitch(config: ServerSwitchConfig, log: (message: string) => void): ServerSwitch {
  const counters = new Counters();
  const sender = new RawSender(counters);
  // Holds end on the precise timer: setTimeout's lateness would be added to every synchronized handshake.
  // They count from the start packet's arrival at the board, as the predictor counts them, so the agent's
  // own wake-up (and any stall of it shorter than the hold) is not added to the held candidates' answers.
  const holdEnds = createDeadlineQueue();
  const stopStamps = keepReceiveStampsOn();
  let arrivedNs = 0;
  const holdFromArrival = (ms: number, fn: () => void): void => {
    holdEnds.at(arrivedNs + ms * NS_PER_MS, fn);
  };
  const core = createSwitchCore(config, counters, (packet, dst) => sender.send(packet, dst), holdFromArrival, Date.now);
  const kernelPath = config.kernelPath ? openKernelPath(config, counters, log) : undefined;
  kernelPath?.setPlain(core.raceMode === 'plain');
  const setGatewayLinks = (links: Map<number, number>): void => {
    core.setGatewayLinks(links);
    kernelPath?.setGatewayLinks(new Map(config.gateways.flatMap((address, index) => (links.has(address) ? [[index, links.get(address)!]] : []))));
  };
  const neighbours = ['-j', 'neigh', 'show', 'dev', config.wanInterface];
  try {
    setGatewayLinks(neighbourLinks(execFileSync('ip', neighbours, { encoding: 'utf8' })));
  } catch (err) {
    kernelPath?.close();
    holdEnds.close();
    stopStamps();
    sender.close();
    throw err;
  }
  let refreshing = false;
  let lastRefresh = Date.now();
  const refresh = (): void => {
    if (refreshing) return;
    refreshing = true;
    lastRefresh = Date.now();
    execFile('ip', neighbours, { encoding: 'utf8' }, (err, stdout) => {
      refreshing = false;
      if (!err) setGatewayLinks(neighbourLinks(stdout));
    });
  };
  // A gateway whose neighbour entry is new is learnt within a second of its first tagged SYN.
  core.onUnknownSender = () => {
    if (Date.now() - lastRefresh >= 1000) refresh();
  };
  const refresher = setInterval(refresh, NEIGHBOUR_REFRESH_MS);

  let queue;
  try {
    queue = openSteeredQueue(SWITCH_STEERING, [
      // Only start packets to an origin: the rest of each connection is the kernel's alone. An origin
      // may be this board's own address (switch and origin on one board), so locality is not a test.
      { match: ['-i', config.wanInterface, '-d', originDestinations(config.origins), '-p', 'tcp', ...START_PACKET_MATCH, ...webPortsMatch(config.webPorts, 'dport')], queue: SWITCH_STEERING.startQueue },
    ], log);
  } catch (err) {
    clearInterval(refresher);
    kernelPath?.close();
    holdEnds.close();
    stopStamps();
    sender.close();
    throw err;
  }
  const steered = queue;
  let verdicts: SwitchVerdicts | undefined;
  steered.onPacket((p, v) => {
    verdicts ??= {
      pass: v.pass,
      rewritten: v.rewritten,
      drop: v.drop,
      passAfter(ms) {
        const h = steered.hold();
        holdFromArrival(ms, () => steered.release(h));
      },
    };
    arrivedNs = p.receivedNs;
    core.fromWan(p, verdicts);
  });
  log(`server-switch ready: ${config.origins.length} origin(s), ${config.origins.reduce((n, o) => n + o.replicas.length, 0)} replica(s), ${config.gateways.length} gateway(s), fan-out ${config.fanOutLimit.rate}/s burst ${config.fanOutLimit.burst}, ${core.raceMode} race`);

  return {
    counters: () => ({
      ...withKernelCounts(counters, config, kernelPath), ...steered.counters(), gateways: gatewayCountersWithKernel(core, config, kernelPath), raceMode: core.raceMode,
      kernelPath: kernelPath?.dump() ?? (config.kernelPath ? 'unavailable' : 'not-configured'),
    }),
    setRaceMode(mode) {
      core.setRaceMode(mode);
      kernelPath?.setPlain(mode === 'plain');
      log(`server-switch: race mode ${mode}`);
    },
    setHolds(holds) {
      core.setHolds(holds);
      log(`server-switch: synchronized holds ${[...holds].map(([a, ms]) => `${ipToString(a)} ${ms} ms`).join(', ')}`);
    },
    close() {
      clearInterval(refresher);
      // Held originals are handed back by the queue; held copies are simply not sent.
      holdEnds.close();
      stopStamps();
      steered.close();
      kernelPath?.close();
      sender.close();
    },
  };
}

/** The fan-out classifier, or undefined (logged and counted) where the kernel has no tcx or refuses it. */
function openKernelPath(config: ServerSwitchConfig, counters: Counters, log: (message: string) => void): SwitchKernelPath | undefined {
  try {
    const path = SwitchKernelPath.open({
      wanInterface: config.wanInterface, switchAddress: config.switchAddress, webPorts: config.webPorts, origins: config.origins, markBit: SWITCH_STEERING.markBit,
      gatewayCount: config.gateways.length, rate: config.fanOutLimit.rate, burst: config.fanOutLimit.burst,
    });
    log(`server-switch: kernel path on (tcx on ${config.wanInterface}): the plain race fans out there`);
    return path;
  } catch (err) {
    counters.add('kernel-path-unavailable');
    log(`server-switch: kernel path unavailable, the agent fans out every start packet itself: ${(err as Error).message}`);
    return undefined;
  }
}

/** The role's counters with the classifier's fan-outs, copies and over-budget SYNs added: both are the switch's. */
function withKernelCounts(counters: Counters, config: ServerSwitchConfig, path: SwitchKernelPath | undefined): Record<string, number> {
  const out = counters.toJSON();
  if (!path) return out;
  const add = (name: string, by: number): void => addKernelCount(out, name, by);
  const perGateway = config.gateways.map((_, index) => path.gatewayCounts(index));
  add('syn-fanned-out', perGateway.reduce((n, g) => n + g.fannedOut, 0));
  add('syn-to-origin-only-fan-out-over-budget', perGateway.reduce((n, g) => n + g.overBudget, 0));
  const { copies, copyFailures } = path.dump();
  add('copies-sent', copies);
  add('copy-not-sent-kernel-refused', copyFailures);
  return out;
}

/** Each gateway's fan-outs and over-budget SYNs, the agent's and the classifier's together. */
function gatewayCountersWithKernel(core: SwitchCore, config: ServerSwitchConfig, path: SwitchKernelPath | undefined): ReturnType<SwitchCore['gatewayCounters']> {
  const byAgent = core.gatewayCounters();
  if (!path) return byAgent;
  config.gateways.forEach((address, index) => {
    const entry = byAgent[ipToString(address)];
    const kernel = path.gatewayCounts(index);
    if (!entry) return;
    entry.fannedOut += kernel.fannedOut;
    entry.overBudget += kernel.overBudget;
  });
  return byAgent;
}
