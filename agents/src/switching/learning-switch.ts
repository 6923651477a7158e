// Forwarding decisions of a transparent learning Ethernet switch: learn each
// source MAC's port, send known unicast to that port, flood the rest.
//
// Hardened like a switch with port security, since its ports face a WAN an attacker sits on:
// - each port learns at most `macsPerPort` stations, least recently seen evicted first, so random source
//   MACs on one port churn that port's share only and never the stations behind the others;
// - a station not seen for `ageingMs` is forgotten (and flooded to again);
// - a station seen within `ageingMs` stays where it is: a frame claiming its MAC from another port is
//   dropped (counted), so a board's MAC cannot be stolen while it is fresh;
// - `pinned` MACs (a board's own, known from the topology) belong to their port for good.

const ETH_HEADER_BYTES = 14;
const NONE: readonly number[] = [];

export interface LearningSwitchOptions {
  macsPerPort: number;
  ageingMs: number;
  /** MAC (48-bit number) -> the only port it may appear on. */
  pinned?: Map<number, number>;
}

// Linux bridge's default ageing time; a port with more stations than this behind it is not a board's.
export const DEFAULT_SWITCH_OPTIONS: LearningSwitchOptions = { macsPerPort: 1024, ageingMs: 300_000 };

export interface SwitchCounters {
  /** Frames dropped because their source MAC is fresh (or pinned) on another port. */
  macMoveRefused: number;
  /** Stations forgotten to make room on their port. */
  evicted: number;
  /** Stations forgotten because they aged out. */
  aged: number;
}

/** A learned station; intrusive links of its port's least-recently-seen list. */
class Station {
  prev: Station | null = null;
  next: Station | null = null;
  constructor(readonly mac: number, public port: number, public seenMs: number) {}
}

class PortStations {
  head: Station | null = null;
  tail: Station | null = null;
  size = 0;

  append(s: Station): void {
    s.prev = this.tail;
    s.next = null;
    if (this.tail) this.tail.next = s;
    else this.head = s;
    this.tail = s;
    this.size++;
  }

  remove(s: Station): void {
    if (s.prev) s.prev.next = s.next;
    else this.head = s.next;
    if (s.next) s.next.prev = s.prev;
    else this.tail = s.prev;
    s.prev = null;
    s.next = null;
    this.size--;
  }
}

export class LearningSwitch {
  readonly counters: SwitchCounters = { macMoveRefused: 0, evicted: 0, aged: 0 };
  private readonly stations = new Map<number, Station>();
  private readonly ports: PortStations[];
  private readonly options: LearningSwitchOptions;
  // Egress lists are preallocated so the per-frame path allocates nothing.
  private readonly floodFrom: readonly number[][];
  private readonly onlyTo: readonly number[][];

  constructor(portCount: number, options: Partial<LearningSwitchOptions> = {}) {
    this.options = { ...DEFAULT_SWITCH_OPTIONS, ...options };
    const ports = Array.from({ length: portCount }, (_, i) => i);
    this.ports = ports.map(() => new PortStations());
    this.floodFrom = ports.map((ingress) => ports.filter((p) => p !== ingress));
    this.onlyTo = ports.map((p) => [p]);
  }

  /** Stations learned now (pinned ones not counted). */
  get size(): number {
    return this.stations.size;
  }

  /** Learns from a frame received on `ingress` at `nowMs` and returns the ports it must leave by. */
  egressPorts(ingress: number, frame: Buffer, nowMs = performance.now()): readonly number[] {
    if (frame.length < ETH_HEADER_BYTES) return NONE;
    // Group bit set: broadcast/multicast destination, or an invalid source.
    if ((frame[6] & 1) === 0 && !this.learn(ingress, frame.readUIntBE(6, 6), nowMs)) return NONE;
    if ((frame[0] & 1) !== 0) return this.floodFrom[ingress];
    const port = this.portOf(frame.readUIntBE(0, 6), nowMs);
    if (port === undefined) return this.floodFrom[ingress];
    // Destination is on the segment the frame came from: it has already arrived.
    return port === ingress ? NONE : this.onlyTo[port];
  }

  /** False when the frame must be dropped: its source belongs to another port. */
  private learn(ingress: number, mac: number, nowMs: number): boolean {
    const pinnedPort = this.options.pinned?.get(mac);
    if (pinnedPort !== undefined) {
      if (pinnedPort === ingress) return true;
      this.counters.macMoveRefused++;
      return false;
    }
    const known = this.stations.get(mac);
    if (known) {
      if (known.port !== ingress) {
        if (nowMs - known.seenMs < this.options.ageingMs) {
          this.counters.macMoveRefused++;
          return false;
        }
        // Aged out: the station really moved.
        this.ports[known.port].remove(known);
        known.port = ingress;
        this.ports[ingress].append(known);
      } else {
        this.ports[ingress].remove(known);
        this.ports[ingress].append(known);
      }
      known.seenMs = nowMs;
      return true;
    }
    const port = this.ports[ingress];
    if (port.size >= this.options.macsPerPort) {
      const oldest = port.head!;
      port.remove(oldest);
      this.stations.delete(oldest.mac);
      this.counters.evicted++;
    }
    const station = new Station(mac, ingress, nowMs);
    port.append(station);
    this.stations.set(mac, station);
    return true;
  }

  private portOf(mac: number, nowMs: number): number | undefined {
    const pinnedPort = this.options.pinned?.get(mac);
    if (pinnedPort !== undefined) return pinnedPort;
    const station = this.stations.get(mac);
    if (!station) return undefined;
    if (nowMs - station.seenMs >= this.options.ageingMs) {
      this.ports[station.port].remove(station);
      this.stations.delete(mac);
      this.counters.aged++;
      return undefined;
    }
    return station.port;
  }
}
