import { performance } from 'node:perf_hooks';
// A lab for one piece of work: the benches' labs, and the fidelity command's one lab per random geography.
import { Lab, type LabUpOptions } from './lab';
import { labRunDir } from './labs/registry';
import { Progress } from './progress';

/** Such labs have names of their own (bench-..., fid-...), so they run beside a user's lab; one of those names that is up is someone else's run. */
function refuseIfUp(name: string): void {
  if (labRunDir(name).exists()) throw new Error(`lab ${name} is already up: another bench is running, or one was killed (\`synrace down --lab ${name}\`)`);
}

/** A lab brought up for the work is still up: nothing more may run on this host until someone takes it down. */
export class LabNotDownError extends Error {
  constructor(cause: Error) {
    super(`taking the lab down failed, it may still be up (try \`synrace labs\` and \`synrace down --lab NAME\`): ${cause.message}`);
    this.name = 'LabNotDownError';
  }
}

export interface LabRun<T> {
  value: T;
  upSeconds: number;
  downSeconds: number;
}

/** Settles only by rejecting, when the run is interrupted; `stop` takes its listener off the signal once the work is done. */
function interruption(signal: AbortSignal): { interrupted: Promise<never>; stop(): void } {
  const listeners: (() => void)[] = [];
  const interrupted = new Promise<never>((_, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    listeners.push(() => signal.removeEventListener('abort', onAbort));
  });
  return { interrupted, stop: () => listeners.forEach((remove) => remove()) };
}

const elapsedSeconds = (since: number): number => (performance.now() - since) / 1000;

/**
 * Brings a lab up, runs work on it and takes it down again whatever happens: a failure or an interruption
 * abandons the work (its SSH sessions die with the lab) rather than waiting for it.
 */
export async function withLab<T>(options: LabUpOptions & { name: string }, signal: AbortSignal, work: (lab: Lab) => Promise<T>, progress = new Progress(true)): Promise<LabRun<T>> {
  refuseIfUp(options.name);
  const upStarted = performance.now();
  // Lab.up itself removes what it created when it fails or sees the signal between its steps.
  // On a signal of its own: the boards' listeners go with the lab instead of piling up on a signal that outlives it.
  const lab = await Lab.up({ ...options, signal: AbortSignal.any([signal]) }, progress);
  const upSeconds = elapsedSeconds(upStarted);
  // The interruption first: a signal that came while the lab was coming up wins over work that finishes at once.
  const { interrupted, stop } = interruption(signal);
  const outcome = await Promise.race([interrupted, work(lab)]).then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  stop();
  const downStarted = performance.now();
  await lab.down().catch((err: Error) => {
    throw new LabNotDownError(err);
  });
  const downSeconds = elapsedSeconds(downStarted);
  if (!outcome.ok) throw outcome.error;
  return { value: outcome.value, upSeconds, downSeconds };
}
