import { describeLeftovers, findLeftovers, Lab, LabHostNames, labRunDir, Progress, type LabUpOptions } from '@synrace/orchestrator';

/** Set by `synrace test` to the live lab's name: the suites run against it (any backend) and leave it up. */
export const LIVE_LAB = process.env.SYNRACE_LIVE_LAB;

/** A skip that says why, in the test's title, which is what the TAP line shows. */
export function skipBecause(context: Mocha.Context, reason: string): never {
  if (context.currentTest) context.currentTest.title += ` (skipped: ${reason})`;
  else if (context.test) context.test.title += ` (skipped: ${reason})`;
  context.skip();
}

/** Suites that bring labs up and down themselves: against a live lab each of their tests is skipped, saying so. */
export function describeOwnLabs(title: string, body: (this: Mocha.Suite) => void): Mocha.Suite {
  return describe(title, function () {
    if (LIVE_LAB) {
      before(function () {
        for (const test of this.test!.parent!.tests) test.title += ' (skipped: it brings up labs of its own, not run against a live lab)';
        this.skip();
      });
    }
    body.call(this);
  });
}

/**
 * One lab for a whole suite, torn down after it even when a test or the run itself fails;
 * SIGINT/SIGTERM tear it down too, because mocha does not run `after` hooks on a signal.
 * A test lab has a name of its own, so it runs beside any lab a user keeps up. Against a live lab it only attaches.
 */
export function useLab(options: LabUpOptions & { name: string }, upTimeoutMs = 120_000): () => Lab {
  let lab: Lab | undefined;
  if (LIVE_LAB) {
    before(() => {
      lab = Lab.attach(LIVE_LAB, new Progress(true));
      lab.state();
    });
    return () => lab!;
  }
  // During the bring-up, Lab.up itself stops at its next step and removes what it made; once up, the lab goes down.
  const interrupted = new AbortController();
  const onSignal = () => {
    if (!lab) interrupted.abort();
    else {
      void lab
        .down({ interrupted: true })
        .catch((err: Error) => process.stderr.write(`taking lab ${lab!.name} down after the signal failed: ${err.message}\n`))
        .finally(() => process.exit(130));
    }
  };
  before(async function () {
    this.timeout(upTimeoutMs);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      lab = await Lab.up({ replace: true, ...options, signal: interrupted.signal }, new Progress(true));
    } catch (err) {
      if (interrupted.signal.aborted) process.exit(130);
      throw err;
    }
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

/** Everything a lab of this name could leave on the host, as readable lines; empty when the host is clean of it. */
export async function leftoversOf(name: string): Promise<string[]> {
  return describeLeftovers(await findLeftovers(labRunDir(name), new LabHostNames(name)));
}
