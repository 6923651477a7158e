import type { Role } from '@synrace/netem-profiles';
import type { ProtocolOptions } from './provision/agent-config';

export type DelayMode = 'userspace-delay-line' | 'kernel-netem';

export interface BoardState {
  name: string;
  site: string;
  roles: Role[];
  netns: string;
  mgmtAddress: string;
  /** The board's sshd host key, pinned: every SSH connection to the board must present exactly this key. */
  hostKey: string;
  power: 'on' | 'off';
}

export interface LabState {
  version: 1;
  backend: 'virtual';
  /** 'creating' until every board answered over SSH; `down` cleans up either way. */
  phase: 'creating' | 'up';
  startedAt: string;
  /** Copies inside the run directory, so editing the originals does not change a live lab's plan. */
  topologyFile: string;
  profileFile: string;
  delay: { mode: DelayMode; probe: string };
  boards: BoardState[];
  pids: { consoleServer?: number; serialCables: Record<string, number>; wanDelay?: number };
  /** Absent while the boards are not provisioned yet. */
  protocol?: ProtocolOptions;
}
