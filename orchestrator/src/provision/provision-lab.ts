import { findBoard, type DelayProfile, type Topology } from '@synrace/netem-profiles';
import { AgentControl } from '../agent-control';
import { connectBoard } from '../board-access';
import type { LabState } from '../lab-state';
import { allWithProgress, type Progress } from '../progress';
import type { RunDir } from '../run-dir';
import { boardFsRoot } from '../virtual/virtual-lab';
import { agentConfigFor, type ProtocolOptions } from './agent-config';
import { ProvisionError, provisionBoard } from './provision';
import { writeWebContent } from './web-content';

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

/** Provisions every board in parallel; a board is done when its agent answers /health. */
export async function provisionLab(runDir: RunDir, state: LabState, topology: Topology, profile: DelayProfile, options: ProtocolOptions, progress: Progress): Promise<void> {
  const content = writeWebContent(runDir.path('content'));
  await allWithProgress(progress, 'provisioned', provisionedBoards(topology), async (name) => {
    const board = findBoard(topology, name)!;
    const mgmt = state.boards.find((b) => b.name === name)!.mgmtAddress;
    const agentConfig = agentConfigFor(topology, profile, board, mgmt, options);
    const serves = board.roles.includes('origin-server') || board.roles.includes('replica');
    const shell = await connectBoard(runDir, state, name);
    try {
      await provisionBoard({
        board: name,
        shell,
        fsRoot: boardFsRoot(runDir, name),
        consoleTty: `${runDir.boardDir(name)}/ttyS0`,
        node: process.execPath,
        agentConfig,
        web: serves ? { dynamic: board.roles.includes('origin-server'), content } : undefined,
      });
    } finally {
      shell.close();
    }
    if (agentConfig) {
      try {
        await agentControl(state, name).waitHealthy(AGENT_HEALTH_TIMEOUT_MS);
      } catch (err) {
        throw new ProvisionError(name, 'wait for agent health', err as Error);
      }
    }
  });
}
