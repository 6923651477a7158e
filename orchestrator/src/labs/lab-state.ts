import type { Configuration, RaceMode } from '@synrace/agents';
import type { QemuMachineResource } from '@synrace/hardware';
import type { ConsoleLogin, Role } from '@synrace/netem-profiles';
import type { DelayCalibration } from '../delays/calibration';

/** 'external': a hardware WAN that has the profile's delays already (a WAN emulator); checked by measuring. */
export type DelayMode = 'userspace-delay-line' | 'kernel-netem' | 'external';

/** What the boards are: network namespaces on this host, QEMU machines, or physical boards of an inventory. */
export const BACKEND_KINDS = ['namespace', 'vm', 'hardware'] as const;
export type BackendKind = (typeof BACKEND_KINDS)[number];

/** The protocol the lab's agents run. */
export interface ProtocolOptions {
  configuration: Configuration;
  raceMode: RaceMode;
}

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

/** The lab's record of one board. */
export interface BoardRecord {
  name: string;
  site: string;
  roles: Role[];
  mgmtAddress: string;
  login: BoardLogin;
  /** The board's sshd host key, pinned: every SSH connection to the board must present exactly this key. */
  hostKey: string;
  power: 'on' | 'off';
  /** The bearer token of this board's agent control API: one per board, so one leaked board leaks only itself. */
  agentToken?: string;
  /** Namespace boards: the board's network namespace. */
  netns?: string;
  /** Hardware boards. */
  physical?: PhysicalBoard;
  /**
   * QEMU boards: the machine the lab made (disk, NICs on its TAPs, serial line, QMP socket), and the login its
   * flash gave the serial console (SSH takes keys only).
   */
  vm?: { machine: QemuMachineResource; console: ConsoleLogin };
}

export interface ManagementNetwork {
  subnet: string;
  hostAddress: string;
  prefixLength: number;
}

export interface LabState {
  version: 2;
  /** The lab's name: every host object it makes carries it, or the host id derived from it. */
  name: string;
  backend: BackendKind;
  /** 'creating' until every board is up; `down` cleans up either way. */
  phase: 'creating' | 'up';
  startedAt: string;
  /** Copies inside the run directory, so editing the originals does not change a live lab's plan. */
  topologyFile: string;
  profileFile: string;
  /** Hardware labs: a copy of the inventory the lab was brought up from. */
  inventoryFile?: string;
  /** The host's management network to the boards: namespace and vm labs make one; a shelf has its own. */
  management?: ManagementNetwork;
  /** Kernel netem labs: `calibration` once `up` has measured what the boards add to each path. */
  delay: { mode: DelayMode; probe: string; calibration?: DelayCalibration };
  boards: BoardRecord[];
  /** Absent while the boards are not provisioned yet. */
  protocol?: ProtocolOptions;
  /** How the bring-up spent its time, for `up --json` and the bench. */
  timings?: BringUpTimings;
}

/**
 * Milliseconds from the start of `up`: when the backend had made what the boards stand on, when the last
 * board reached each state of the bring-up, and when the lab was up.
 */
export interface BringUpTimings {
  createdMs: number;
  allReachedMs: Partial<Record<'powered' | 'booted' | 'reachable' | 'provisioned', number>>;
  /** Each board's steps: how long it took to reach each state from the one before. */
  stepMs?: Record<string, Partial<Record<'powered' | 'booted' | 'reachable' | 'provisioned', number>>>;
  upMs?: number;
}

/** The state as shown to a user: secrets stay out unless asked for (`--show-secrets`). */
export function shownState(state: LabState, showSecrets: boolean): LabState {
  if (showSecrets) return state;
  const hidden = '(hidden: --show-secrets)';
  return {
    ...state,
    boards: state.boards.map((b) => ({
      ...b,
      ...(b.agentToken ? { agentToken: hidden } : {}),
      ...(b.vm ? { vm: { ...b.vm, console: { ...b.vm.console, password: hidden } } } : {}),
    })),
  };
}
