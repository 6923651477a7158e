import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DelayProfile, Topology } from '@synrace/netem-profiles';
import { killIfMatches, spawnDetached } from '@synrace/hardware';
import type { WanDelayConfig } from '@synrace/agents';
import { fileSize, waitForLogLine } from '../log-wait';
import type { LabState } from '../lab-state';
import type { RunDir } from '../run-dir';
import { WAN_NETNS, planLab, type LabPlan } from './lab-plan';

const AGENT_MAIN_JS = join(dirname(require.resolve('@synrace/agents/package.json')), 'dist/src/main.js');

export function wanDelayConfig(plan: LabPlan, profile: DelayProfile): WanDelayConfig {
  return { ports: plan.wanPorts.map((p) => ({ ifname: p.ifname, site: p.site })), paths: profile.paths };
}

/** The delay line is the agents' wan-delay role, run in the WAN namespace; returns its pid once it reports ready. */
export async function startWanDelayLine(runDir: RunDir, config: WanDelayConfig): Promise<number> {
  const configFile = runDir.path('wan', 'agent.json');
  mkdirSync(dirname(configFile), { recursive: true });
  writeFileSync(configFile, JSON.stringify({ board: 'wan', roles: { 'wan-delay': config } }, null, 2));
  const logFile = runDir.consoleLog('wan');
  const after = fileSize(logFile);
  const log = openSync(logFile, 'a');
  const pid = spawnDetached(['nsenter', `--net=/run/netns/${WAN_NETNS}`, 'node', AGENT_MAIN_JS, '--config', configFile], log);
  closeSync(log);
  await waitForLogLine(logFile, /wan-delay ready/, 10_000, 'WAN delay line', after);
  return pid;
}

/** A new profile for a live lab: the delay line is restarted with it (a brief WAN outage, as on a real re-route). */
export async function restartWanDelayLine(runDir: RunDir, state: LabState, topology: Topology, profile: DelayProfile): Promise<number> {
  if (state.pids.wanDelay !== undefined) {
    killIfMatches(state.pids.wanDelay, runDir.root);
    await waitForExit(state.pids.wanDelay, 5000);
  }
  copyFileSync(profile.source, state.profileFile);
  return startWanDelayLine(runDir, wanDelayConfig(planLab(topology), profile));
}

async function waitForExit(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (existsSync(`/proc/${pid}`)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} did not exit within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
