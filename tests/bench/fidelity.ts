import { renderFidelity, runFidelity } from '@synrace/orchestrator';
import type { HostSection } from './section';

/** Fixed, so that two bench runs judge the predictor on the same random labs; few, since each is a lab brought up and down. */
const SEED = 1;
const GEOGRAPHIES = 3;
const CONNECTIONS = 3;

export const fidelity: HostSection = {
  name: 'fidelity',
  title: `Predictor fidelity on ${GEOGRAPHIES} random labs (seeds ${SEED} to ${SEED + GEOGRAPHIES - 1}), every mode: connections won by the predicted, the truly closest and the lowest-downlink site; misses against the measured noise`,
  needs: 'host',
  async run({ progress, signal }) {
    const result = await runFidelity({ seed: SEED, geographies: GEOGRAPHIES, connections: CONNECTIONS, configuration: 'A' }, signal, progress);
    return { result, text: renderFidelity(result, `synrace fidelity --seed ${SEED} --geographies ${GEOGRAPHIES} --connections ${CONNECTIONS} --config A`) };
  },
};
