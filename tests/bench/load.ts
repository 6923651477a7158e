import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boardsWithRole, predict } from '@synrace/netem-profiles';
import { DEFAULT_TOPOLOGY, originAddress, renderTable, resolveTopology, withLab, type Lab } from '@synrace/orchestrator';
import type { BenchContext, HostSection, SectionReport } from './section';

/** Issue 16 loaded the world lab from Dublin's host. */
const CLIENT_SITE = 'dublin';
const UNLOADED = { requests: 200, concurrency: 1 };
const LOADED = { requests: 3000, concurrency: 50 };
const AB_TIMEOUT_MS = 300_000;
const LAB_NAME = 'bench-load';
/**
 * The switch's fan-out budget per gateway (race.fanOut) in the world lab is 200 SYNs/s, burst 400: a bound
 * on what a forged flood reflects, far below this load. A deployment that expects 2,000 new connections/s
 * from one gateway sizes it for that; so does this lab, or most SYNs would go to the origin alone.
 */
const FAN_OUT = { rate: 10_000, burst: 10_000 };

/** USER_HZ: the unit of /proc/stat and /proc/<pid>/stat, 100 on every Linux a lab runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** What ab reports of one run (its "Connect:" row is min, mean, sd, median, max in ms). */
interface AbRun {
  requests: number;
  concurrency: number;
  complete: number;
  /** ab's failed requests plus its non-2xx responses. */
  failed: number;
  perSecond: number;
  connectMedianMs: number;
  /** ab's exit code: it stops at the first refused or reset connection. */
  exitCode: number | null;
  /** ab's own CPU time, user and system. */
  cpuSeconds: number;
}

interface LoadReport {
  clientSite: string;
  hostBoard: string;
  gatewayBoard: string;
  url: string;
  race: string;
  unloaded: AbRun;
  loaded: AbRun;
  fanOutBudget: { rate: number; burst: number };
  /** During the loaded run: the gateway's SYNs sent from its winner cache, and the switch's fanned-out and over-budget SYNs. */
  cachedSyns: number;
  fannedOut: number;
  overBudget: number;
  /** Share of both cores busy during the loaded run (/proc/stat), the machine's headroom. */
  hostBusyPct: number;
  /** Where the loaded run's CPU went: each board's processes, busiest first, in CPU us per completed connection. */
  cpuPerConnection: { board: string; roles: string; us: number }[];
  /** The same run's CPU no board's process was charged: the delay line's, the kernel's softirq work, and the host's other processes. */
  unchargedUs: number;
}

function field(output: string, label: string): number {
  const line = output.split('\n').find((l) => l.startsWith(label));
  return line ? Number(line.slice(label.length).trim().split(/\s+/)[0]) : 0;
}

function parseAb(output: string, requests: number, concurrency: number, exitCode: number | null): Omit<AbRun, 'cpuSeconds'> {
  const connect = output.split('\n').find((l) => l.startsWith('Connect:'))?.slice('Connect:'.length).trim().split(/\s+/).map(Number);
  return {
    requests,
    concurrency,
    complete: field(output, 'Complete requests:'),
    failed: field(output, 'Failed requests:') + field(output, 'Non-2xx responses:'),
    perSecond: field(output, 'Requests per second:'),
    connectMedianMs: connect?.[3] ?? NaN,
    exitCode,
  };
}

/** The fields of a /proc/<pid>/stat line after the command name, so that fields[0] is field 3 (state). */
const statFields = (line: string): string[] => line.slice(line.lastIndexOf(')') + 2).split(' ');

async function ab(lab: Lab, host: string, url: string, run: { requests: number; concurrency: number }): Promise<AbRun> {
  // ab has exited by the time its board's processes are read: its CPU is its shell's children's (cutime, cstime).
  const command = `ab -q -n ${run.requests} -c ${run.concurrency} ${url}; status=$?; cat /proc/$$/stat >&2; exit $status`;
  const { code, stdout, stderr } = await lab.exec(host, command, AB_TIMEOUT_MS);
  const lines = stderr.trim().split('\n');
  const shell = statFields(lines.pop() ?? '');
  if (!stdout.includes('Complete requests:')) throw new Error(`ab on ${host} (exit ${code}): ${lines.join('\n').trim() || stdout.trim()}`);
  return { ...parseAb(stdout, run.requests, run.concurrency, code), cpuSeconds: (Number(shell[13]) + Number(shell[14])) / CLOCK_TICKS_PER_SECOND };
}

/** Busy and total jiffies of all CPUs so far. */
function cpuJiffies(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - fields[3] - (fields[4] ?? 0), total };
}

/**
 * CPU seconds used so far by each board's running processes: a namespace board has its own /proc (its own
 * PID namespace), so what `cat` lists there is the board's alone. An exited process's time is not counted.
 */
async function boardCpuSeconds(lab: Lab, boards: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const board of boards) {
    const { stdout } = await lab.exec(board, 'cat /proc/[0-9]*/stat 2>/dev/null');
    let ticks = 0;
    for (const line of stdout.trim().split('\n')) {
      // utime and stime, fields 14 and 15.
      const fields = statFields(line);
      ticks += Number(fields[11]) + Number(fields[12]);
    }
    out.set(board, ticks / CLOCK_TICKS_PER_SECOND);
  }
  return out;
}

/** The world topology with a fan-out budget above the load, in a folder the caller removes. */
function loadTopology(dir: string): string {
  const file = join(dir, 'world-load.yaml');
  const world = readFileSync(resolveTopology(DEFAULT_TOPOLOGY), 'utf8');
  writeFileSync(file, `${world}\nrace:\n  fanOut: { rate: ${FAN_OUT.rate}, burst: ${FAN_OUT.burst} }\n`);
  return file;
}

async function measure(context: BenchContext, lab: Lab): Promise<LoadReport> {
  const { topology, profile } = lab.inputs();
  const predictions = predict(topology, profile);
  const site = predictions.find((p) => p.clientSite === CLIENT_SITE);
  if (!site) throw new Error(`load: the ${DEFAULT_TOPOLOGY} topology has no client site ${CLIENT_SITE}`);
  const url = `http://${originAddress(topology)}/index.html`;
  const gateway = lab.agent(site.gatewayBoard);
  const switchAgent = lab.agent(boardsWithRole(topology, 'server-switch')[0].name);
  const race = lab.state().protocol?.raceMode ?? 'plain';
  // Every connection must race: with the cache on, all but the first would go straight to the winner.
  await gateway.setWinnerCache(false);
  context.progress.step(`load: ${UNLOADED.requests} connections one at a time from ${site.hostBoard}`);
  const unloaded = await ab(lab, site.hostBoard, url, UNLOADED);
  context.progress.step(`load: ab -n ${LOADED.requests} -c ${LOADED.concurrency} from ${site.hostBoard}, every connection through the ${race} race`);
  type RoleCounters = Record<string, Record<string, number> | undefined>;
  const countersNow = async (): Promise<RoleCounters> => ({ ...(await gateway.counters()), ...(await switchAgent.counters()) }) as RoleCounters;
  const before = await countersNow();
  const boards = topology.boards.map((b) => b.name);
  const boardCpuBefore = await boardCpuSeconds(lab, boards);
  const cpuBefore = cpuJiffies();
  const loaded = await ab(lab, site.hostBoard, url, LOADED);
  const cpuAfter = cpuJiffies();
  const boardCpuAfter = await boardCpuSeconds(lab, boards);
  const after = await countersNow();
  const perConnectionUs = (seconds: number): number => Math.round((seconds * 1e6) / Math.max(1, loaded.complete));
  const cpuPerConnection = topology.boards
    .map((b) => {
      const runsAb = b.name === site.hostBoard;
      const ran = (boardCpuAfter.get(b.name) ?? 0) - (boardCpuBefore.get(b.name) ?? 0) + (runsAb ? loaded.cpuSeconds : 0);
      return { board: b.name, roles: `${b.roles.join(', ')}${runsAb ? ' (ab)' : ''}`, us: perConnectionUs(ran) };
    })
    .filter((row) => row.us > 0)
    .sort((x, y) => y.us - x.us);
  const busyJiffies = cpuAfter.busy - cpuBefore.busy;
  const grew = (role: 'client-gateway' | 'server-switch', name: string) => (after[role]?.[name] ?? 0) - (before[role]?.[name] ?? 0);
  return {
    clientSite: site.clientSite,
    hostBoard: site.hostBoard,
    gatewayBoard: site.gatewayBoard,
    url,
    race,
    unloaded,
    loaded,
    fanOutBudget: FAN_OUT,
    cachedSyns: grew('client-gateway', 'syn-cached'),
    fannedOut: grew('server-switch', 'syn-fanned-out'),
    overBudget: grew('server-switch', 'syn-to-origin-only-fan-out-over-budget'),
    hostBusyPct: Math.round((1000 * busyJiffies) / Math.max(1, cpuAfter.total - cpuBefore.total)) / 10,
    cpuPerConnection,
    unchargedUs: perConnectionUs(busyJiffies / CLOCK_TICKS_PER_SECOND) - cpuPerConnection.reduce((sum, row) => sum + row.us, 0),
  };
}

/** Issue 16's bars under load, each judged on this run. */
function verdicts(r: LoadReport): string[][] {
  const ratio = r.loaded.connectMedianMs / r.unloaded.connectMedianMs;
  const rows: [string, string, boolean][] = [
    ['connect time under load < 2x unloaded', `${ratio.toFixed(2)}x (${r.loaded.connectMedianMs} vs ${r.unloaded.connectMedianMs} ms, medians)`, ratio < 2],
    ['0 failed', `${r.loaded.failed} failed, ${r.loaded.complete} of ${r.loaded.requests} complete, ab exit ${r.loaded.exitCode}`, r.loaded.failed === 0 && r.loaded.complete === r.loaded.requests],
    ['>= 2,000 new connections/s through the race', `${r.loaded.perSecond.toFixed(0)}/s; ${r.fannedOut} SYNs fanned out, ${r.overBudget} over the budget, ${r.cachedSyns} from the cache`, r.loaded.perSecond >= 2000 && r.fannedOut >= r.loaded.complete && r.overBudget === 0 && r.cachedSyns === 0],
  ];
  return rows.map(([target, measured, met]) => [target, measured, met ? 'met' : 'not met']);
}

function render(r: LoadReport): string {
  const row = (label: string, a: AbRun) => [label, `${a.requests} x ${a.concurrency}`, a.complete, a.failed, a.perSecond.toFixed(0), a.connectMedianMs];
  return [
    `ab from ${r.hostBoard} (${r.clientSite}) to ${r.url}, ${r.gatewayBoard}'s winner cache off, the ${r.race} race, the switch's fan-out budget`,
    `${r.fanOutBudget.rate}/s burst ${r.fanOutBudget.burst} per gateway (the world lab's is 200/s); both cores ${r.hostBusyPct}% busy under load`,
    '',
    renderTable(['run', 'requests x concurrency', 'complete', 'failed', 'connections/s', 'connect median ms'], [row('unloaded', r.unloaded), row('loaded', r.loaded)]),
    '',
    renderTable(['target', 'measured', 'verdict'], verdicts(r)),
    '',
    `where the loaded run's CPU went, in us per connection (${r.loaded.complete} connections): each board's processes, ab's on its host; then what no board's process was charged: the delay line (a host process), the kernel's softirq work and the host's other processes`,
    renderTable(['board', 'roles', 'CPU us per connection'], [...r.cpuPerConnection.map((row) => [row.board, row.roles, row.us]), ['(uncharged)', '', r.unchargedUs]]),
  ].join('\n');
}

export const load: HostSection = {
  name: 'load',
  title: 'Under load: ab -c 50 from one client site, every connection through the race',
  needs: 'host',
  async run(context): Promise<SectionReport> {
    const dir = mkdtempSync(join(tmpdir(), 'synrace-bench-load-'));
    try {
      context.progress.step(`load: bringing up ${LAB_NAME}, the world lab with a fan-out budget of ${FAN_OUT.rate}/s per gateway`);
      const { value } = await withLab({ name: LAB_NAME, topology: loadTopology(dir) }, context.signal, (lab) => measure(context, lab));
      return { result: value, text: render(value) };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
