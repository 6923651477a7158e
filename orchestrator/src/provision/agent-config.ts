import { addressOf, boardsWithRole, interfaceOn, oneWayDelay, type Board, type DelayProfile, type Topology } from '@synrace/netem-profiles';
import { DYNAMIC_PORT, STATIC_PORT } from './nginx-config';

export type Configuration = 'A' | 'B' | 'C';
export type RaceMode = 'plain' | 'synchronized';

export interface ProtocolOptions {
  configuration: Configuration;
  raceMode: RaceMode;
  controlToken: string;
}

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

/**
 * Synchronized race: each candidate's copy waits D_max - d(switch -> candidate), so that
 * all arrive together. The origin sits at the switch's site, d = 0.
 */
export function synchronizedHolds(topology: Topology, profile: DelayProfile): Record<string, number> {
  const switchSite = boardsWithRole(topology, 'server-switch')[0].site;
  const candidates = [...boardsWithRole(topology, 'origin-server'), ...boardsWithRole(topology, 'replica')];
  const out = candidates.map((b) => ({ address: b.roles.includes('replica') ? wanAddress(b) : originAddress(topology), delay: oneWayDelay(profile, switchSite, b.site) }));
  const dMax = Math.max(...out.map((c) => c.delay));
  return Object.fromEntries(out.map((c) => [c.address, Number((dMax - c.delay).toFixed(3))]));
}

/** The agent configuration of one board, or undefined when the board runs no protocol role. */
export function agentConfigFor(topology: Topology, profile: DelayProfile, board: Board, mgmtAddress: string, options: ProtocolOptions): object | undefined {
  const roles: Record<string, unknown> = {};
  if (board.roles.includes('client-gateway')) {
    roles['client-gateway'] = {
      lanInterface: interfaceOn(board, 'lan')!.name,
      wanInterface: interfaceOn(board, 'wan')!.name,
      webPorts: WEB_PORTS,
      configuration: options.configuration,
      maxMss: MAX_MSS,
      localAddresses: [...board.interfaces.map((i) => addressOf(i.address)), mgmtAddress],
      candidates: [{ server: originAddress(topology), replicas: boardsWithRole(topology, 'replica').map(wanAddress) }],
    };
  }
  if (board.roles.includes('server-switch')) {
    roles['server-switch'] = {
      wanInterface: interfaceOn(board, 'wan')!.name,
      switchAddress: wanAddress(board),
      webPorts: WEB_PORTS,
      origins: [{ address: originAddress(topology), replicas: boardsWithRole(topology, 'replica').map(wanAddress), replicatablePorts: REPLICATABLE_PORTS }],
      raceMode: options.raceMode,
      holdMs: synchronizedHolds(topology, profile),
    };
  }
  if (board.roles.includes('replica')) {
    roles.replica = { ownAddress: wanAddress(board), serverAddresses: [originAddress(topology)], configuration: options.configuration, busyLoad: BUSY_LOAD };
  }
  if (Object.keys(roles).length === 0) return undefined;
  return { board: board.name, roles, control: { address: mgmtAddress, port: CONTROL_PORT, token: options.controlToken } };
}
