import { compileTcTeardown, compileTcTree, interfaceOn, renderTcScript, type DelayProfile, type Topology } from '@synrace/netem-profiles';
import { allWithProgress, type Progress } from './progress';

/** What applying a tree needs of a board: a shell on it, as on a Pi. */
export type BoardRunner = (board: string, script: string) => Promise<{ code: number | null; stderr: string }>;

/** Boards whose WAN interface carries the geography. */
export function wanBoards(topology: Topology): string[] {
  return topology.boards.filter((b) => interfaceOn(b, 'wan')).map((b) => b.name);
}

/** Removes the board's tree; there may be none (first apply, or a board that was power-cycled). */
export function tcTeardownScript(topology: Topology, board: string): string {
  return compileTcTeardown(topology, board).map((argv) => `tc ${argv.join(' ')} 2>/dev/null || true`).join('\n');
}

/** Replaces whatever tree the board's WAN interface has with the profile's; the new tree must apply. */
export async function applyTcTree(topology: Topology, profile: DelayProfile, board: string, run: BoardRunner, netem = true): Promise<void> {
  const { code, stderr } = await run(board, `${tcTeardownScript(topology, board)}\n${renderTcScript(compileTcTree(topology, profile, board, { netem }))}`);
  if (code !== 0) throw new Error(`applying the tc tree on ${board} failed: ${stderr.trim()}`);
}

/**
 * Kernel delays, as on real boards: each WAN board gets the profile's tc tree on its WAN interface.
 * `netem: false` leaves the netem leaves out (htb and u32 only), for kernels without sch_netem, where
 * only the classification can be checked.
 */
export async function applyTcTrees(topology: Topology, profile: DelayProfile, run: BoardRunner, progress: Progress, netem = true): Promise<void> {
  await allWithProgress(progress, 'tc tree applied on', wanBoards(topology), (board) => applyTcTree(topology, profile, board, run, netem));
}
