import type { Lab } from '@synrace/orchestrator';
import { onBoard } from './board-command';

/** Cumulative counters of a gateway: its agent's CPU time and the packets its data interfaces received. */
export interface GatewayLoad {
  cpuMs: number;
  rxPackets: Record<string, number>;
}

/** utime + stime (fields 14 and 15 of /proc/<pid>/stat, counted after the parenthesised name, which may hold spaces). */
function cpuTicks(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function rxPackets(netDev: string, ifname: string): number {
  const line = netDev.split('\n').find((l) => l.trim().startsWith(`${ifname}:`));
  if (!line) throw new Error(`no interface ${ifname} in /proc/net/dev`);
  return Number(line.split(':')[1].trim().split(/\s+/)[1]);
}

/** Reads both in one SSH exec, so the two counters describe the same moment. */
export async function sampleGatewayLoad(lab: Lab, gateway: string, agentPid: number, interfaces: string[]): Promise<GatewayLoad> {
  const out = await onBoard(lab, gateway, `getconf CLK_TCK; cat /proc/${agentPid}/stat; cat /proc/net/dev`);
  const [ticksPerSecond, stat, ...netDev] = out.split('\n');
  return {
    cpuMs: (cpuTicks(stat) * 1000) / Number(ticksPerSecond),
    rxPackets: Object.fromEntries(interfaces.map((i) => [i, rxPackets(netDev.join('\n'), i)])),
  };
}
