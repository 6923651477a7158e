import { renderFidelity, runFidelity } from '@synrace/orchestrator';
import type { WorldLabSection } from './section';

/** Fixed, so that two bench runs judge the predictor on the same geographies. */
const SEED = 1;
const GEOGRAPHIES = 5;
const CONNECTIONS = 3;

export const fidelity: WorldLabSection = {
  name: 'fidelity',
  title: `Predictor fidelity on ${GEOGRAPHIES} random geographies (seeds ${SEED} to ${SEED + GEOGRAPHIES - 1}): predicted vs observed winner and handshake, every mode`,
  needs: 'world-lab',
  async run(_context, lab) {
    const result = await runFidelity(lab, { seed: SEED, geographies: GEOGRAPHIES, connections: CONNECTIONS });
    return { result, text: renderFidelity(result) };
  },
};
