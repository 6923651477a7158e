import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { addressOf, boardsWithRole, interfaceOn, predict, type DelayProfile, type ModeOutcome, type PredictedMode, type SitePrediction, type Topology } from '@synrace/netem-profiles';
import type { TableDump } from '@synrace/agents';
import type { Lab } from '@synrace/orchestrator';

/** Where the suites leave pcaps: a `synrace test` run folder, or artifacts/ at the repository root. */
export const ARTIFACTS = process.env.SYNRACE_ARTIFACTS ?? join(__dirname, '..', '..', '..', 'artifacts');

/** Every role's counters of a board in one record (the roles' counter names do not collide). */
export async function counters(lab: Lab, board: string): Promise<Record<string, number>> {
  const all = await lab.agent(board).counters();
  return Object.assign({}, ...Object.values(all)) as Record<string, number>;
}

/** How much a counter grew while `work` ran; a dotted name reaches into a nested group (table.created). */
/**
 * How much a counter grew over the work. With `awaiting`, the counter is read again (for up to 5 s) until it has
 * grown that much: a packet sent from another board may still be crossing a loaded host's delay line.
 */
export async function growth(lab: Lab, board: string, name: string, work: () => Promise<unknown>, awaiting = 0): Promise<number> {
  const read = async () => name.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], await counters(lab, board)) as number | undefined;
  const before = (await read()) ?? 0;
  await work();
  const deadline = Date.now() + 5000;
  let grown = ((await read()) ?? 0) - before;
  while (grown < awaiting && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    grown = ((await read()) ?? 0) - before;
  }
  return grown;
}

export interface Fetch { servedBy: string | null; localPort: number; code: number; connectMs: number }

/** One fresh connection with curl on a client host, as an unmodified client makes it. */
export async function fetchFrom(lab: Lab, host: string, url: string, extra = ''): Promise<Fetch> {
  const { stdout } = await lab.exec(host, `curl -s -m 10 ${extra} -o /dev/null -D - -w 'result %{local_port} %{http_code} %{time_connect}\\n' ${url} | tr -d '\\r'`, 30_000);
  const served = /^x-served-by:\s*(\S+)/im.exec(stdout);
  const result = /^result (\d+) (\d+) ([\d.]+)/m.exec(stdout);
  if (!result) throw new Error(`curl on ${host} printed no result line:\n${stdout}`);
  return { servedBy: served?.[1] ?? null, localPort: Number(result[1]), code: Number(result[2]), connectMs: Number(result[3]) * 1000 };
}

/** The predictor's view of a lab with some candidates gone (dead or busy): who should win then. */
export function predictWithout(topology: Topology, profile: DelayProfile, gone: string[]): SitePrediction[] {
  return predict({ ...topology, boards: topology.boards.filter((b) => !gone.includes(b.name)) }, profile);
}

export function predictionFor(predictions: SitePrediction[], site: string): SitePrediction {
  const p = predictions.find((x) => x.clientSite === site);
  if (!p) throw new Error(`no prediction for client site ${site}`);
  return p;
}

/** A site's outcome in one race mode. */
export function outcomeIn(p: SitePrediction, mode: PredictedMode): ModeOutcome {
  return p.modes.find((m) => m.mode === mode)!;
}

/**
 * A client site whose winner in the race mode is a replica: the interesting one for dead and busy tests. Of
 * those, the one whose races are most decisive (the widest margin over the runner-up, with the winner
 * and without it), so that what a test proves does not hang on a few milliseconds of the host's load.
 */
export function siteWonByReplica(topology: Topology, profile: DelayProfile, mode: PredictedMode = 'plain'): SitePrediction {
  const replicas = new Set(boardsWithRole(topology, 'replica').map((b) => b.name));
  const won = predict(topology, profile).filter((x) => replicas.has(outcomeIn(x, mode).winner));
  if (won.length === 0) throw new Error(`the profile has no client site won by a replica in the ${mode} race`);
  const without = (p: SitePrediction) => outcomeIn(predictionFor(predictWithout(topology, profile, [outcomeIn(p, mode).winner]), p.clientSite), mode);
  const decisiveness = (p: SitePrediction) => Math.min(outcomeIn(p, mode).marginMs, without(p).marginMs);
  return won.reduce((best, p) => (decisiveness(p) > decisiveness(best) ? p : best));
}

/**
 * For a suite about the race itself: every connection must race, so the client gateways' winner caches are off
 * for the suite (which also empties them) and each is put back as it was found.
 */
export function raceEveryConnection(lab: () => Lab): void {
  let found: { board: string; on: boolean }[] = [];
  before(async () => {
    const gateways = boardsWithRole(lab().inputs().topology, 'client-gateway').map((b) => b.name);
    found = await Promise.all(gateways.map(async (board) => ({ board, on: (await lab().agent(board).winnerCache())?.enabled ?? false })));
    await Promise.all(found.map(({ board }) => lab().agent(board).setWinnerCache(false)));
  });
  after(async () => {
    // A lab the suite brought up itself is down by now, and its caches with it: only a live lab gets them back.
    if (!lab().runDir.exists()) return;
    await Promise.all(found.filter((g) => g.on).map(({ board }) => lab().agent(board).setWinnerCache(true)));
  });
}

/** tcpdump's own reading of a pcap: the test checks what a person would see in it. */
export function readPcap(path: string): string {
  return execFileSync('tcpdump', ['-nn', '-r', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

const FRAMES_PROBE = readFileSync(join(__dirname, '..', '..', 'probes', 'frames.py'));
/**
 * A board's test files live in root's home, which is the board's own (namespace boards and the shelf's stand-in
 * Pis share the host's /tmp, where suites side by side would rewrite each other's copy while it runs) and goes
 * with the lab, even when a test stops half-way.
 */
export const PROBE_PATH = '/root/synrace-frames.py';

/** The gateway table's entry of the connection from a client port (a client host's ports are its own). */
export function entryOfClientPort(table: TableDump, port: number) {
  return table.entries.find((e) => e.client.endsWith(`:${port}`));
}

/**
 * A download the server sends slowly (a few seconds), for attacks on a live connection. `winnerAddress` is the
 * candidate its race bound it to, as the gateway's table says: an attacker forges that one, whoever it is.
 */
export interface LiveDownload { clientPort: number; winnerAddress: string; finished(): Promise<string> }

/** The lab's own delay beyond the profile that a race answer may still take (its hops, a loaded host). */
const ANSWER_SLACK_MS = 150;

/**
 * Starts the download at the site's client host and returns once it is established and its race is over: every
 * candidate's answer, the slowest one held by a synchronized switch included, has reached the gateway. An attack
 * sent sooner would meet a connection still being raced, and late answers would blur what the attack did.
 */
export async function startSlowDownload(lab: Lab, site: SitePrediction, url: string, origin: string): Promise<LiveDownload> {
  const host = site.hostBoard;
  const sum = `/root/synrace-live-${Date.now()}.sum`;
  // Established means the first answer is in; the slowest one, held by a synchronized switch at most, follows within this.
  const lastAnswerAfterFirst = Math.max(...site.candidates.map((c) => Math.max(c.raceMs, c.syncRaceMs))) - Math.min(...site.candidates.map((c) => c.raceMs)) + ANSWER_SLACK_MS;
  await lab.exec(host, `setsid -f sh -c 'curl -s -m 60 ${url} | sha256sum > ${sum}.part && mv ${sum}.part ${sum}' >/dev/null 2>&1`);
  let clientPort = 0;
  for (let i = 0; i < 50 && !clientPort; i++) {
    const { stdout } = await lab.exec(host, `ss -Htn state established dst ${origin}:80`);
    clientPort = Number(/:(\d+)\s+\S+:80\s*$/m.exec(stdout)?.[1] ?? 0);
    if (!clientPort) await new Promise((r) => setTimeout(r, 100));
  }
  if (!clientPort) throw new Error(`the slow download on ${host} never showed up established in its socket table`);
  await new Promise((r) => setTimeout(r, lastAnswerAfterFirst));
  const entry = entryOfClientPort(await lab.agent(site.gatewayBoard).table(), clientPort);
  if (!entry?.winner) throw new Error(`the slow download from ${host} (port ${clientPort}) has no bound winner in ${site.gatewayBoard}'s table: ${JSON.stringify(entry)}`);
  return {
    clientPort,
    winnerAddress: entry.winner,
    async finished() {
      const { stdout } = await lab.exec(host, `for i in $(seq 300); do [ -f ${sum} ] && break; sleep 0.1; done; cat ${sum}; rm -f ${sum}`, 60_000);
      return stdout.split(' ')[0];
    },
  };
}

/**
 * Forges packets from a rogue board: any source address, routed by that board's kernel. Several packets
 * given at once leave back to back, in order, as an attacker's script would send them.
 */
export async function rogueInjector(lab: Lab, rogue: string): Promise<(...packets: string[]) => Promise<void>> {
  await lab.upload(rogue, FRAMES_PROBE, PROBE_PATH);
  return async (...packets) => {
    const result = await lab.exec(rogue, `${packets.map((args) => `/usr/bin/python3 ${PROBE_PATH} inject ${args}`).join(' && ')} && sleep 0.3`);
    if (result.code !== 0) throw new Error(`rogue ${rogue} could not inject ${packets.join('; ')}: ${result.stderr.trim()}`);
  };
}

export interface FramesProbe {
  hostAddress: string;
  freshPort(): number;
  /** Sends one kind of hand-made frame (see probes/frames.py) from the host to its gateway. */
  send(kind: string, sport: number): Promise<unknown>;
}

/** Puts the frame probe on a client host and learns its gateway's MAC, as the host's own ARP did. */
export async function framesProbe(lab: Lab, topology: Topology, host: string, dst: string): Promise<FramesProbe> {
  const lan = interfaceOn(topology.boards.find((b) => b.name === host)!, 'lan')!;
  await lab.upload(host, FRAMES_PROBE, PROBE_PATH);
  const { stdout } = await lab.exec(host, `ping -c1 -W1 ${lan.gateway} >/dev/null; ip -j neigh show ${lan.gateway}`);
  const mac = (JSON.parse(stdout) as { lladdr: string }[])[0].lladdr;
  const hostAddress = addressOf(lan.address);
  let next = 40000 + Math.floor(Math.random() * 20000);
  return {
    hostAddress,
    freshPort: () => next++,
    // The pause lets the gateway's agent take the frame before the counters are read.
    async send(kind, sport) {
      const result = await lab.exec(host, `/usr/bin/python3 ${PROBE_PATH} frame ${lan.name} ${mac} ${hostAddress} ${dst} ${sport} 80 ${kind} && sleep 0.2`);
      if (result.code !== 0) throw new Error(`frame probe ${kind} failed on ${host}: ${result.stderr.trim()}`);
      return result.stdout;
    },
  };
}
