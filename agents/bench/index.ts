// The agents' micro-benchmarks, as the project's bench (npm run bench) runs them.
import { join } from 'node:path';

export { percentile, round3 } from './stats';
export type { DelayAccuracyStep } from './delay-accuracy';
export type { PacketStages } from './packet-stages';
export type { KernelPathSeries, KernelPathThroughput } from './kernel-path';

export const AGENT_BENCHMARKS = ['delay-accuracy', 'table-lookups', 'timer-precision', 'role-fuzz', 'syn-flood', 'packet-stages', 'kernel-path'] as const;
export type AgentBenchmark = (typeof AGENT_BENCHMARKS)[number];

/** The script of a benchmark: it prints progress on stderr and one JSON document on stdout. */
export function agentBenchmarkScript(name: AgentBenchmark): string {
  return join(__dirname, `${name}.js`);
}
