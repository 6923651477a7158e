import type { RunJudgement, SiteVerdict } from './verify';
import { withinTolerance, type RttSample } from './delays/rtt';
import { Lab, type LabUpOptions } from './lab';
import type { LabState } from './labs/lab-state';
import { newRunFolder } from './labs/run-folders';
import { Progress } from './progress';

export interface DemoResult {
  /** The lab as it was up: its boards, addresses and delay mode. */
  state: LabState;
  rtt: RttSample[];
  verdicts: SiteVerdict[];
  judged: RunJudgement;
  report: string;
  /** Every RTT path within tolerance and every client site on its predicted winner, near ties within the measured noise apart. */
  ok: boolean;
}

export interface DemoHooks {
  /** Told once the lab is up, before anything is measured (the CLI prints the board table). */
  onUp?(lab: Lab): Promise<void>;
  /** Told once the RTT matrix is measured. */
  onRtt?(samples: RttSample[]): void;
}

/**
 * The main job: bring a lab up, measure its RTT matrix against the profile, verify closest-replica
 * selection from every client site in both race modes (with a report), and take the lab down again,
 * whatever happened.
 */
export async function runDemo(options: LabUpOptions, connections: number, progress = new Progress(), hooks: DemoHooks = {}): Promise<DemoResult> {
  const lab = await Lab.up(options, progress);
  try {
    const state = lab.state();
    await hooks.onUp?.(lab);
    progress.step('measuring the RTT matrix from every client host');
    // Right after bring-up: the boards' services are still starting, which only ever adds to a round trip.
    const rtt = await lab.measureRttSettled(10, 2);
    hooks.onRtt?.(rtt);
    progress.step(`verifying closest-replica selection: ${connections} fresh connections per client site and race mode`);
    const { verdicts, judged, report } = await lab.verify(['plain', 'synchronized'], connections, newRunFolder(lab.name));
    return { state, rtt, verdicts, judged, report: report!, ok: rtt.every(withinTolerance) && judged.misses.length === 0 };
  } finally {
    await lab.down();
  }
}
