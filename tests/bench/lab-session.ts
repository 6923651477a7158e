import { performance } from 'node:perf_hooks';
import { Lab, Progress, RunDir, type LabUpOptions } from '@synrace/orchestrator';

/** Only one lab runs per host, and a lab that is up belongs to someone: the bench never replaces it. */
export function refuseIfLabUp(runDir = new RunDir()): void {
  if (runDir.exists()) {
    throw new Error(`a lab is already up (state in ${runDir.root}); the bench brings up labs of its own, so run it once that lab is down`);
  }
}

/** A lab the bench brought up is still up: nothing more may run on this host until someone takes it down. */
export class LabNotDownError extends Error {
  constructor(cause: Error) {
    super(`taking the lab down failed, it may still be up (try \`synrace down\`): ${cause.message}`);
    this.name = 'LabNotDownError';
  }
}

export interface LabRun<T> {
  value: T;
  upSeconds: number;
  downSeconds: number;
}

/** Settles only by rejecting, when the run is interrupted. */
function interruption(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

const elapsedSeconds = (since: number): number => (performance.now() - since) / 1000;

/**
 * Brings a lab up, runs work on it and takes it down again whatever happens: a failure or an interruption
 * abandons the work (its SSH sessions die with the lab) rather than waiting for it.
 */
export async function withLab<T>(options: LabUpOptions, signal: AbortSignal, work: (lab: Lab) => Promise<T>): Promise<LabRun<T>> {
  refuseIfLabUp();
  const upStarted = performance.now();
  // Lab.up itself removes what it created when it fails or sees the signal between its steps.
  const lab = await Lab.up({ ...options, signal }, new RunDir(), new Progress(true));
  const upSeconds = elapsedSeconds(upStarted);
  // The interruption first: a signal that came while the lab was coming up wins over work that finishes at once.
  const outcome = await Promise.race([interruption(signal), work(lab)]).then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  const downStarted = performance.now();
  await lab.down().catch((err: Error) => {
    throw new LabNotDownError(err);
  });
  const downSeconds = elapsedSeconds(downStarted);
  if (!outcome.ok) throw outcome.error;
  return { value: outcome.value, upSeconds, downSeconds };
}
