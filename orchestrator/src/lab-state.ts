import type { Role } from '@synrace/netem-profiles';
import type { ProtocolOptions } from './provision/agent-config';

/** 'external': a hardware WAN that has the profile's delays already (a WAN emulator); checked by measuring. */
export type DelayMode = 'userspace-delay-line' | 'kernel-netem' | 'external';

export type Backend = 'virtual' | 'hardware';

/** How the orchestrator logs in to a board; the host is its management address. */
export interface BoardLogin {
  port: number;
  user: string;
  privateKeyPath: string;
}

/** What a physical board has, from the inventory (labgrid's resources). */
export interface PhysicalBoard {
  /** The label on the board; the lab knows it by the topology board it plays. */
  label: string;
  serialPath: string;
  relay: { bcmPin: number; activeLow: boolean };
  /** Topology interface name -> the board's own NIC name. */
  interfaces: Record<string, string>;
}

export interface BoardState {
  name: string;
  site: string;
  roles: Role[];
  mgmtAddress: string;
  login: BoardLogin;
  /** The board's sshd host key, pinned: every SSH connection to the board must present exactly this key. */
  hostKey: string;
  power: 'on' | 'off';
  /** Virtual boards: the board's network namespace. */
  netns?: string;
  /** Hardware boards. */
  physical?: PhysicalBoard;
}

export interface LabState {
  version: 1;
  backend: Backend;
  /** Hardware labs: a copy of the inventory the lab was brought up from. */
  inventoryFile?: string;
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
