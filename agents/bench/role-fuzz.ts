// Each role's packet handler against a million seeded hostile frames (test/fixtures/role-fuzz.ts), and the
// delay line's engine against as many sent into its ports (test/fixtures/delay-line-fuzz.ts): crashes,
// verdicts, state left after every timeout ran out, and memory a tenth of the way in against the end
// (flat when nothing leaks). Prints one JSON document; progress on stderr.
// Run: node agents/dist/bench/role-fuzz.js [frames per role]
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fuzzDelayLine } from '../test/fixtures/delay-line-fuzz';
import { fuzzRole, FUZZ_ROLES, type FuzzResult } from '../test/fixtures/role-fuzz';

const FRAMES = Number(process.argv[2] ?? 1_000_000);
const SEED = 20_26;

const report = (r: FuzzResult): void => {
  process.stderr.write(`${r.role}: ${r.frames} frames in ${r.seconds.toFixed(1)} s, ${r.memoryMb.what} ${r.memoryMb.afterTenth} -> ${r.memoryMb.atEnd} MB\n`);
};

async function main(): Promise<void> {
  // The heap is compared after full collections, which needs gc() without a command-line flag.
  setFlagsFromString('--expose-gc');
  (globalThis as { gc?: unknown }).gc = runInNewContext('gc');
  const results: (FuzzResult | { role: string; seed: number; crashed: string })[] = [];
  for (const role of FUZZ_ROLES) {
    try {
      const r = fuzzRole(role, FRAMES, SEED);
      report(r);
      results.push(r);
    } catch (err) {
      results.push({ role, seed: SEED, crashed: (err as Error).message });
    }
  }
  // The delay line's engine is its own process: its hostile frames arrive through its ports.
  try {
    const r = await fuzzDelayLine(FRAMES, SEED);
    report(r);
    results.push(r);
  } catch (err) {
    results.push({ role: 'delay-line', seed: SEED, crashed: (err as Error).message });
  }
  console.log(JSON.stringify({ framesPerRole: FRAMES, seed: SEED, crashes: results.filter((r) => 'crashed' in r).length, roles: results }, null, 2));
}

void main();
