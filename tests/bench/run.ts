// `npm run bench [section]`: synrace's benchmark report. Sections run in order and are printed as each
// finishes; every number also goes to ./bench-results.json. Needs root. The bench brings up (and always takes
// down) labs of its own, named bench-..., beside any lab that is up; other work on the host skews the numbers.
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { resolve } from 'node:path';
import { LabNotDownError, Progress, withLab } from '@synrace/orchestrator';
import type { BenchContext, BenchSection, HostSection, SectionReport, WorldLabSection } from './section';
import { SECTIONS } from './sections';

const RESULTS_FILE = 'bench-results.json';
const USAGE = `usage: node tests/dist/bench/run.js [section]\nsections: ${SECTIONS.map((s) => s.name).join(', ')} (default: all)`;

type Outcome = { section: BenchSection } & ({ report: SectionReport } | { error: Error });

/** A host section runs alone; consecutive world-lab sections share one bring-up. */
type Batch = HostSection | WorldLabSection[];

function batches(sections: BenchSection[]): Batch[] {
  const out: Batch[] = [];
  for (const section of sections) {
    const last = out[out.length - 1];
    if (section.needs === 'host') out.push(section);
    else if (Array.isArray(last)) last.push(section);
    else out.push([section]);
  }
  return out;
}

function print(outcome: Outcome): Outcome {
  const body = 'report' in outcome ? outcome.report.text : `FAILED: ${outcome.error.message}`;
  process.stdout.write(`\n== ${outcome.section.title} ==\n${body}\n`);
  return outcome;
}

async function attempt(context: BenchContext, section: BenchSection, run: () => Promise<SectionReport>): Promise<Outcome> {
  try {
    return print({ section, report: await run() });
  } catch (err) {
    // An interruption, or a lab left up, ends the whole run rather than this section.
    if (context.signal.aborted || err instanceof LabNotDownError) throw err;
    return print({ section, error: err as Error });
  }
}

/** Outcomes go into `outcomes` as each section finishes, so an interruption keeps what was measured before it. */
async function runOnWorldLab(sections: WorldLabSection[], context: BenchContext, outcomes: Outcome[]): Promise<void> {
  context.progress.step(`bringing up the world lab for ${sections.map((s) => s.name).join(' and ')}`);
  try {
    await withLab({ name: 'bench-world' }, context.signal, async (lab) => {
      for (const section of sections) outcomes.push(await attempt(context, section, () => section.run(context, lab)));
    });
    context.progress.step('world lab taken down');
  } catch (err) {
    if (context.signal.aborted || err instanceof LabNotDownError) throw err;
    // Sections catch their own failures, so the lab did not come up: every section that needed it fails with that.
    outcomes.push(...sections.map((section) => print({ section, error: err as Error })));
  }
}

/** Other work on the host skews every number here; the load averages show whether there was some. */
function writeResults(startedAt: string, loadAtStart: number[], outcomes: Outcome[], interrupted: boolean): string {
  const results = {
    startedAt,
    finishedAt: new Date().toISOString(),
    host: { cpus: cpus().length, cpuModel: cpus()[0]?.model, kernel: release(), node: process.version, loadAverage: { atStart: loadAtStart, atEnd: loadavg() } },
    interrupted,
    sections: Object.fromEntries(outcomes.map((o) => [o.section.name, 'report' in o ? o.report.result : { error: o.error.message }])),
  };
  writeFileSync(RESULTS_FILE, JSON.stringify(results, null, 2) + '\n');
  return resolve(RESULTS_FILE);
}

async function main(): Promise<number> {
  const filter = process.argv[2];
  if (filter === '--help' || process.argv.length > 3) return (process.stderr.write(`${USAGE}\n`), 2);
  const selected = SECTIONS.filter((s) => filter === undefined || s.name === filter);
  if (selected.length === 0) return (process.stderr.write(`unknown section "${filter}"\n${USAGE}\n`), 2);
  if (process.getuid?.() !== 0) return (process.stderr.write('the bench needs root: it builds network namespaces and opens raw sockets\n'), 1);

  const progress = new Progress();
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    progress.step(`${signal}: stopping; a lab that is up is taken down first`);
    interrupt.abort(new Error(`interrupted by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const startedAt = new Date().toISOString();
  const loadAtStart = loadavg();
  const outcomes: Outcome[] = [];
  try {
    for (const batch of batches(selected)) {
      if (interrupt.signal.aborted) break;
      const context = { progress, signal: interrupt.signal };
      if (Array.isArray(batch)) await runOnWorldLab(batch, context, outcomes);
      else outcomes.push(await attempt(context, batch, () => batch.run(context)));
    }
  } catch (err) {
    // Interrupted: the lab is down and the partial results are written below; anything else is fatal.
    if (!interrupt.signal.aborted || err instanceof LabNotDownError) throw err;
  } finally {
    progress.step(`results written to ${writeResults(startedAt, loadAtStart, outcomes, interrupt.signal.aborted)}`);
  }
  if (interrupt.signal.aborted) return 130;
  return outcomes.some((o) => 'error' in o) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`bench: ${err.message}\n`);
    process.exit(1);
  },
);
