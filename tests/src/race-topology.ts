import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shippedTopologyPath } from '@synrace/netem-profiles';

/**
 * A test host running other suites delays a handshake by up to about 25 ms now and then; with the default 20 ms
 * a steady winner's deadline (its RTT + the slack) would sometimes pass, and a cached connection race.
 */
const TEST_SLACK_MS = 50;

/** The world lab with the tests' winner-cache settings; the file goes when the test process ends, after its labs are down. */
export function worldWithWinnerCache(ttlMs: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'synrace-winner-cache-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'world.yaml');
  writeFileSync(file, `${readFileSync(shippedTopologyPath('world'), 'utf8')}\nrace:\n  winnerCache: { ttlMs: ${ttlMs}, maxEntries: 1024, deadlineSlackMs: ${TEST_SLACK_MS} }\n`);
  return file;
}
