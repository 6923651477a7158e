import type { Configuration } from '@synrace/agents';
import type { GatewayCost } from './gateway-throughput';

type Cost = Pick<GatewayCost, 'cpuMsPerMB' | 'cpuMsPerMBRuns'>;

/** The patent's claim, as the bench can test it: B's spoofing and C's tunnel spare the gateway work that A's NAT does. */
const CLAIM = 'B and C cost the gateway less CPU per MB than A';

/**
 * Against A's downloads: lower than every one, higher than every one, or within their spread. Three runs a
 * side, so a separation this clean happens by chance one time in twenty per direction.
 */
type Comparison = 'less' | 'more' | 'within the run-to-run spread';

export interface ClaimVerdict {
  claim: string;
  /** Undecided when A, B or C was not measured. */
  outcome: 'confirmed' | 'refuted' | 'undecided';
  comparisons: Partial<Record<Configuration, Comparison>>;
  text: string;
}

function compare(runs: number[], baseline: number[]): Comparison {
  if (Math.max(...runs) < Math.min(...baseline)) return 'less';
  if (Math.min(...runs) > Math.max(...baseline)) return 'more';
  return 'within the run-to-run spread';
}

const describe = (configuration: Configuration, cost: Cost): string => `${configuration} ${cost.cpuMsPerMB.toFixed(2)} ms/MB (runs ${cost.cpuMsPerMBRuns.map((r) => r.toFixed(2)).join(', ')})`;

/** The gateway agent's cost of each configuration measured. */
export function claimVerdict(costs: Partial<Record<Configuration, Cost>>): ClaimVerdict {
  const { A, B, C } = costs;
  if (!A || !B || !C) return { claim: CLAIM, outcome: 'undecided', comparisons: {}, text: `Verdict on "${CLAIM}": undecided, not every configuration was measured.` };
  const comparisons = { B: compare(B.cpuMsPerMBRuns, A.cpuMsPerMBRuns), C: compare(C.cpuMsPerMBRuns, A.cpuMsPerMBRuns) };
  // The claim is a saving: a difference within the noise is no saving, so only "less" twice confirms it.
  const outcome = comparisons.B === 'less' && comparisons.C === 'less' ? 'confirmed' : 'refuted';
  const against = (configuration: 'B' | 'C', cost: Cost) => `${describe(configuration, cost)}: ${comparisons[configuration]}`;
  return { claim: CLAIM, outcome, comparisons, text: `Verdict on "${CLAIM}": ${outcome}. ${describe('A', A)}; ${against('B', B)}; ${against('C', C)}.` };
}
