// The per-board agent configuration file: which roles this board runs.
import { readFileSync } from 'node:fs';
import { ConfigError } from './config-error';
import { nonEmptyString, numberIn, objectAt } from './config-fields';
import type { ControlEndpoint } from './control/control-server';
import { parseClientGatewayConfig, type ClientGatewayConfig, type ClientGatewayConfigFile } from './roles/client-gateway-config';
import { parseReplicaConfig, type ReplicaConfig, type ReplicaConfigFile } from './roles/replica-config';
import { parseServerSwitchConfig, type ServerSwitchConfig, type ServerSwitchConfigFile } from './roles/server-switch-config';
import { parseWanDelayConfig, WanDelayConfig } from './roles/wan-delay-config';

export interface BoardConfig {
  board: string;
  roles: { 'wan-delay'?: WanDelayConfig; 'client-gateway'?: ClientGatewayConfig; 'server-switch'?: ServerSwitchConfig; replica?: ReplicaConfig };
  /** The control API, on the management address only; absent for the WAN delay line. */
  control?: ControlEndpoint;
}

/** The config file the orchestrator writes for a board (JSON); parseBoardConfig checks it and gives a BoardConfig. */
export interface BoardConfigFile {
  board: string;
  roles: { 'wan-delay'?: WanDelayConfig; 'client-gateway'?: ClientGatewayConfigFile; 'server-switch'?: ServerSwitchConfigFile; replica?: ReplicaConfigFile };
  control?: ControlEndpoint;
}

const ROLE_PARSERS: { [R in keyof BoardConfig['roles']]-?: (raw: unknown, where: string) => BoardConfig['roles'][R] } = {
  'wan-delay': parseWanDelayConfig,
  'client-gateway': parseClientGatewayConfig,
  'server-switch': parseServerSwitchConfig,
  replica: parseReplicaConfig,
};

function parseControl(raw: unknown): ControlEndpoint {
  const obj = objectAt(raw, 'control');
  const token = nonEmptyString(obj, 'token', 'control');
  // A guessable token would let anything on the management network force replicas dead.
  if (token.length < 16) throw new ConfigError('control.token must be at least 16 characters');
  return { address: nonEmptyString(obj, 'address', 'control'), port: numberIn(obj, 'port', 'control', 1, 65535), token };
}

function isKnownRole(name: string): name is keyof typeof ROLE_PARSERS {
  return Object.prototype.hasOwnProperty.call(ROLE_PARSERS, name);
}

export function parseBoardConfig(raw: unknown): BoardConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('config must be a JSON object');
  const { board, roles } = raw as Record<string, unknown>;
  if (typeof board !== 'string' || board === '') throw new ConfigError('board must be a non-empty string');
  if (typeof roles !== 'object' || roles === null || Array.isArray(roles)) throw new ConfigError('roles must be an object');
  const names = Object.keys(roles);
  // An agent idle by mistake would look healthy; refuse it.
  if (names.length === 0) throw new ConfigError('roles is empty: nothing to run');
  const parsed: Record<string, unknown> = {};
  for (const name of names) {
    if (!isKnownRole(name)) {
      throw new ConfigError(`unknown role '${name}' (this agent knows: ${Object.keys(ROLE_PARSERS).join(', ')})`);
    }
    parsed[name] = ROLE_PARSERS[name]((roles as Record<string, unknown>)[name], `roles.${name}`);
  }
  const { control } = raw as Record<string, unknown>;
  return { board, roles: parsed as BoardConfig['roles'], ...(control === undefined ? {} : { control: parseControl(control) }) };
}

/** Reads and parses a JSON config file; every failure is a ConfigError naming the file. */
export function readBoardConfigJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ConfigError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}
