export { ConfigError } from './errors';
export type { Role, BoardInterface, Board, Site, Topology, RaceSettings, WinnerCacheSettings } from './topology';
export { raceSettings, DEFAULT_RACE_SETTINGS } from './topology';
export { loadTopology } from './load-topology';
export { BOARD_NAME } from './topology-rules';
export type { PathSpec, DelayProfile } from './profile';
export { loadProfile, oneWayDelay, pathBetween } from './profile';
export {
  shippedTopologyPath,
  shippedProfilePath,
  shippedInventoryPath,
  listShippedTopologies,
  listShippedProfiles,
} from './package-paths';
export { schemaPath, type SchemaName } from './schema-validation';
export type { CandidateTiming, ModeOutcome, PredictedMode, SitePrediction, SynchronizedHold } from './predict';
export { boundedHolds, predict, raceCandidates, synchronizedHolds } from './predict';
export { formatPredictionTable } from './prediction-table';
export { seededRandom } from './seeded-random';
export type { TcTreeOptions } from './tc-compiler';
export { compileTcTree, compileTcTeardown, renderTcScript } from './tc-compiler';
export { probeNetem, NETEM_PROBE, type NetemAvailability, type ScriptRunner } from './detect-netem';
export { parseAddress, parsePrefix, formatAddress, addressOf, networkOf, contains, overlaps, type Prefix } from './ipv4';
export { findSite, findBoard, interfaceOn, isRouter, boardsAt, boardsWithRole } from './topology-queries';
export { loadInventory, type Inventory, type InventoryBoard, type ConsoleLogin } from './inventory';
export { renderProfileYaml, renderTopologyYaml, type BoardYaml, type DirectedDelay, type SiteYaml } from './lab-yaml';
export { randomLab, type RandomLab, type RandomLabSite, type SatelliteKind } from './random-lab';
