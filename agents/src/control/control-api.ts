// The control API's contract, shared by the server on the board and the client in the orchestrator,
// so that a path or a payload cannot drift between the two.
import type { TableDump } from '../table/table-dump';
import type { RaceMode } from '../race-mode';

/** Role names as a board config and the control API use them. */
export type RoleName = 'wan-delay' | 'client-gateway' | 'server-switch' | 'replica';

export interface AgentHealth {
  board: string;
  roles: RoleName[];
  uptimeMs: number;
  pid: number;
}

/** Each running role's counters, by role name: named event counts, and for the delay line one entry per path. */
export type AgentCounters = Partial<Record<RoleName, Record<string, unknown> | unknown[]>>;

/** GET endpoints and what they answer. */
export interface ControlReads {
  '/health': AgentHealth;
  '/counters': AgentCounters;
  '/table': TableDump;
}

/** POST /switch/<name> endpoints and the value each takes. */
export interface ControlSwitches {
  'race-mode': RaceMode;
  busy: boolean;
  dead: boolean;
  /** The client gateway's winner cache: off, every connection races (and the cache forgets). */
  'winner-cache': boolean;
  /** The client gateway's kernel path: off, every carried connection goes back to the agent, and new ones stay there. */
  'kernel-path': boolean;
  /** The switch's synchronized holds by candidate address (ms), for a geography changed live. */
  holds: Record<string, number>;
}

export type ControlReadPath = keyof ControlReads;
export type ControlSwitchName = keyof ControlSwitches;

export function switchPath(name: ControlSwitchName): string {
  return `/switch/${name}`;
}
