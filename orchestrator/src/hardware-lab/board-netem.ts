import type { SshShell } from '@synrace/hardware';
import type { NetemAvailability } from '@synrace/netem-profiles';

/**
 * Asks the board's kernel as detectNetem asks the host's: netem on lo of a scratch network namespace,
 * so no real interface is touched and a loadable sch_netem module is loaded on the way.
 */
export async function boardNetem(shell: SshShell): Promise<NetemAvailability> {
  const { code, stdout, stderr } = await shell.exec("unshare --net sh -c 'tc qdisc add dev lo root netem delay 1ms' 2>&1", { timeoutMs: 15_000 });
  return code === 0 ? { available: true, reason: 'tc qdisc add dev lo root netem delay 1ms succeeded' } : { available: false, reason: (stdout + stderr).trim() || `exit ${code}` };
}
