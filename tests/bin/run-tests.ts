#!/usr/bin/env node
// The project's test command: every package's specs in one TAP run, closed by `N passed, N failed, N skipped`.
// --fail-on-skip or SYNRACE_FAIL_ON_SKIP=1 (CI, on the machines the project targets) makes any skip a failure.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatSummary, REPO_ROOT, runMochaTap, specsUnder, tapToJunit } from '@synrace/orchestrator';

const PACKAGES = ['netem-profiles', 'agents', 'hardware', 'orchestrator', 'stand-ins', 'tests'];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const failOnSkip = args.includes('--fail-on-skip') || process.env.SYNRACE_FAIL_ON_SKIP === '1';
  const filter = args.filter((a) => a !== '--fail-on-skip');
  const specs = PACKAGES.flatMap((p) => specsUnder(join(REPO_ROOT, p, 'dist', 'test'))).filter((f) => filter.length === 0 || filter.some((w) => f.includes(w)));
  if (specs.length === 0) {
    process.stdout.write('no test files found: run `npm run build` first\n0 passed, 1 failed, 0 skipped\n');
    process.exitCode = 1;
    return;
  }
  const summary = await runMochaTap(specs, (chunk) => process.stdout.write(chunk), { failOnSkip });
  // For CI systems that read JUnit rather than TAP.
  mkdirSync(join(REPO_ROOT, 'artifacts'), { recursive: true });
  writeFileSync(join(REPO_ROOT, 'artifacts', 'junit.xml'), tapToJunit(summary.tap, 'synrace'));
  process.stdout.write(`\n${formatSummary(summary)}\n`);
  process.exitCode = summary.fail > 0 ? 1 : 0;
}

void main();
