#!/usr/bin/env node
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tapToJunit } from '../src/report/junit';
import { formatSummary, REPO_ROOT, runMochaTap, specsUnder } from '../src/tap-run';

/** The project's test command: every package's specs in one TAP run, closed by `N passed, N failed`. */
const PACKAGES = ['netem-profiles', 'agents', 'hardware', 'orchestrator', 'tests'];

async function main(): Promise<void> {
  const filter = process.argv.slice(2);
  const specs = PACKAGES.flatMap((p) => specsUnder(join(REPO_ROOT, p, 'dist', 'test'))).filter((f) => filter.length === 0 || filter.some((w) => f.includes(w)));
  if (specs.length === 0) {
    process.stdout.write('no test files found: run `npm run build` first\n0 passed, 1 failed\n');
    process.exitCode = 1;
    return;
  }
  const summary = await runMochaTap(specs, (chunk) => process.stdout.write(chunk));
  // For CI systems that read JUnit rather than TAP.
  mkdirSync(join(REPO_ROOT, 'artifacts'), { recursive: true });
  writeFileSync(join(REPO_ROOT, 'artifacts', 'junit.xml'), tapToJunit(summary.tap, 'synrace'));
  process.stdout.write(`\n${formatSummary(summary)}\n`);
  process.exitCode = summary.fail > 0 ? 1 : 0;
}

void main();
