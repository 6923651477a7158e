import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Parser } from 'tap-parser';
import { REPO_ROOT } from './labs/run-folders';

export interface TapSummary { pass: number; fail: number; skip: number }

/** The closing line CI reads; skips are counted apart, never as passes. */
export function formatSummary(s: TapSummary): string {
  return `${s.pass} passed, ${s.fail} failed, ${s.skip} skipped`;
}

/** How a test says why it skipped: in its title, so the TAP line carries the reason. */
export const SKIP_REASON = /\(skipped: [^)]+\)/;

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

export interface TapRunOptions {
  env?: NodeJS.ProcessEnv;
  /** Where every test must run (CI on the machines the project targets): a skip is a failure. */
  failOnSkip?: boolean;
  /** Aborted: mocha gets SIGINT, as from Ctrl-C, so its after hooks take down what its tests made. */
  signal?: AbortSignal;
  /** Only the tests whose full name matches this regular expression (mocha's --grep); matching none is a failure. */
  grep?: string;
}

/**
 * Runs mocha specs in one process with its TAP reporter, passing the stream to `onTap` as it comes,
 * and reads it back with tap-parser for the counts. A runner that dies before its plan is a failure, and
 * so is a skip that does not say why.
 */
export function runMochaTap(specs: string[], onTap: (chunk: Buffer) => void, options: TapRunOptions = {}): Promise<TapSummary & { tap: string }> {
  const mocha = spawn(process.execPath, [require.resolve('mocha/bin/mocha.js'), '--reporter', 'tap', '--timeout', '180000', '--exit', ...(options.grep === undefined ? [] : ['--grep', options.grep]), ...specs], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: REPO_ROOT,
    env: options.env ?? process.env,
  });
  const interrupt = () => mocha.kill('SIGINT');
  options.signal?.addEventListener('abort', interrupt, { once: true });
  const parser = new Parser();
  const summary: TapSummary = { pass: 0, fail: 0, skip: 0 };
  const refused: string[] = [];
  parser.on('assert', (result: { ok: boolean; skip?: unknown; todo?: unknown; name: string }) => {
    if (result.skip || result.todo) {
      summary.skip += 1;
      if (!SKIP_REASON.test(result.name)) refused.push(`skipped without saying why: ${result.name}`);
      else if (options.failOnSkip) refused.push(`skipped where every test must run: ${result.name}`);
    } else if (result.ok) summary.pass += 1;
    else summary.fail += 1;
  });
  let tap = '';
  mocha.stdout.on('data', (chunk: Buffer) => {
    tap += chunk.toString();
    onTap(chunk);
    parser.write(chunk);
  });
  return new Promise((done) => {
    mocha.on('close', (code, signal) => {
      options.signal?.removeEventListener('abort', interrupt);
      parser.end();
      if (options.grep !== undefined && summary.pass + summary.fail + summary.skip === 0) refused.push(`no test matches --grep ${JSON.stringify(options.grep)}`);
      for (const line of refused) {
        const comment = `# FAILED: ${line}\n`;
        tap += comment;
        onTap(Buffer.from(comment));
      }
      summary.fail += refused.length;
      if ((code !== 0 || signal) && summary.fail === 0) summary.fail = 1;
      done({ ...summary, tap });
    });
  });
}
