import { AgentControlClient, type BoardConfigFile } from '@synrace/agents';
import { findBoard, type DelayProfile, type Topology } from '@synrace/netem-profiles';
import type { SshShell } from '@synrace/hardware';
import { boardOf } from '../labs/board-access';
import type { BoardRecord, LabState, ProtocolOptions } from '../labs/lab-state';
import { agentConfigFor, CONTROL_PORT } from './agent-config';
import { ProvisionError, provisionBoard, type BoardLayout } from './provision';
export type { BoardLayout } from './provision';
import type { WebContent } from './web-content';

const AGENT_HEALTH_TIMEOUT_MS = 15_000;

/** The control API of a board's agent, with that board's own token. */
export function agentControl(state: LabState, board: string): AgentControlClient {
  const b = boardOf(state, board);
  if (!b.agentToken || !state.protocol) throw new Error(`board ${board} runs no agent in this lab`);
  return new AgentControlClient({ board, address: b.mgmtAddress, port: CONTROL_PORT, token: b.agentToken });
}

/** Boards that carry a protocol role or serve web content: not client hosts, and not a rogue. */
export function provisionedBoards(topology: Topology): string[] {
  return topology.boards.filter((b) => b.roles.some((r) => r !== 'client-host' && r !== 'rogue')).map((b) => b.name);
}

/** Boards whose agent has a control API. */
export function agentBoards(state: LabState): BoardRecord[] {
  return state.boards.filter((b) => b.agentToken !== undefined);
}

export interface LabProvisioning {
  state: LabState;
  topology: Topology;
  profile: DelayProfile;
  options: ProtocolOptions;
  content: WebContent;
  layoutOf: (board: string) => BoardLayout;
  /** Each provisioning step done on a board, with its time. */
  onStep?: (board: string, step: string, ms: number) => void;
}

/** A board's agent config in this lab, with its management address and its own token; none for a board without an agent. */
export function labAgentConfig(p: Pick<LabProvisioning, 'state' | 'topology' | 'profile' | 'options'>, name: string): BoardConfigFile | undefined {
  const record = boardOf(p.state, name);
  if (!record.agentToken) return undefined;
  return agentConfigFor(p.topology, p.profile, findBoard(p.topology, name)!, { mgmtAddress: record.mgmtAddress, token: record.agentToken }, p.options);
}

/** Provisions one board over its SSH shell; it is done when its agent (if it runs one) answers /health. */
export async function provisionLabBoard(p: LabProvisioning, name: string, shell: SshShell): Promise<void> {
  const board = findBoard(p.topology, name)!;
  const agentConfig = labAgentConfig(p, name);
  const serves = board.roles.includes('origin-server') || board.roles.includes('replica');
  const layout = p.layoutOf(name);
  const onStep = p.onStep && ((step: string, ms: number) => p.onStep!(name, step, ms));
  await provisionBoard({ board: name, shell, ...layout, agentConfig, web: serves ? { dynamic: board.roles.includes('origin-server'), content: p.content } : undefined, onStep });
  if (agentConfig) {
    try {
      await agentControl(p.state, name).waitHealthy(AGENT_HEALTH_TIMEOUT_MS * (layout.timeScale ?? 1));
    } catch (err) {
      throw new ProvisionError(name, 'wait for agent health', err as Error);
    }
  }
}
