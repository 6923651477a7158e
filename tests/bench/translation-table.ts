import { agentBenchmarkSection } from './agent-benchmark';

/** agents' table-lookups output: rates per second. */
interface TableLookups {
  entries: number;
  insertsPerSecond: number;
  clientSideLookupsPerSecond: { uniform: number; busy1000: number };
  answerLookupsPerSecond: { uniform: number; busy1000: number };
  idleSweepsPerSecond: number;
}

const perSecond = (n: number): string => `${(n / 1e6).toFixed(2)} M/s`;

function render(r: TableLookups): string {
  return [
    `entries: ${r.entries.toLocaleString('en')}`,
    `inserts: ${perSecond(r.insertsPerSecond)}`,
    `client-side lookups: ${perSecond(r.clientSideLookupsPerSecond.uniform)} uniform over all entries, ${perSecond(r.clientSideLookupsPerSecond.busy1000)} over 1,000 busy connections`,
    `answer lookups: ${perSecond(r.answerLookupsPerSecond.uniform)} uniform, ${perSecond(r.answerLookupsPerSecond.busy1000)} busy`,
    `idle sweeps: ${r.idleSweepsPerSecond.toLocaleString('en')} per second`,
  ].join('\n');
}

export const translationTable = agentBenchmarkSection<TableLookups>('table', 'table-lookups', 'Translation table at 100k entries', 'inserts, both lookup paths, sweeps', render);
