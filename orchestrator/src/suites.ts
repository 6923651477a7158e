import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from './lab';
import { newRunFolder } from './labs/run-folders';
import { tapToJunit } from './report/junit';
import { runMochaTap, type TapSummary } from './tap-run';

/** An end-to-end suite `synrace test` can run against a live lab: a mocha spec file written against this package's API. */
export interface E2eSuite {
  name: string;
  specFile: string;
  description: string;
}

const registry = new Map<string, E2eSuite>();

/** Called by a suite package when it is loaded. */
export function registerSuite(suite: E2eSuite): void {
  registry.set(suite.name, suite);
}

/**
 * Packages whose `suites` module registers suites, loaded on demand as test runners load their plugins:
 * SYNRACE_SUITES (comma-separated module names), else the project's own.
 */
function suitePackages(): string[] {
  return (process.env.SYNRACE_SUITES ?? '@synrace/tests/suites').split(',').filter(Boolean);
}

export function registeredSuites(): E2eSuite[] {
  for (const name of suitePackages()) {
    try {
      require(name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    }
  }
  return [...registry.values()];
}

export function suitesNamed(names: string[]): E2eSuite[] {
  const all = registeredSuites();
  if (all.length === 0) throw new Error(`no end-to-end suites are installed (looked for ${suitePackages().join(', ')})`);
  if (names.length === 0) return all;
  return names.map((name) => {
    const suite = all.find((s) => s.name === name);
    if (!suite) throw new Error(`unknown suite "${name}"; suites: ${all.map((s) => s.name).join(', ')}`);
    return suite;
  });
}

export interface TestRun { summary: TapSummary; folder: string; report: string }

/** What a person reads after a run: every board's console log, and each agent's counters and table. */
async function collectBoardArtifacts(lab: Lab, folder: string): Promise<void> {
  const consoles = join(folder, 'consoles');
  mkdirSync(consoles, { recursive: true });
  const logs = lab.runDir.path('logs');
  if (existsSync(logs)) for (const f of readdirSync(logs)) copyFileSync(join(logs, f), join(consoles, f));
  const agents = join(folder, 'agents');
  mkdirSync(agents, { recursive: true });
  for (const board of lab.agentBoards()) {
    const agent = lab.agent(board.name);
    const counters = await agent.counters().catch((err: Error) => ({ error: err.message }));
    const table = await agent.table().catch(() => undefined);
    writeFileSync(join(agents, `${board.name}.json`), JSON.stringify({ counters, table }, null, 2));
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

/**
 * Runs suites against the lab that is up and leaves a run folder: TAP, JUnit, pcaps, consoles, agent state, report.
 * `grep`: only the tests whose full name matches it, as mocha's --grep; one that matches none is a failed run.
 */
export async function runSuites(lab: Lab, suites: E2eSuite[], onTap: (chunk: Buffer) => void, grep?: string): Promise<TestRun> {
  lab.state();
  const folder = newRunFolder(lab.name);
  const stopCaptures = await captureEveryBoard(lab, join(folder, 'pcaps', 'boards'));
  const result = await runMochaTap(
    suites.map((s) => s.specFile),
    onTap,
    { env: { ...process.env, SYNRACE_LIVE_LAB: lab.name, SYNRACE_ARTIFACTS: join(folder, 'pcaps', 'tests') }, grep },
  );
  await stopCaptures();
  writeFileSync(join(folder, 'tap.txt'), result.tap);
  writeFileSync(join(folder, 'junit.xml'), tapToJunit(result.tap, 'synrace e2e'));
  await collectBoardArtifacts(lab, folder);
  // The report's selection matrix and race timelines come from one verification pass with captures.
  const { report } = await lab.verify(['plain', 'synchronized'], 3, folder);
  return { summary: { pass: result.pass, fail: result.fail, skip: result.skip }, folder, report: report! };
}
