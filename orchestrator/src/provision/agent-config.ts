import type { BoardConfigFile } from '@synrace/agents';
import { addressOf, boardsWithRole, findSite, interfaceOn, raceSettings, synchronizedHolds, type Board, type DelayProfile, type Topology } from '@synrace/netem-profiles';
import type { ProtocolOptions } from '../labs/lab-state';
import { DYNAMIC_PORT, STATIC_PORT } from './nginx-config';

export const CONTROL_PORT = 9180;
/** Both the static site and the origin's dynamic application are web content: their SYNs are tagged. */
export const WEB_PORTS = [STATIC_PORT, DYNAMIC_PORT];
/** Only the static site is replicated; the dynamic port is the origin's alone. */
export const REPLICATABLE_PORTS = [STATIC_PORT];
/** 1500-byte links minus the outer IPv4 header (20) of an encapsulated copy, minus inner IPv4 and TCP headers. */
export const MAX_MSS = 1500 - 20 - 20 - 20;
/** Far above what a lab replica reaches; busy is normally forced through the control API. */
const BUSY_LOAD = 50;

function wanAddress(board: Board): string {
  const wan = interfaceOn(board, 'wan');
  if (!wan) throw new Error(`board ${board.name} has no wan interface`);
  return addressOf(wan.address);
}

/** The address clients connect to: the origin server's own (LAN) address. */
export function originAddress(topology: Topology): string {
  const origin = boardsWithRole(topology, 'origin-server')[0];
  return addressOf((interfaceOn(origin, 'lan') ?? interfaceOn(origin, 'wan'))!.address);
}

/** The address a race candidate answers from, as the gateway's table names it. */
export function candidateAddress(topology: Topology, board: Board): string {
  return board.roles.includes('replica') ? wanAddress(board) : originAddress(topology);
}

/** Synchronized race holds by candidate address, as the switch looks them up; the predictor computes them. */
export function holdsByAddress(topology: Topology, profile: DelayProfile): Record<string, number> {
  return Object.fromEntries(synchronizedHolds(topology, profile).map((h) => [candidateAddress(topology, topology.boards.find((b) => b.name === h.board)!), h.holdMs]));
}

/** The client hosts a gateway routes for: its site's LAN. */
function clientPrefix(topology: Topology, gateway: Board): string {
  const lan = findSite(topology, gateway.site)?.lan;
  if (!lan) throw new Error(`client gateway ${gateway.name} is at site ${gateway.site}, which has no lan`);
  return lan;
}

/** What a board's agent config needs beyond the topology: its management address and its own control token. */
export interface AgentIdentity {
  mgmtAddress: string;
  token: string;
}

/** The agent configuration of one board, or undefined when the board runs no protocol role. */
export function agentConfigFor(topology: Topology, profile: DelayProfile, board: Board, identity: AgentIdentity, options: ProtocolOptions): BoardConfigFile | undefined {
  const roles: BoardConfigFile['roles'] = {};
  const replicas = boardsWithRole(topology, 'replica').map(wanAddress);
  if (board.roles.includes('client-gateway')) {
    roles['client-gateway'] = {
      lanInterface: interfaceOn(board, 'lan')!.name,
      wanInterface: interfaceOn(board, 'wan')!.name,
      webPorts: WEB_PORTS,
      configuration: options.configuration,
      maxMss: MAX_MSS,
      localAddresses: [...board.interfaces.map((i) => addressOf(i.address)), identity.mgmtAddress],
      candidates: [{ server: originAddress(topology), replicas }],
      winnerCache: { ...raceSettings(topology).winnerCache, tunnelSource: wanAddress(board) },
      kernelPath: raceSettings(topology).kernelPath,
    };
  }
  if (board.roles.includes('server-switch')) {
    roles['server-switch'] = {
      wanInterface: interfaceOn(board, 'wan')!.name,
      switchAddress: wanAddress(board),
      webPorts: WEB_PORTS,
      origins: [{ address: originAddress(topology), replicas, replicatablePorts: REPLICATABLE_PORTS }],
      raceMode: options.raceMode,
      holdMs: holdsByAddress(topology, profile),
      holdBudgetMs: raceSettings(topology).holdBudgetMs,
      gateways: boardsWithRole(topology, 'client-gateway').map(wanAddress),
      fanOutLimit: raceSettings(topology).fanOut,
      kernelPath: raceSettings(topology).kernelPath,
    };
  }
  if (board.roles.includes('replica')) {
    roles.replica = {
      ownAddress: wanAddress(board),
      serverAddresses: [originAddress(topology)],
      configuration: options.configuration,
      busyLoad: BUSY_LOAD,
      switchAddresses: boardsWithRole(topology, 'server-switch').map(wanAddress),
      kernelPath: raceSettings(topology).kernelPath,
      // A sends cached start packets addressed to the replica; B and C tunnel them from the gateways.
      ...(options.configuration === 'A' ? {} : { gateways: boardsWithRole(topology, 'client-gateway').map((g) => ({ address: wanAddress(g), clients: [clientPrefix(topology, g)] })) }),
    };
  }
  if (Object.keys(roles).length === 0) return undefined;
  return { board: board.name, roles, control: { address: identity.mgmtAddress, port: CONTROL_PORT, token: identity.token } };
}
