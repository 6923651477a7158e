import { compileTcTeardown, compileTcTree, interfaceOn, probeNetem, renderTcScript, type DelayProfile, type Topology } from '@synrace/netem-profiles';
import type { SshShell } from '@synrace/hardware';

/** Boards whose WAN interface carries the geography. */
export function wanBoards(topology: Topology): string[] {
  return topology.boards.filter((b) => interfaceOn(b, 'wan')).map((b) => b.name);
}

/** Removes the board's tree; there may be none (first apply, or a board that was power-cycled). */
export function tcTeardownScript(topology: Topology, board: string): string {
  return compileTcTeardown(topology, board).map((argv) => `tc ${argv.join(' ')} 2>/dev/null || true`).join('\n');
}

/**
 * Kernel delays, as on real boards: the profile's tc tree replaces whatever the board's WAN interface
 * has. sch_netem is asked for first, so a kernel without it is named as the cause rather than failing
 * inside a tc script. `netem: false` leaves the netem leaves out (htb and u32 only), for kernels without
 * it, where only the classification can be checked. `timeScale` stretches the limits for an emulated board.
 */
export async function applyTcTree(shell: SshShell, topology: Topology, profile: DelayProfile, board: string, options: { netem?: boolean; timeScale?: number } = {}): Promise<void> {
  const { netem = true, timeScale = 1 } = options;
  if (netem) {
    const probe = await probeNetem((script) => shell.exec(script, { timeoutMs: 15_000 * timeScale }));
    // A board that did not answer the probe says nothing about its kernel.
    if (!probe.available && probe.reason.startsWith('cannot probe')) throw new Error(`could not check its kernel for sch_netem: ${probe.reason}`);
    if (!probe.available) {
      throw new Error(`its kernel has no sch_netem (${probe.reason}); Raspberry Pi OS kernels have it as a module. If the WAN between the boards already has the profile's delays, bring the lab up with --delay external`);
    }
  }
  const { code, stderr } = await shell.exec(`${tcTeardownScript(topology, board)}\n${renderTcScript(compileTcTree(topology, profile, board, { netem }))}`, { timeoutMs: 30_000 * timeScale });
  if (code !== 0) throw new Error(`applying the tc tree on ${board} failed: ${stderr.trim()}`);
}
