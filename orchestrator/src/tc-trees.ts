import { compileTcTeardown, compileTcTree, interfaceOn, renderTcScript, type DelayProfile, type Topology } from '@synrace/netem-profiles';
import { allWithProgress, type Progress } from './progress';

/** What applying a tree needs of a board: a shell on it, as on a Pi. */
export type BoardRunner = (board: string, script: string) => Promise<{ code: number | null; stderr: string }>;

/**
 * Kernel delays, as on real boards: each WAN board gets the profile's tc tree on its WAN interface,
 * replacing whatever tree was there. `netem: false` leaves the netem leaves out (htb and u32 only), for
 * kernels without sch_netem, where only the classification can be checked.
 */
export async function applyTcTrees(topology: Topology, profile: DelayProfile, run: BoardRunner, progress: Progress, netem = true): Promise<void> {
  const boards = topology.boards.filter((b) => interfaceOn(b, 'wan')).map((b) => b.name);
  await allWithProgress(progress, 'tc tree applied on', boards, async (board) => {
    // The old tree may not exist (first apply): its removal may fail; the new tree may not.
    const teardown = compileTcTeardown(topology, board).map((argv) => `tc ${argv.join(' ')} 2>/dev/null || true`).join('\n');
    const { code, stderr } = await run(board, `${teardown}\n${renderTcScript(compileTcTree(topology, profile, board, { netem }))}`);
    if (code !== 0) throw new Error(`applying the tc tree on ${board} failed: ${stderr.trim()}`);
  });
}
