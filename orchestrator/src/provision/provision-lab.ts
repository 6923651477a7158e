import { findBoard, type DelayProfile, type Topology } from '@synrace/netem-profiles';
import { AgentControl } from '../agent-control';
import { connectBoard } from '../board-access';
import type { LabState } from '../lab-state';
import { allWithProgress, type Progress } from '../progress';
import { agentConfigFor, type ProtocolOptions } from './agent-config';
import { ProvisionError, provisionBoard, type ProvisionTarget } from './provision';
import type { WebContent } from './web-content';

const AGENT_HEALTH_TIMEOUT_MS = 15_000;

export function agentControl(state: LabState, board: string): AgentControl {
  const b = state.boards.find((x) => x.name === board);
  if (!b || !state.protocol) throw new Error(`board ${board} runs no agent in this lab`);
  return new AgentControl(board, b.mgmtAddress, state.protocol.controlToken);
}

/** Boards that carry a protocol role or serve web content: not client hosts, and not a rogue. */
export function provisionedBoards(topology: Topology): string[] {
  return topology.boards.filter((b) => b.roles.some((r) => r !== 'client-host' && r !== 'rogue')).map((b) => b.name);
}

/** Where provisioned files go on a board and how its services start: the backend decides. */
export type BoardLayout = Pick<ProvisionTarget, 'fsRoot' | 'init'>;

export interface LabProvisioning {
  state: LabState;
  topology: Topology;
  profile: DelayProfile;
  options: ProtocolOptions;
  content: WebContent;
  layoutOf: (board: string) => BoardLayout;
}

/** Provisions one board over SSH; it is done when its agent (if it runs one) answers /health. */
export async function provisionLabBoard(p: LabProvisioning, name: string): Promise<void> {
  const board = findBoard(p.topology, name)!;
  const mgmt = p.state.boards.find((b) => b.name === name)!.mgmtAddress;
  const agentConfig = agentConfigFor(p.topology, p.profile, board, mgmt, p.options);
  const serves = board.roles.includes('origin-server') || board.roles.includes('replica');
  const shell = await connectBoard(p.state, name);
  try {
    await provisionBoard({ board: name, shell, ...p.layoutOf(name), agentConfig, web: serves ? { dynamic: board.roles.includes('origin-server'), content: p.content } : undefined });
  } finally {
    shell.close();
  }
  if (agentConfig) {
    try {
      await agentControl(p.state, name).waitHealthy(AGENT_HEALTH_TIMEOUT_MS);
    } catch (err) {
      throw new ProvisionError(name, 'wait for agent health', err as Error);
    }
  }
}

/** Provisions every board that needs it, in parallel. */
export async function provisionLab(p: LabProvisioning, progress: Progress): Promise<void> {
  await allWithProgress(progress, 'provisioned', provisionedBoards(p.topology), (name) => provisionLabBoard(p, name));
}
