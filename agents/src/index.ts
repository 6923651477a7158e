// What other packages may use of the agents: the board config contract, the control API client,
// and the table dump they read. Everything else is the agent's own.
export { parseBoardConfig, type BoardConfig, type BoardConfigFile } from './board-config';
export type { WanDelayConfig } from './roles/wan-delay-config';
export { CONFIGURATIONS, type Configuration, type ClientGatewayConfigFile } from './roles/client-gateway-config';
export type { ServerSwitchConfigFile } from './roles/server-switch-config';
export { RACE_MODES, type RaceMode } from './race-mode';
export type { ReplicaConfigFile } from './roles/replica-config';
export type { ControlEndpoint } from './control/control-server';
export type { AgentCounters, AgentHealth, RoleName } from './control/control-api';
export { AgentControlClient, type ControlClientEndpoint } from './control/control-client';
export type { EntryDump, TableDump, TableCounters, EntryState, Via, WinnerCacheDump } from './table';
export type { TableOptions } from './table';
export { AGENT_MAIN_SCRIPT, AGENT_BUNDLE_DIR } from './artifacts';
