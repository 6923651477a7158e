import { Lab, Progress, RunDir, findLeftovers, describeLeftovers } from '@synrace/orchestrator';

/** Set by `synrace test`: the suites run against the lab that is up (virtual or hardware) and leave it up. */
export const LIVE_LAB = process.env.SYNRACE_LIVE_LAB === '1';

/** Suites that bring labs up and down themselves: they cannot run against a live lab. */
export const describeOwnLabs: Mocha.SuiteFunction = LIVE_LAB ? (describe.skip as Mocha.SuiteFunction) : describe;

/**
 * One lab for a whole suite, torn down after it even when a test or the run itself fails;
 * SIGINT/SIGTERM tear it down too, because mocha does not run `after` hooks on a signal.
 * Against a live lab it only attaches.
 */
export function useLab(options: Parameters<typeof Lab.up>[0] = {}): () => Lab {
  let lab: Lab | undefined;
  if (LIVE_LAB) {
    before(() => {
      lab = Lab.attach(new RunDir(), new Progress(true));
      lab.state();
    });
    return () => lab!;
  }
  const onSignal = () => {
    void (lab?.down() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  before(async function () {
    this.timeout(120_000);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    lab = await Lab.up(options, new RunDir(), new Progress(true));
  });
  after(async function () {
    this.timeout(60_000);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (lab && lab.runDir.exists()) await lab.down();
  });
  return () => {
    if (!lab) throw new Error('the lab did not come up');
    return lab;
  };
}

/** Everything a lab could leave on the host, as readable lines; empty when the host is clean. */
export async function leftoversOf(runDir = new RunDir()): Promise<string[]> {
  return describeLeftovers(await findLeftovers(runDir));
}
