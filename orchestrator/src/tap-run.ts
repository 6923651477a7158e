import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Parser } from 'tap-parser';

export const REPO_ROOT = resolve(__dirname, '../../..');

export interface TapSummary { pass: number; fail: number; skip: number }

/** The closing line CI reads. */
export function formatSummary(s: TapSummary): string {
  return `${s.pass} passed, ${s.fail} failed${s.skip ? `, ${s.skip} skipped` : ''}`;
}

export function specsUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => {
      const path = join(dir, e.name);
      if (e.isDirectory()) return specsUnder(path);
      return e.name.endsWith('.test.js') ? [path] : [];
    })
    .sort();
}

/**
 * Runs mocha specs in one process with its TAP reporter, passing the stream to `onTap` as it comes,
 * and reads it back with tap-parser for the counts. A runner that dies before its plan is a failure.
 */
export function runMochaTap(specs: string[], onTap: (chunk: Buffer) => void, env: NodeJS.ProcessEnv = process.env): Promise<TapSummary & { tap: string }> {
  const mocha = spawn(process.execPath, [require.resolve('mocha/bin/mocha.js'), '--reporter', 'tap', '--timeout', '180000', '--exit', ...specs], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: REPO_ROOT,
    env,
  });
  const parser = new Parser();
  let summary: TapSummary = { pass: 0, fail: 0, skip: 0 };
  let tap = '';
  parser.on('complete', (results) => {
    summary = { pass: results.pass, fail: results.fail, skip: results.skip + results.todo };
  });
  mocha.stdout.on('data', (chunk: Buffer) => {
    tap += chunk.toString();
    onTap(chunk);
    parser.write(chunk);
  });
  return new Promise((done) => {
    mocha.on('close', (code, signal) => {
      parser.end();
      if ((code !== 0 || signal) && summary.fail === 0) summary.fail = 1;
      done({ ...summary, tap });
    });
  });
}
