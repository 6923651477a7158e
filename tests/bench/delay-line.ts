import type { DelayAccuracyStep as Step } from '@synrace/agents/bench';
import { renderTable } from '@synrace/orchestrator';
import { agentBenchmarkSection } from './agent-benchmark';

/** The part of agents' delay-accuracy output this report reads. */
interface DelayAccuracy {
  configuredDelayMs: number;
  frameBytes: number;
  steps: Step[];
}

/** Issue 16's bars for the delay line, each judged on the step at its rate. */
const TARGETS: { ratePps: number; what: string; met: (s: Step) => boolean }[] = [
  { ratePps: 10_000, what: 'median error <= 0.071 ms (kernel netem, MoonEm)', met: (s) => s.medianErrorMs <= 0.071 },
  { ratePps: 10_000, what: 'max error < 1 ms', met: (s) => s.maxErrorMs < 1 },
  { ratePps: 100_000, what: 'p99 error < 1 ms', met: (s) => s.p99ErrorMs < 1 },
];

/** A miss beside the machine's own late wakeups in the same step says whose it is. */
function verdict(step: Step, met: boolean): string {
  if (met) return 'met';
  if (step.machineMaxWakeLateMs < 1) return 'not met';
  return `not met; in the same step the machine woke a real-time thread up to ${step.machineMaxWakeLateMs} ms late`;
}

function render(r: DelayAccuracy): string {
  const at = (rate: number) => r.steps.find((s) => s.ratePps === rate);
  const verdicts = TARGETS.map((t) => {
    const step = at(t.ratePps);
    return [t.ratePps.toLocaleString('en'), t.what, step ? verdict(step, t.met(step)) : 'not measured'];
  });
  const rows = r.steps.map((s) => [
    s.ratePps.toLocaleString('en'), s.sent, s.received, s.medianErrorMs, s.p99ErrorMs, s.maxErrorMs, s.maxErrorFromSenderMs,
    s.machineMaxWakeLateMs, s.machineWakesLateOver1ms, s.stealPct,
  ]);
  return [
    `configured one-way delay ${r.configuredDelayMs} ms, ${r.frameBytes}-byte frames; error = far-end receive minus the line's ingress receive (both kernel`,
    `timestamps), minus the configured delay; "from sender" starts at the sender's clock read instead, so it also holds this benchmark's own send path;`,
    `machine: a real-time thread ticking beside the engine in the same seconds (native/wake-probe), its latest wakeup and its wakeups over 1 ms late;`,
    `steal: the share of this VM's CPU time its host reported giving to others during the step`,
    '',
    renderTable(['pkt/s', 'sent', 'received', 'median error ms', 'p99 error ms', 'max error ms', 'max from sender ms', 'machine late ms', 'machine >1 ms', 'steal %'], rows),
    '',
    renderTable(['pkt/s', 'target', 'verdict'], verdicts),
  ].join('\n');
}

export const delayLine = agentBenchmarkSection<DelayAccuracy>('delay-line', 'delay-accuracy', 'Delay-line accuracy', 'every rate from 1k to 100k pkt/s, 3 s each', render);
