import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cleanup } from '../../src/testing/cleanup';

/** Every host object of these tests carries this prefix (other labs share the host). */
export const PREFIX = 'srvm';

export async function makeWorkDir(what: string, cleanup: Cleanup): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `${PREFIX}-${what}-`));
  // SYNRACE_TEST_KEEP=1 keeps it (disk files, console and firmware logs) for a look after a failure.
  if (process.env.SYNRACE_TEST_KEEP !== '1') cleanup.add(`remove ${dir}`, () => rm(dir, { recursive: true, force: true }));
  return dir;
}
