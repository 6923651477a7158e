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
}

function field(output: string, label: string): number {
  const line = output.split('\n').find((l) => l.startsWith(label));
  return line ? Number(line.slice(label.length).trim().split(/\s+/)[0]) : 0;
}

function parseAb(output: string, requests: number, concurrency: number, exitCode: number | null): AbRun {
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

async function ab(lab: Lab, host: string, url: string, run: { requests: number; concurrency: number }): Promise<AbRun> {
  const { code, stdout, stderr } = await lab.exec(host, `ab -q -n ${run.requests} -c ${run.concurrency} ${url}`, AB_TIMEOUT_MS);
  if (!stdout.includes('Complete requests:')) throw new Error(`ab on ${host} (exit ${code}): ${stderr.trim() || stdout.trim()}`);
  return parseAb(stdout, run.requests, run.concurrency, code);
}

/** Busy and total jiffies of all CPUs so far. */
function cpuJiffies(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - fields[3] - (fields[4] ?? 0), total };
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
  const cpuBefore = cpuJiffies();
  const loaded = await ab(lab, site.hostBoard, url, LOADED);
  const cpuAfter = cpuJiffies();
  const after = await countersNow();
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
    hostBusyPct: Math.round((1000 * (cpuAfter.busy - cpuBefore.busy)) / Math.max(1, cpuAfter.total - cpuBefore.total)) / 10,
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
