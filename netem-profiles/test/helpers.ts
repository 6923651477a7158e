import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../src/index';
import { packageDir } from '../src/package-paths';

let scratchDir: string | undefined;

/** Writes `text` to a fresh file in a per-process scratch directory (removed at exit). */
export function writeTemp(name: string, text: string): string {
  if (!scratchDir) {
    const dir = mkdtempSync(join(tmpdir(), 'netem-profiles-test-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    scratchDir = dir;
  }
  const file = join(scratchDir, name);
  writeFileSync(file, text);
  return file;
}

/** `text` with the single occurrence of `from` replaced; fails loudly if the anchor is ambiguous. */
export function edit(text: string, from: string, to: string): string {
  const at = text.indexOf(from);
  assert.ok(at >= 0, `anchor not found: ${from}`);
  assert.equal(text.indexOf(from, at + 1), -1, `anchor not unique: ${from}`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/** 1-based line of an occurrence of `needle`, computed independently of the loader. */
export function lineOf(text: string, needle: string, which: 'first' | 'last' = 'first'): number {
  const at = which === 'first' ? text.indexOf(needle) : text.lastIndexOf(needle);
  assert.ok(at >= 0, `not found: ${needle}`);
  return text.slice(0, at).split('\n').length;
}

export function assertConfigError(
  load: () => unknown,
  expected: { file: string; line: number; field: string; problem: RegExp },
): void {
  assert.throws(load, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.field, expected.field, e.message);
    assert.equal(e.line, expected.line, e.message);
    assert.match(e.problem, expected.problem);
    assert.ok(e.message.startsWith(`${expected.file}:${expected.line}: `), e.message);
    return true;
  });
}

export function fixturePath(name: string): string {
  return join(packageDir, 'test', 'fixtures', name);
}

export function readFixture(name: string): string {
  return readFileSync(fixturePath(name), 'utf8');
}
