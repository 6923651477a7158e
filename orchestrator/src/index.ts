export { Lab, DEFAULT_PROFILE, DEFAULT_TOPOLOGY, resolveProfile, resolveTopology, type LabUpOptions } from './lab';
export type { BoardState, LabState, DelayMode } from './lab-state';
export { RunDir } from './run-dir';
export { Progress } from './progress';
export { planLab, LAB_PREFIX, MGMT_BRIDGE, WAN_NETNS, type LabPlan, type BoardPlan } from './virtual/lab-plan';
export { withinTolerance, pingTargetOf, clientSites, type RttSample } from './rtt';
export { renderTable } from './table';
export { findLeftovers, describeLeftovers, type Leftovers } from './virtual/leftovers';
