// The gateway's kernel path: which connections its two classifiers carry, and the flow map they share
// with the agent. The agent decides (the checks, the table), and in B and C the race; in A it writes each
// race into the map as pending, the WAN classifier takes its first answer, and the agent adopts what the
// classifier decided (from the winner's clone, or from the map when another packet of the connection
// comes first). Once a connection's race is won it is carried here, and it leaves again on the first FIN
// the agent sees, when its table entry ends (a believed RST, idle expiry, a new connection on its socket),
// or when the path is switched off. While it is carried, and after its FIN until the entry ends, the
// losers' plain answers get their RST from the WAN classifier, counted in a state map.
// The links belong to this process: an agent that dies (SIGKILL, crash) takes its classifiers with it,
// and its connections fall back to the steering chain.
import { attachTcx, BpfMap, loadClassifier } from '../io/bpf';
import { close } from '../io/libc';
import { interfaceMtu } from '../io/net-interface';
import { monotonicNs } from '../io/clock';
import type { Removal, TableEntry } from '../table';
import {
  CACHED_KEY_SIZE, CACHED_VALUE, clientSideProgram, FLOW_CLOSING, FLOW_KEY_SIZE, FLOW_MODES, FLOW_PENDING, FLOW_VALUE, GATEWAY_SLOT_COUNT, GATEWAY_SLOTS, serverSideProgram, START_MODES,
  type FlowMode, type PlainAnswerers, type StartMode,
} from './gateway-programs';
import { SlotArray } from './slot-array';

export interface KernelPathOptions {
  lanIndex: number;
  wanInterface: string;
  wanIndex: number;
  markBit: number;
  maxFlows: number;
  /** How many remembered winners the mirror of the winner cache holds (its maxEntries; 1 without a cache). */
  maxCachedWinners: number;
  /** Whose plain answers the WAN classifier judges, per server: who may win a pending race, whose late answers it resets. */
  plainAnswerers: PlainAnswerers[];
  webPorts: number[];
  /** The gateway's own addresses: a start packet to one of them is not tagged. */
  localAddresses: number[];
  maxMss: number;
  /** Marks the clones for the agent's queue of them: start packets the LAN classifier tagged, answers that won at the WAN's. */
  cloneMarkBit: number;
}

/** A FIN seen by the agent, the entry's end in the table, the path switched off, or a second server on one client socket and port. */
export type LeaveReason = 'fin' | Removal | 'switched-off' | 'shared-socket';

export interface KernelPathDump {
  on: boolean;
  /** Carried now. */
  flows: number;
  /** Back with the agent for their close; the WAN classifier still resets their race's late answers. */
  closing: number;
  carried: number;
  /** Won connections the map would not take (the agent carried them). */
  mapRefusals: number;
  left: Record<LeaveReason, number>;
  /** Losing answers of carried connections the WAN classifier reset, with no agent woken. */
  lateResets: number;
  /** Whether the LAN classifier tags start packets now, and whether it sends them to the winner cache's remembered winners first (A, the cache on). */
  tagging: boolean;
  cachedStarts: boolean;
  /** Start packets the LAN classifier tagged, those it sent to a remembered winner, and those it dropped because the agent's clone failed. */
  startsTagged: number;
  startsCached: number;
  startCopyFailures: number;
  /** Races pending in the map now; those the WAN classifier decided, and winners it could not copy to the agent (raced again). */
  racing: number;
  racesWon: number;
  winCopyFailures: number;
}

/** What the WAN classifier decided for a pending race: who answered first, and the sequence number after its SYN. */
export interface KernelWin {
  winner: number;
  serverNextSeq: number;
}

const flowId = (clientIp: number, clientPort: number, serverPort: number) => `${clientIp}:${clientPort}:${serverPort}`;

export class GatewayKernelPath {
  private readonly flows = new Map<string, TableEntry>();
  /** Flows back with the agent for their close, kept in the map (FLOW_CLOSING) for their race's late answers. */
  private readonly closing = new Map<string, TableEntry>();
  /** Races pending in the map (FLOW_PENDING), until the agent adopts the classifier's decision or takes them back. */
  private readonly racing = new Map<string, TableEntry>();
  private readonly key = Buffer.alloc(FLOW_KEY_SIZE);
  private readonly value = Buffer.alloc(FLOW_VALUE.size);
  private carriedTotal = 0;
  private mapRefusals = 0;
  private on = true;
  /** The agent's until it has a queue for the clones (setStartMode). */
  private startMode: StartMode = 'agent';
  private readonly cachedKey = Buffer.alloc(CACHED_KEY_SIZE);
  private readonly cachedValue = Buffer.alloc(CACHED_VALUE.size);
  private readonly left: Record<LeaveReason, number> = { fin: 0, reset: 0, expired: 0, replaced: 0, refused: 0, evicted: 0, 'switched-off': 0, 'shared-socket': 0 };

  private constructor(private readonly map: BpfMap, private readonly cachedWinners: BpfMap, private readonly slots: SlotArray, private readonly fds: number[]) {}

  /** Loads and attaches both classifiers; throws, having closed whatever it made, when the kernel cannot. */
  static open(options: KernelPathOptions): GatewayKernelPath {
    const map = BpfMap.create('hash', 'synrace_flows', FLOW_KEY_SIZE, FLOW_VALUE.size, options.maxFlows);
    const fds: number[] = [];
    let slots: SlotArray | undefined;
    let cachedWinners: BpfMap | undefined;
    try {
      slots = SlotArray.create('synrace_gateway', GATEWAY_SLOT_COUNT);
      cachedWinners = BpfMap.create('hash', 'synrace_cached', CACHED_KEY_SIZE, CACHED_VALUE.size, options.maxCachedWinners);
      const programOptions = {
        flowMapFd: map.fd, cachedMapFd: cachedWinners.fd, stateMapFd: slots.fd, wanIndex: options.wanIndex, plainAnswerers: options.plainAnswerers, markBit: options.markBit,
        wanMtu: interfaceMtu(options.wanInterface), lanIndex: options.lanIndex, webPorts: options.webPorts, localAddresses: options.localAddresses, maxMss: options.maxMss,
        cloneMarkBit: options.cloneMarkBit,
      };
      const client = loadClassifier('synrace_to_srv', clientSideProgram(programOptions));
      fds.push(client);
      const server = loadClassifier('synrace_to_cli', serverSideProgram(programOptions));
      fds.push(server);
      fds.push(attachTcx(client, options.lanIndex, 'ingress'));
      fds.push(attachTcx(server, options.wanIndex, 'ingress'));
    } catch (err) {
      fds.forEach((fd) => close(fd));
      slots?.close();
      cachedWinners?.close();
      map.close();
      throw err;
    }
    return new GatewayKernelPath(map, cachedWinners, slots, fds);
  }

  /** Carries an entry whose race was won; false when switched off, or when its client socket and port are not unique. */
  carry(entry: TableEntry, mode: FlowMode): boolean {
    if (!this.on) return false;
    const id = flowId(entry.clientIp, entry.clientPort, entry.serverPort);
    const other = this.flows.get(id);
    if (other && other !== entry) {
      // Two servers behind one client socket and port: the classifiers could not tell their answers apart.
      this.leave(other, 'shared-socket');
      return false;
    }
    // A race still pending under the key (another server's) is the agent's from now on.
    this.racing.delete(id);
    const v = this.fillValue(entry, FLOW_MODES[mode], entry.windowScaled ? entry.clientWindowShift : 0);
    v.writeUInt32BE(entry.winner ?? entry.serverIp, FLOW_VALUE.winner);
    v.writeUInt32LE(entry.serverNextSeq ?? 0, FLOW_VALUE.serverNextSeq);
    v.writeUInt32LE(Math.min(entry.clientWindow, 0xffffffff), FLOW_VALUE.clientWindow);
    if (!this.write()) return false;
    // A closing flow under the same key was overwritten: its late answers are the agent's again.
    this.closing.delete(id);
    this.flows.set(id, entry);
    entry.path = 'kernel';
    this.carriedTotal++;
    return true;
  }

  /**
   * Puts a pending entry's race in the map for the WAN classifier to decide (a cached start packet's too:
   * its remembered winner answers first, or the race after its deadline does); false when switched off, or
   * when the race is in the map already or another entry holds the key. The window shift is the client's, as if the winner will scale too
   * (every stack that answers a scaled SYN does); adopt() puts it right when the winner did not.
   */
  race(entry: TableEntry): boolean {
    if (!this.on) return false;
    const id = flowId(entry.clientIp, entry.clientPort, entry.serverPort);
    const holder = this.flows.get(id) ?? this.closing.get(id) ?? this.racing.get(id);
    if (holder) return false;
    this.fillValue(entry, FLOW_PENDING, Math.max(entry.clientWindowShift, 0));
    if (!this.write()) return false;
    this.racing.set(id, entry);
    return true;
  }

  /** The classifier's decision of an entry's pending race, left in the map; undefined while it is pending or not in the map. */
  decision(entry: TableEntry): KernelWin | undefined {
    if (this.racingId(entry) === undefined || !this.map.lookup(this.key, this.value)) return undefined;
    return this.readWin();
  }

  /**
   * For the agent about to judge a packet of a pending entry itself: the classifier's decision, if it made
   * one; otherwise the race leaves the map in the same step (so no answer can take it there afterwards) and
   * is the agent's.
   */
  takeRace(entry: TableEntry): KernelWin | undefined {
    const id = this.racingId(entry);
    if (id === undefined) return undefined;
    if (!this.map.take(this.key, this.value)) {
      this.racing.delete(id);
      return undefined;
    }
    const win = this.readWin();
    if (win) this.map.update(this.key, this.value);
    else this.racing.delete(id);
    return win;
  }

  /**
   * The agent has recorded the classifier's winner in its table: the connection is carried from here. A
   * winner that did not scale its window gets the unscaled window the agent tracks. False when the race is
   * no longer in the map (the path was switched off meanwhile): the agent carries the connection.
   */
  adopt(entry: TableEntry): boolean {
    const id = this.racingId(entry);
    if (id === undefined) return false;
    this.racing.delete(id);
    if (!this.map.lookup(this.key, this.value) || !this.readWin()) return false;
    if (!entry.windowScaled && this.value.readUInt32LE(FLOW_VALUE.windowShift) !== 0) {
      this.value.writeUInt32LE(0, FLOW_VALUE.windowShift);
      this.map.update(this.key, this.value);
    }
    this.flows.set(id, entry);
    entry.path = 'kernel';
    this.carriedTotal++;
    return true;
  }

  /** The entries whose races are pending in the map. */
  races(): TableEntry[] {
    return [...this.racing.values()];
  }

  /** Copies what the classifiers learnt (sequence, window, packets, last segment) into the entry. */
  sync(entry: TableEntry): void {
    if (entry.path !== 'kernel') return;
    this.fillKey(entry);
    if (!this.map.lookup(this.key, this.value)) return;
    const v = this.value;
    entry.serverNextSeq = v.readUInt32LE(FLOW_VALUE.serverNextSeq);
    entry.clientWindow = v.readUInt32LE(FLOW_VALUE.clientWindow);
    entry.kernelPackets.toServer = Number(v.readBigUInt64LE(FLOW_VALUE.toServerPackets));
    entry.kernelPackets.toClient = Number(v.readBigUInt64LE(FLOW_VALUE.toClientPackets));
    const idleMs = (monotonicNs() - Number(v.readBigUInt64LE(FLOW_VALUE.lastSeenNs))) / 1e6;
    entry.kernelLastSeen = Date.now() - Math.max(0, idleMs);
  }

  /** On a FIN the flow stays in the map, closing, until its table entry ends; on anything else it goes. */
  leave(entry: TableEntry, reason: LeaveReason): void {
    const id = flowId(entry.clientIp, entry.clientPort, entry.serverPort);
    if (this.racing.get(id) === entry) {
      this.racing.delete(id);
      this.fillKey(entry);
      this.map.delete(this.key);
      return;
    }
    if (entry.path !== 'kernel') {
      if (reason !== 'fin' && this.closing.get(id) === entry) {
        this.closing.delete(id);
        this.fillKey(entry);
        this.map.delete(this.key);
      }
      return;
    }
    this.sync(entry);
    this.fillKey(entry);
    if (reason === 'fin' && this.map.lookup(this.key, this.value)) {
      this.value.writeUInt32LE(FLOW_CLOSING, FLOW_VALUE.mode);
      this.map.update(this.key, this.value);
      this.closing.set(id, entry);
    } else {
      this.map.delete(this.key);
    }
    this.flows.delete(id);
    entry.path = 'agent';
    this.left[reason]++;
  }

  /** Reads every carried entry's state from the map, for a dump. */
  syncAll(): void {
    for (const entry of this.flows.values()) this.sync(entry);
  }

  /** When a segment of the entry last crossed, agent or kernel, on the table's clock. */
  lastSeen(entry: TableEntry): number {
    if (entry.path !== 'kernel') return entry.lastSeen;
    this.sync(entry);
    return Math.max(entry.lastSeen, entry.kernelLastSeen);
  }

  /** Off: every carried connection goes back to the agent, and new ones stay there; so do start packets. */
  setEnabled(on: boolean): void {
    this.on = on;
    this.writeStartMode();
    if (!on) for (const entry of [...this.flows.values(), ...this.closing.values(), ...this.racing.values()]) this.leave(entry, 'switched-off');
  }

  /** What the LAN classifier does with start packets while the path is on (START_MODES). */
  setStartMode(mode: StartMode): void {
    this.startMode = mode;
    this.writeStartMode();
  }

  /** The winner cache remembered a winner: the LAN classifier sends start packets to it until `ttlLeftMs` has passed. */
  mirrorCachedWinner(server: number, port: number, winner: number, ttlLeftMs: number): void {
    this.fillCachedKey(server, port);
    this.cachedValue.fill(0).writeUInt32BE(winner, CACHED_VALUE.winner);
    this.cachedValue.writeBigUInt64LE(BigInt(monotonicNs() + Math.round(ttlLeftMs * 1e6)), CACHED_VALUE.expiresNs);
    try {
      this.cachedWinners.update(this.cachedKey, this.cachedValue);
    } catch {
      // As large as the cache, so full only if the kernel is short of memory: the start packets get tagged, and raced.
      this.mapRefusals++;
    }
  }

  /** The winner cache forgot a winner: start packets to its server and port are raced again. */
  forgetCachedWinner(server: number, port: number): void {
    this.fillCachedKey(server, port);
    this.cachedWinners.delete(this.cachedKey);
  }

  dump(): KernelPathDump {
    return {
      on: this.on, flows: this.flows.size, closing: this.closing.size, carried: this.carriedTotal, mapRefusals: this.mapRefusals, left: { ...this.left },
      lateResets: this.slots.read(GATEWAY_SLOTS.lateResets),
      tagging: this.slots.read(GATEWAY_SLOTS.starts) !== START_MODES.agent,
      cachedStarts: this.slots.read(GATEWAY_SLOTS.starts) === START_MODES.cached,
      startsTagged: this.slots.read(GATEWAY_SLOTS.startsTagged),
      startsCached: this.slots.read(GATEWAY_SLOTS.startsCached),
      startCopyFailures: this.slots.read(GATEWAY_SLOTS.startCopyFailures),
      racing: this.racing.size,
      racesWon: this.slots.read(GATEWAY_SLOTS.racesWon),
      winCopyFailures: this.slots.read(GATEWAY_SLOTS.winCopyFailures),
    };
  }

  close(): void {
    this.fds.forEach((fd) => close(fd));
    this.map.close();
    this.cachedWinners.close();
    this.slots.close();
    for (const entry of this.flows.values()) entry.path = 'agent';
    this.flows.clear();
    this.closing.clear();
    this.racing.clear();
  }

  private writeStartMode(): void {
    this.slots.write(GATEWAY_SLOTS.starts, BigInt(START_MODES[this.on ? this.startMode : 'agent']));
  }

  private fillCachedKey(server: number, port: number): void {
    this.cachedKey.writeUInt32BE(server, 0);
    this.cachedKey.writeUInt16BE(port, 4);
  }

  /** The flow's key and a fresh value: the server, the mode and window shift, the start packet's acknowledgement, now. */
  private fillValue(entry: TableEntry, mode: number, windowShift: number): Buffer {
    this.fillKey(entry);
    const v = this.value.fill(0);
    v.writeUInt32BE(entry.serverIp, FLOW_VALUE.serverIp);
    v.writeUInt32LE(mode, FLOW_VALUE.mode);
    v.writeUInt32LE(windowShift, FLOW_VALUE.windowShift);
    v.writeBigUInt64LE(BigInt(monotonicNs()), FLOW_VALUE.lastSeenNs);
    v.writeUInt32LE((entry.isn + 1) >>> 0, FLOW_VALUE.startAck);
    return v;
  }

  /** Writes the value fillValue made; false when the map refuses it. */
  private write(): boolean {
    try {
      this.map.update(this.key, this.value);
      return true;
    } catch {
      // The map is as large as the table, so it is full only if the kernel is short of memory: the agent carries on.
      this.mapRefusals++;
      return false;
    }
  }

  /** The entry's flow id while its race is pending in the map (the key filled), else undefined. */
  private racingId(entry: TableEntry): string | undefined {
    const id = flowId(entry.clientIp, entry.clientPort, entry.serverPort);
    if (this.racing.get(id) !== entry) return undefined;
    this.fillKey(entry);
    return id;
  }

  /** The value just read, as a decided race; undefined while pending (or not a race any more). */
  private readWin(): KernelWin | undefined {
    const mode = this.value.readUInt32LE(FLOW_VALUE.mode);
    if (mode !== FLOW_MODES.pass && mode !== FLOW_MODES.translate) return undefined;
    return { winner: this.value.readUInt32BE(FLOW_VALUE.winner), serverNextSeq: this.value.readUInt32LE(FLOW_VALUE.serverNextSeq) };
  }

  private fillKey(entry: TableEntry): void {
    this.key.writeUInt32BE(entry.clientIp, 0);
    this.key.writeUInt16BE(entry.clientPort, 4);
    this.key.writeUInt16BE(entry.serverPort, 6);
  }
}
