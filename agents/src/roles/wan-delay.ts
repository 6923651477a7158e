// The WAN delay line: a learning switch across one port per board whose forwarding between sites passes
// through that directed site pair's delay queue. It replaces sch_netem, which this kernel lacks.
//
// The per-frame work runs in a native real-time process (native/wan-delay-engine.c): in this Node
// process, departures woke 1-5 ms late now and then, enough to decide near-tie races. This role checks
// the configuration, hands the engine its plan, watches it, and reads its counters from a shared file.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ConfigError } from '../config-error';
import * as libc from '../io/libc';
import { DEFAULT_MAC_AGEING_MS, DEFAULT_MACS_PER_PORT, DEFAULT_QUEUE_LIMIT, WanDelayConfig } from './wan-delay-config';

export type { WanDelayConfig } from './wan-delay-config';

/** The built engine (agents' build compiles it with the system's C compiler). */
export const WAN_DELAY_ENGINE = join(__dirname, '..', '..', 'native', 'wan-delay-engine');

export interface PairCounters {
  from: string;
  to: string;
  /** Frames handed to the egress device. */
  forwarded: number;
  droppedLoss: number;
  /** Delay queue full, or the egress device refused the frame. */
  droppedQueue: number;
}

export interface EngineCounters {
  /** Stations learnt now (pinned ones not counted). */
  stations: number;
  /** Frames dropped because their source MAC is fresh (or pinned) on another port. */
  macMoveRefused: number;
  /** Stations forgotten to make room on their port. */
  evicted: number;
  /** Stations forgotten because they aged out. */
  aged: number;
  /** Departures that left more than 1 ms after their time (the engine or its machine was late). */
  lateOver1ms: number;
  /** The latest any departure left after its time. */
  maxLateUs: number;
}

export interface WanDelay {
  /** One entry per configured path, then one per site with several ports (never delayed). */
  counters(): PairCounters[];
  /** The learning switch's (refused MAC moves, evictions, ageing) and the departures' punctuality. */
  engineCounters(): EngineCounters;
  close(): void;
}

interface Pair {
  from: string;
  to: string;
  /** Undefined for a same-site pair: sent at once. */
  shape?: WanDelayConfig['paths'][number];
}

/** Configured paths first (their index is the path's), then a same-site pair for each site with several ports. */
function pairsOf(config: WanDelayConfig, sites: string[]): Pair[] {
  const pairs: Pair[] = config.paths.map((shape) => ({ from: shape.from, to: shape.to, shape }));
  for (const site of sites) {
    if (config.ports.filter((p) => p.site === site).length > 1) pairs.push({ from: site, to: site });
  }
  return pairs;
}

/** The engine's plan: one directive per line, numbers in ns, MACs as 12 hex digits. */
function renderPlan(config: WanDelayConfig, pairs: Pair[]): string {
  const pairIndex = (from: string, to: string) => pairs.findIndex((p) => p.from === from && p.to === to);
  const lines = [
    `sizes ${config.ports.length} ${pairs.length}`,
    `queue-limit ${config.queueLimit ?? DEFAULT_QUEUE_LIMIT}`,
    `switch ${config.macsPerPort ?? DEFAULT_MACS_PER_PORT} ${config.macAgeingMs ?? DEFAULT_MAC_AGEING_MS}`,
    ...config.ports.map((p, i) => `port ${i} ${p.ifname} ${p.mac ? p.mac.replace(/:/g, '') : '-'}`),
    ...pairs.map((p, i) => {
      const s = p.shape;
      if (!s) return `pair ${i} 0 0 0 0 0`;
      const nsPerByte = s.rateMbit === undefined ? 0 : 8000 / s.rateMbit;
      return `pair ${i} 1 ${Math.round(s.delayMs * 1e6)} ${Math.round(s.jitterMs * 1e6)} ${s.lossPct / 100} ${nsPerByte}`;
    }),
  ];
  config.ports.forEach((a, i) => config.ports.forEach((b, j) => i !== j && lines.push(`route ${i} ${j} ${pairIndex(a.site, b.site)}`)));
  return `${lines.join('\n')}\n`;
}

// Counter file layout, as the engine writes it (u64 words).
const COUNTERS_MAGIC = 0x31455544524e5953n;
const HEADER_WORDS = 8;
const PAIR_WORDS = 4;

/** Undefined until the engine has mapped the file. */
function readCounters(file: string, pairs: number): BigUint64Array | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return undefined;
  }
  // A copy: a Buffer's offset into its memory need not be a multiple of 8.
  const words = new BigUint64Array(new Uint8Array(bytes).buffer, 0, Math.floor(bytes.length / 8));
  return words.length >= HEADER_WORDS + PAIR_WORDS * pairs && words[0] === COUNTERS_MAGIC ? words : undefined;
}

const ENGINE_STOP_MS = 2000;

/** Blocks until `pid` has exited (a zombie counts: its sockets are closed) or `ms` have passed. */
function waitGone(pid: number | undefined, ms: number): void {
  const tick = new Int32Array(new SharedArrayBuffer(4));
  for (const deadline = Date.now() + ms; pid !== undefined && Date.now() < deadline; Atomics.wait(tick, 0, 0, 5)) {
    let state: string;
    try {
      state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
    } catch {
      return;
    }
    if (state === 'Z') return;
  }
}

/**
 * Starts the delay line. `onEngineExit` hears of an engine that ended without being asked to (its
 * message already logged): the agent cannot delay anything without it.
 */
export function startWanDelay(config: WanDelayConfig, log: (message: string) => void, onEngineExit: (code: number) => void): WanDelay {
  config.ports.forEach((p, i) => {
    if (libc.ifNameToIndex(p.ifname) === 0) throw new ConfigError(`roles.wan-delay.ports[${i}].ifname: interface '${p.ifname}' not found in this network namespace`);
  });
  if (!existsSync(WAN_DELAY_ENGINE)) throw new Error(`the delay line's engine ${WAN_DELAY_ENGINE} is not built: run npm run build (it needs gcc)`);
  const sites = [...new Set(config.ports.map((p) => p.site))];
  const pairs = pairsOf(config, sites);
  const dir = mkdtempSync(join(tmpdir(), 'synrace-wan-delay-'));
  const planFile = join(dir, 'plan');
  const countersFile = join(dir, 'counters');
  writeFileSync(planFile, renderPlan(config, pairs));

  let closing = false;
  const engine: ChildProcess = spawn(WAN_DELAY_ENGINE, [planFile, countersFile], { stdio: ['pipe', 'pipe', 'pipe'] });
  let lastCounters: BigUint64Array | undefined;
  // After close the file is gone: the last reading stands.
  const counterWords = (): BigUint64Array | undefined => {
    if (!closing) lastCounters = readCounters(countersFile, pairs.length) ?? lastCounters;
    return lastCounters;
  };
  createInterface({ input: engine.stdout! }).on('line', (line) => {
    if (line === 'ready') log(`wan-delay ready: ${config.ports.length} ports, ${config.paths.length} paths (engine pid ${engine.pid})`);
    // A port is lazy when all its paths are long: its frames wait for the engine's tick rather than wake it.
    if (line.startsWith('lazy')) log(`wan-delay lazy ports: ${line.slice('lazy'.length).trim() || 'none'}`);
  });
  createInterface({ input: engine.stderr! }).on('line', (line) => log(`wan-delay: ${line}`));
  engine.on('exit', (code, signal) => {
    if (closing) return;
    log(`wan-delay: engine ended (${signal ?? `exit ${code}`})`);
    rmSync(dir, { recursive: true, force: true });
    onEngineExit(code ?? 1);
  });

  return {
    counters: () => {
      const words = counterWords();
      return pairs.map(({ from, to }, i) => {
        const at = HEADER_WORDS + i * PAIR_WORDS;
        const word = (k: number) => (words ? Number(words[at + k]) : 0);
        return { from, to, forwarded: word(0), droppedLoss: word(1), droppedQueue: word(2) + word(3) };
      });
    },
    engineCounters: () => {
      const words = counterWords();
      const word = (k: number) => (words ? Number(words[k]) : 0);
      return { stations: word(2), macMoveRefused: word(3), evicted: word(4), aged: word(5), lateOver1ms: word(6), maxLateUs: Math.round(word(7) / 1000) };
    },
    close() {
      counterWords();
      closing = true;
      engine.kill('SIGTERM');
      // Its sockets must be closed before this agent is gone: a successor's engine would otherwise share the ports.
      waitGone(engine.pid, ENGINE_STOP_MS);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
