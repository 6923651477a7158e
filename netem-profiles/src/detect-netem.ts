export interface NetemAvailability {
  available: boolean;
  /** What the probe saw, e.g. tc's error text. */
  reason: string;
}

/** Runs a shell script where the kernel in question is: this host, or a board over SSH. */
export type ScriptRunner = (script: string) => Promise<{ code: number | null; stdout: string; stderr: string }>;

/** The probe: netem on lo of a throwaway network namespace, so no real interface is touched. */
export const NETEM_PROBE = "unshare --net sh -c 'tc qdisc add dev lo root netem delay 1ms' 2>&1";

/**
 * Asks the kernel rather than reading its config: a module may be loadable (the probe loads it on the
 * way), or the config may be absent. The same probe serves the host and every board, through `run`.
 */
export async function probeNetem(run: ScriptRunner): Promise<NetemAvailability> {
  try {
    const { code, stdout, stderr } = await run(NETEM_PROBE);
    if (code === 0) return { available: true, reason: 'tc qdisc add dev lo root netem delay 1ms succeeded' };
    return { available: false, reason: `tc qdisc add dev lo root netem delay 1ms: ${(stdout + stderr).trim() || `exit ${code}`}` };
  } catch (e) {
    return { available: false, reason: `cannot probe: ${(e as Error).message}` };
  }
}
