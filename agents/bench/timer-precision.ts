// Measures how late each timer mechanism fires against an absolute deadline,
// to justify the choice in src/io/precise-timer.ts. Prints JSON (lateness in ms).
import { monotonicNs } from '../src/io/clock';
import { createPreciseTimer } from '../src/io/precise-timer';
import { percentile, round3 } from './stats';

const SAMPLES = 500;
const now = monotonicNs;
// Deadlines 0.2-10 ms ahead: the gaps between queue heads of a lightly loaded
// delay line, long enough for the CPU to go idle.
const nextOffsetNs = (): number => 200_000 + Math.random() * 9_800_000;

function summarise(latenessNs: number[]): Record<string, number> {
  const ms = latenessNs.map((ns) => ns / 1e6);
  return { medianMs: round3(percentile(ms, 50)), p99Ms: round3(percentile(ms, 99)), maxMs: round3(percentile(ms, 100)) };
}

function measureSetTimeout(): Promise<number[]> {
  return new Promise((resolve) => {
    const lateness: number[] = [];
    const step = (): void => {
      const offset = nextOffsetNs();
      const deadline = now() + offset;
      setTimeout(() => {
        lateness.push(now() - deadline);
        if (lateness.length < SAMPLES) step(); else resolve(lateness);
      }, offset / 1e6);
    };
    step();
  });
}

function measureTimerfd(): Promise<number[]> {
  return new Promise((resolve) => {
    const lateness: number[] = [];
    let deadline = 0;
    const timer = createPreciseTimer(() => {
      lateness.push(now() - deadline);
      if (lateness.length < SAMPLES) arm();
      else { timer.close(); resolve(lateness); }
    });
    const arm = (): void => {
      deadline = now() + nextOffsetNs();
      timer.armAt(deadline);
    };
    arm();
  });
}

async function main(): Promise<void> {
  const setTimeoutLateness = await measureSetTimeout();
  const timerfdLateness = await measureTimerfd();
  console.log(JSON.stringify({
    samples: SAMPLES,
    setTimeout: summarise(setTimeoutLateness),
    preciseTimer: summarise(timerfdLateness),
  }, null, 2));
}

void main();
