import { runInNamespace, withScratchNamespace } from './netns';

export interface NetemAvailability {
  available: boolean;
  /** What the probe saw, e.g. tc's error text. */
  reason: string;
}

/**
 * Asks the kernel rather than reading its config: a module may be loadable, or
 * the config may be absent. The probe runs in a scratch namespace so it never
 * touches a real interface.
 */
export async function detectNetem(): Promise<NetemAvailability> {
  try {
    return await withScratchNamespace('srt-probe', async (ns) => {
      try {
        await runInNamespace(ns, 'tc', ['qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']);
        return { available: true, reason: 'tc qdisc add dev lo root netem delay 1ms succeeded' };
      } catch (e) {
        return { available: false, reason: (e as Error).message };
      }
    });
  } catch (e) {
    return { available: false, reason: `cannot probe (network namespaces need root): ${(e as Error).message}` };
  }
}
