import { readFileSync } from 'node:fs';
import { predict } from '@synrace/netem-profiles';
import { originAddress, renderTable, type Lab } from '@synrace/orchestrator';
import type { BenchContext, BenchSection, SectionReport } from './section';

/** Issue 16 loaded the lab from Dublin's host; another topology's first client site stands in. */
const CLIENT_SITE = 'dublin';
const UNLOADED = { requests: 200, concurrency: 1 };
const LOADED = { requests: 3000, concurrency: 50 };
const AB_TIMEOUT_MS = 300_000;

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
  /** The gateway's SYNs tagged for the race and sent from its winner cache during the loaded run. */
  racedSyns: number;
  cachedSyns: number;
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

const counter = (counters: Record<string, unknown>, name: string): number => {
  const gateway = counters['client-gateway'] as Record<string, number> | undefined;
  return gateway?.[name] ?? 0;
};

async function measure(context: BenchContext, lab: Lab): Promise<LoadReport> {
  const { topology, profile } = lab.inputs();
  const predictions = predict(topology, profile);
  const site = predictions.find((p) => p.clientSite === CLIENT_SITE) ?? predictions[0];
  const url = `http://${originAddress(topology)}/index.html`;
  const gateway = lab.agent(site.gatewayBoard);
  const cacheWasOn = (await gateway.winnerCache())?.enabled ?? false;
  const race = lab.state().protocol?.raceMode ?? 'plain';
  // Every connection must race: with the cache on, all but the first would go straight to the winner.
  await gateway.setWinnerCache(false);
  try {
    context.progress.step(`load: ${UNLOADED.requests} connections one at a time from ${site.hostBoard}`);
    const unloaded = await ab(lab, site.hostBoard, url, UNLOADED);
    context.progress.step(`load: ab -n ${LOADED.requests} -c ${LOADED.concurrency} from ${site.hostBoard}, every connection through the ${race} race`);
    const before = await gateway.counters();
    const cpuBefore = cpuJiffies();
    const loaded = await ab(lab, site.hostBoard, url, LOADED);
    const cpuAfter = cpuJiffies();
    const after = await gateway.counters();
    return {
      clientSite: site.clientSite,
      hostBoard: site.hostBoard,
      gatewayBoard: site.gatewayBoard,
      url,
      race,
      unloaded,
      loaded,
      racedSyns: counter(after, 'syn-tagged') - counter(before, 'syn-tagged'),
      cachedSyns: counter(after, 'syn-cached') - counter(before, 'syn-cached'),
      hostBusyPct: Math.round((1000 * (cpuAfter.busy - cpuBefore.busy)) / Math.max(1, cpuAfter.total - cpuBefore.total)) / 10,
    };
  } finally {
    await gateway.setWinnerCache(cacheWasOn);
  }
}

/** Issue 16's bars under load, each judged on this run. */
function verdicts(r: LoadReport): string[][] {
  const ratio = r.loaded.connectMedianMs / r.unloaded.connectMedianMs;
  const rows: [string, string, boolean][] = [
    ['connect time under load < 2x unloaded', `${ratio.toFixed(2)}x (${r.loaded.connectMedianMs} vs ${r.unloaded.connectMedianMs} ms, medians)`, ratio < 2],
    ['0 failed', `${r.loaded.failed} failed, ${r.loaded.complete} of ${r.loaded.requests} complete, ab exit ${r.loaded.exitCode}`, r.loaded.failed === 0 && r.loaded.complete === r.loaded.requests],
    ['>= 2,000 new connections/s through the race', `${r.loaded.perSecond.toFixed(0)}/s; ${r.racedSyns} SYNs raced, ${r.cachedSyns} from the cache`, r.loaded.perSecond >= 2000 && r.racedSyns >= r.loaded.complete && r.cachedSyns === 0],
  ];
  return rows.map(([target, measured, met]) => [target, measured, met ? 'met' : 'not met']);
}

function render(r: LoadReport): string {
  const row = (label: string, a: AbRun) => [label, `${a.requests} x ${a.concurrency}`, a.complete, a.failed, a.perSecond.toFixed(0), a.connectMedianMs];
  return [
    `ab from ${r.hostBoard} (${r.clientSite}) to ${r.url}, ${r.gatewayBoard}'s winner cache off, the ${r.race} race; both cores ${r.hostBusyPct}% busy under load`,
    '',
    renderTable(['run', 'requests x concurrency', 'complete', 'failed', 'connections/s', 'connect median ms'], [row('unloaded', r.unloaded), row('loaded', r.loaded)]),
    '',
    renderTable(['target', 'measured', 'verdict'], verdicts(r)),
  ].join('\n');
}

export const load: BenchSection = {
  name: 'load',
  title: 'Under load: ab -c 50 from one client site, every connection through the race',
  needs: 'world-lab',
  async run(context, lab): Promise<SectionReport> {
    const result = await measure(context, lab);
    return { result, text: render(result) };
  },
};
