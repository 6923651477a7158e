import { Parser, type FinalResults, type Result } from 'tap-parser';
import { escapeXml, tag } from './xml';

interface TestCase {
  name: string;
  failure: { message: string; details: string } | null;
  skipped: string | null;
}

/** Mocha's TAP 12 prints a failure's message and stack as indented non-TAP lines after `not ok`; TAP 13 as YAML diagnostics. */
function failureOf(result: Result, extraLines: string[]): { message: string; details: string } {
  const diag = (result.diag ?? {}) as { message?: unknown; stack?: unknown };
  const extra = extraLines.map((l) => l.replace(/^ {2}/, '').replace(/\n$/, '')).join('\n').trim();
  const details = typeof diag.stack === 'string' ? diag.stack : extra;
  const message = typeof diag.message === 'string' ? diag.message : extra;
  return { message: message.split('\n')[0] || result.name, details };
}

/** What the stream itself got wrong (a bail-out, fewer tests than planned): errors, so a dead run never reads green. */
function streamErrors(results: FinalResults): string[] {
  const errors = results.failures.filter((f) => 'tapError' in f && typeof f.tapError === 'string').map((f) => f.tapError as string);
  if (results.bailout) errors.push(`bail out: ${results.bailout === true ? 'no reason given' : results.bailout}`);
  return errors;
}

/** JUnit XML (one testsuite) from a TAP stream such as mocha's tap reporter prints; todo tests count as skipped. */
export function tapToJunit(tap: string, suiteName: string): string {
  const cases: TestCase[] = [];
  // The failing test point the following non-TAP lines belong to.
  let failing: { result: Result; extra: string[]; testCase: TestCase } | null = null;
  let final: FinalResults | null = null;
  const parser = new Parser((results) => (final = results));
  parser.on('assert', (result: Result) => {
    const skip = result.skip !== false ? result.skip : result.todo;
    const testCase: TestCase = { name: result.name, failure: result.ok ? null : failureOf(result, []), skipped: skip === false ? null : skip === true ? '' : String(skip) };
    cases.push(testCase);
    failing = result.ok ? null : { result, extra: [], testCase };
  });
  parser.on('extra', (line: string) => {
    if (!failing) return;
    failing.extra.push(line);
    failing.testCase.failure = failureOf(failing.result, failing.extra);
  });
  parser.end(tap);
  // tap-parser finishes synchronously on end(); if that ever changed, an empty report must not pass silently.
  if (!final) throw new Error('tap-parser did not complete on end()');
  const errors = streamErrors(final);

  const testcases = cases.map((c) => tag('testcase', { name: c.name, classname: suiteName },
    c.failure ? tag('failure', { message: c.failure.message, type: 'AssertionError' }, escapeXml(c.failure.details)) : '',
    c.skipped !== null ? tag('skipped', { message: c.skipped || undefined }) : ''));
  const errorcases = errors.map((e) => tag('testcase', { name: 'TAP stream', classname: suiteName }, tag('error', { message: e }, escapeXml(e))));
  const suite = tag('testsuite', {
    name: suiteName,
    tests: cases.length + errors.length,
    failures: cases.filter((c) => c.failure).length,
    errors: errors.length,
    skipped: cases.filter((c) => c.skipped !== null).length,
  }, ...testcases, ...errorcases);
  return `<?xml version="1.0" encoding="UTF-8"?>\n${tag('testsuites', {}, suite)}\n`;
}
