import { delayLine } from './delay-line';
import { fidelity } from './fidelity';
import { handshake } from './handshake';
import { roleFuzz, synFlood } from './hostile-wan';
import { agentKill, lifecycle } from './lifecycle';
import { labScale } from './lab-scale';
import { load } from './load';
import { packetStages } from './packet-stages';
import { kernelPath } from './kernel-path';
import type { BenchSection } from './section';
import { throughput } from './throughput';
import { translationTable } from './translation-table';
import { vmLabBench } from './vm-lab';

/** In report order. */
export const SECTIONS: BenchSection[] = [labScale, delayLine, handshake, fidelity, load, agentKill, throughput, kernelPath, packetStages, translationTable, roleFuzz, synFlood, lifecycle, vmLabBench];
