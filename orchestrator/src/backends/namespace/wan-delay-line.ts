import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { AGENT_MAIN_SCRIPT, type BoardConfigFile, type WanDelayConfig } from '@synrace/agents';
import type { DelayProfile } from '@synrace/netem-profiles';
import { signalRecorded, spawnDetached, waitForConsole } from '@synrace/hardware';
import type { RunDir } from '../../labs/run-dir';
import type { LabPlan } from './lab-plan';

/** The delay line's entry in the lab's manifest. */
export const DELAY_LINE = 'wan-delay line';

export function wanDelayConfig(plan: LabPlan, profile: DelayProfile): WanDelayConfig {
  // Each port's board MAC is pinned to it: no frame from another port can take that station over.
  return {
    ports: plan.wanPorts.map((p) => {
      const board = plan.boards.find((b) => b.name === p.board)!;
      const wan = board.interfaces.find((i) => i.network === 'wan')!;
      return { ifname: p.ifname, site: p.site, mac: board.macs[wan.name] };
    }),
    paths: profile.paths,
  };
}

/** The delay line is the agents' wan-delay role, run in the WAN namespace; it is recorded in the manifest and ready when it says so. */
export async function startWanDelayLine(runDir: RunDir, plan: LabPlan, config: WanDelayConfig): Promise<void> {
  const configFile = runDir.path('wan', 'agent.json');
  mkdirSync(dirname(configFile), { recursive: true });
  const file: BoardConfigFile = { board: 'wan', roles: { 'wan-delay': config } };
  writeFileSync(configFile, JSON.stringify(file, null, 2));
  const logFile = runDir.consoleLog('wan');
  const since = existsSync(logFile) ? statSync(logFile).size : 0;
  const log = openSync(logFile, 'a');
  // Its temporary files (the engine's plan and counters) go in the lab's run folder, which `down` removes: `down`
  // kills the delay line outright, so the files it would remove on SIGTERM stay behind wherever they are.
  const pid = spawnDetached(['nsenter', `--net=/run/netns/${plan.names.wanNetns}`, 'env', `TMPDIR=${dirname(configFile)}`, process.execPath, AGENT_MAIN_SCRIPT, '--config', configFile], log);
  closeSync(log);
  runDir.manifest().recordProcess(DELAY_LINE, pid);
  await waitForConsole(logFile, /wan-delay ready/, 10_000, { since, format: 'plain' });
}

/** A new profile for a live lab: the delay line is restarted with it (a brief WAN outage, as on a real re-route). */
export async function restartWanDelayLine(runDir: RunDir, plan: LabPlan, profile: DelayProfile, profileCopy: string): Promise<void> {
  const manifest = runDir.manifest();
  for (const line of manifest.of('process').filter((p) => p.what === DELAY_LINE)) {
    signalRecorded(line.pid, line.startTime, 'SIGTERM');
    await waitForExit(line.pid, 5000);
  }
  manifest.forget((e) => e.kind === 'process' && e.what === DELAY_LINE);
  copyFileSync(profile.source, profileCopy);
  await startWanDelayLine(runDir, plan, wanDelayConfig(plan, profile));
}

async function waitForExit(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (existsSync(`/proc/${pid}`)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} did not exit within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
