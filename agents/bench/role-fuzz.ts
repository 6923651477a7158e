// Each role's packet handler against a million seeded hostile frames (test/fixtures/role-fuzz.ts):
// crashes, verdicts, state left after every timeout ran out, and the heap after a tenth of the run
// against the end (flat memory). Prints one JSON document; progress on stderr.
// Run: node agents/dist/bench/role-fuzz.js [frames per role]
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fuzzRole, FUZZ_ROLES, type FuzzResult } from '../test/fixtures/role-fuzz';

const FRAMES = Number(process.argv[2] ?? 1_000_000);
const SEED = 20_26;

function main(): void {
  // The heap is compared after full collections, which needs gc() without a command-line flag.
  setFlagsFromString('--expose-gc');
  (globalThis as { gc?: unknown }).gc = runInNewContext('gc');
  const results: (FuzzResult | { role: string; seed: number; crashed: string })[] = [];
  for (const role of FUZZ_ROLES) {
    try {
      const r = fuzzRole(role, FRAMES, SEED);
      process.stderr.write(`${role}: ${r.frames} frames in ${r.seconds.toFixed(1)} s, heap ${r.heapUsedMb.afterTenth} -> ${r.heapUsedMb.atEnd} MB\n`);
      results.push(r);
    } catch (err) {
      results.push({ role, seed: SEED, crashed: (err as Error).message });
    }
  }
  console.log(JSON.stringify({ framesPerRole: FRAMES, seed: SEED, crashes: results.filter((r) => 'crashed' in r).length, roles: results }, null, 2));
}

main();
