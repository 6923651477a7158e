#!/usr/bin/env node
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Parser } from 'tap-parser';

/**
 * The project's test command: every package's mocha specs in one run, TAP on stdout (mocha's tap reporter,
 * read back with tap-parser), closed by the `N passed, N failed` line that CI reads.
 */
const ROOT = resolve(__dirname, '../../..');
const PACKAGES = ['netem-profiles', 'agents', 'hardware', 'orchestrator', 'tests'];

function specsUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return specsUnder(path);
    return e.name.endsWith('.test.js') ? [path] : [];
  }).sort();
}

function main(): void {
  const filter = process.argv.slice(2);
  const specs = PACKAGES.flatMap((p) => specsUnder(join(ROOT, p, 'dist', 'test'))).filter((f) => filter.length === 0 || filter.some((w) => f.includes(w)));
  if (specs.length === 0) {
    process.stdout.write('no test files found: run `npm run build` first\n0 passed, 1 failed\n');
    process.exitCode = 1;
    return;
  }
  const mocha = spawn(process.execPath, [require.resolve('mocha/bin/mocha.js'), '--reporter', 'tap', '--timeout', '180000', '--exit', ...specs], { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT });
  const parser = new Parser();
  let summary = { pass: 0, fail: 0, skip: 0 };
  parser.on('complete', (results) => {
    summary = { pass: results.pass, fail: results.fail, skip: results.skip + results.todo };
  });
  mocha.stdout.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    parser.write(chunk);
  });
  mocha.on('close', (code, signal) => {
    parser.end();
    // A runner that died before finishing its plan must not read as green.
    if ((code !== 0 || signal) && summary.fail === 0) summary.fail = 1;
    const skipped = summary.skip ? `, ${summary.skip} skipped` : '';
    process.stdout.write(`\n${summary.pass} passed, ${summary.fail} failed${skipped}\n`);
    process.exitCode = summary.fail > 0 ? 1 : 0;
  });
}

main();
