import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from './lab';
import { provisionedBoards } from './provision/provision-lab';
import { tapToJunit } from './report/junit';
import { REPO_ROOT, runMochaTap, type TapSummary } from './tap-run';

/** The end-to-end suites `synrace test` can run against a live lab, by name. */
export const E2E_SUITES: Record<string, string> = {
  lab: 'virtual-lab.test.js',
  protocol: 'protocol.test.js',
};

export interface TestRun { summary: TapSummary; folder: string; report: string }

/** Run folders kept: a lab engineer compares a few recent runs; an unbounded pile fills the disk. */
const RUNS_KEPT = 10;

/** A fresh run folder for verify, demo or test, the oldest beyond the newest RUNS_KEPT removed. */
export function newRunFolder(startedAt = new Date()): string {
  const root = process.env.SYNRACE_ARTIFACTS_ROOT ?? join(REPO_ROOT, 'artifacts', 'runs');
  const folder = join(root, startedAt.toISOString().replace(/[:.]/g, '-'));
  mkdirSync(folder, { recursive: true });
  for (const old of readdirSync(root).sort().slice(0, -RUNS_KEPT)) rmSync(join(root, old), { recursive: true, force: true });
  return folder;
}

export function specsFor(suites: string[]): string[] {
  const names = suites.length === 0 ? Object.keys(E2E_SUITES) : suites;
  return names.map((name) => {
    const file = E2E_SUITES[name];
    if (!file) throw new Error(`unknown suite "${name}"; suites: ${Object.keys(E2E_SUITES).join(', ')}`);
    return join(REPO_ROOT, 'tests', 'dist', 'test', file);
  });
}

/** What a person reads after a run: every board's console log, and each agent's counters and table. */
async function collectBoardArtifacts(lab: Lab, folder: string): Promise<void> {
  const consoles = join(folder, 'consoles');
  mkdirSync(consoles, { recursive: true });
  const logs = lab.runDir.path('logs');
  if (existsSync(logs)) for (const f of readdirSync(logs)) copyFileSync(join(logs, f), join(consoles, f));
  const agents = join(folder, 'agents');
  mkdirSync(agents, { recursive: true });
  const { topology } = lab.inputs();
  for (const board of provisionedBoards(topology)) {
    const agent = lab.agent(board);
    const counters = await agent.get('/counters').catch((err: Error) => ({ error: err.message }));
    const table = await agent.get('/table').catch(() => undefined);
    writeFileSync(join(agents, `${board}.json`), JSON.stringify({ counters, table }, null, 2));
  }
}

/**
 * Captures every data interface of every board for the whole run. A board powered off by a test loses its
 * tcpdump with everything else; its pcap then ends there, which is what happened on its wire.
 */
async function captureEveryBoard(lab: Lab, dir: string): Promise<() => Promise<void>> {
  const { topology } = lab.inputs();
  const captures = await Promise.all(topology.boards.flatMap((b) => b.interfaces.map((i) => lab.capture(b.name, i.name, dir))));
  return async () => {
    await Promise.all(captures.map((c) => c.stop().catch(() => undefined)));
  };
}

/** Runs suites against the lab that is up and leaves a run folder: TAP, JUnit, pcaps, consoles, agent state, report. */
export async function runSuites(lab: Lab, suites: string[], onTap: (chunk: Buffer) => void): Promise<TestRun> {
  const specs = specsFor(suites);
  lab.state();
  const folder = newRunFolder();
  const stopCaptures = await captureEveryBoard(lab, join(folder, 'pcaps', 'boards'));
  const result = await runMochaTap(specs, onTap, { ...process.env, SYNRACE_LIVE_LAB: '1', SYNRACE_ARTIFACTS: join(folder, 'pcaps', 'tests') });
  await stopCaptures();
  writeFileSync(join(folder, 'tap.txt'), result.tap);
  writeFileSync(join(folder, 'junit.xml'), tapToJunit(result.tap, 'synrace e2e'));
  await collectBoardArtifacts(lab, folder);
  // The report's selection matrix and race timelines come from one verification pass with captures.
  const { report } = await lab.verify(['plain', 'synchronized'], 3, folder);
  return { summary: { pass: result.pass, fail: result.fail, skip: result.skip }, folder, report: report! };
}
