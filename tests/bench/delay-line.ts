import { renderTable } from '@synrace/orchestrator';
import { agentBenchmarkSection } from './agent-benchmark';

/** The part of agents' delay-accuracy output this report reads. */
interface DelayAccuracy {
  configuredDelayMs: number;
  frameBytes: number;
  at1000pps: { medianErrorMs: number; p99ErrorMs: number };
  maxRatePpsWithP99ErrorUnder1ms: number;
  steps: { ratePps: number; sent: number; received: number; medianErrorMs: number; p99ErrorMs: number; maxErrorMs: number }[];
}

function render(r: DelayAccuracy): string {
  const summary = [
    `configured one-way delay ${r.configuredDelayMs} ms, ${r.frameBytes}-byte frames; error = delivered delay minus configured`,
    `at 1,000 pkt/s: median error ${r.at1000pps.medianErrorMs} ms, p99 error ${r.at1000pps.p99ErrorMs} ms`,
    `highest rate with p99 error < 1 ms (and < 0.1 % loss): ${r.maxRatePpsWithP99ErrorUnder1ms.toLocaleString('en')} pkt/s`,
  ];
  const rows = r.steps.map((s) => [s.ratePps.toLocaleString('en'), s.sent, s.received, s.medianErrorMs, s.p99ErrorMs, s.maxErrorMs]);
  return [...summary, '', renderTable(['pkt/s', 'sent', 'received', 'median error ms', 'p99 error ms', 'max error ms'], rows)].join('\n');
}

export const delayLine = agentBenchmarkSection<DelayAccuracy>('delay-line', 'delay-accuracy', 'Delay-line accuracy', 'rates rise until p99 error reaches 1 ms', render);
