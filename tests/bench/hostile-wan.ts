import { renderTable } from '@synrace/orchestrator';
import { agentBenchmarkSection } from './agent-benchmark';

/** The parts of the agents' role-fuzz output this report reads. */
interface RoleFuzz {
  framesPerRole: number;
  seed: number;
  crashes: number;
  roles: ({ role: string; frames: number; stateAtEnd: number; stateAfterExpiry: number; memoryMb: { what: string; afterTenth: number; atEnd: number }; seconds: number } | { role: string; crashed: string })[];
}

function renderFuzz(r: RoleFuzz): string {
  const rows = r.roles.map((x) =>
    'crashed' in x ? [x.role, 'CRASHED', x.crashed, '', '', ''] : [x.role, x.frames.toLocaleString('en'), 0, x.stateAfterExpiry, `${x.memoryMb.what} ${x.memoryMb.afterTenth} -> ${x.memoryMb.atEnd}`, x.seconds.toFixed(1)],
  );
  return [
    `${r.framesPerRole.toLocaleString('en')} hostile frames per role (truncated, bad IHL, bad options, IPIP in IPIP, fragments, random flags), seed ${r.seed} (replay: node agents/dist/bench/role-fuzz.js)`,
    `crashes: ${r.crashes}`,
    '',
    renderTable(['role', 'frames', 'crashes', 'state left after timeouts', 'memory MB (a tenth in -> end)', 's'], rows),
  ].join('\n');
}

/** The parts of the agents' syn-flood output this report reads. */
interface SynFlood {
  rate: number;
  seconds: number;
  normalHandshakeMs: { median: number };
  phases: { target: string; sent: number; medianHandshakeMs: number; ratioToNormal: number; failedHandshakes: number; tableMax: number; tableBound: number; rssMb: Record<string, { before: number; peak: number; after: number }> }[];
}

function renderFlood(r: SynFlood): string {
  const rows = r.phases.map((p) => [
    p.target,
    p.sent.toLocaleString('en'),
    `${p.medianHandshakeMs} ms (${p.ratioToNormal}x)`,
    p.failedHandshakes,
    `${p.tableMax} / ${p.tableBound}`,
    Object.entries(p.rssMb).map(([agent, m]) => `${agent} ${m.before}->${m.peak}->${m.after}`).join(', '),
  ]);
  return [
    `${r.rate.toLocaleString('en')} SYN/s for ${r.seconds} s; legitimate handshakes before the flood: median ${r.normalHandshakeMs.median} ms`,
    '',
    renderTable(['flooded', 'SYNs sent', 'handshake during (ratio)', 'failed', 'table max / bound', 'RSS MB before->peak->after'], rows),
  ].join('\n');
}

export const roleFuzz = agentBenchmarkSection<RoleFuzz>('role-fuzz', 'role-fuzz', 'Hostile frames through every role', 'a million seeded frames per role', renderFuzz);
export const synFlood = agentBenchmarkSection<SynFlood>('syn-flood', 'syn-flood', 'SYN flood into a gateway and into the switch', '100k SYN/s for 10 s each', renderFlood);
