import type { ControlSwitchName, RoleName } from '../control/control-api';
import type { TableDump } from '../table/table-dump';

/** A started role as the agent's entry point and control API see it. */
export interface RunningRole {
  name: RoleName;
  counters(): Record<string, unknown> | unknown[];
  table?(): TableDump;
  /** Control API switches this role answers to (POST /switch/<name>). */
  switches?: Partial<Record<ControlSwitchName, (value: unknown) => unknown>>;
  stop(): void;
}


export function booleanSwitch(name: string, apply: (on: boolean) => void): (value: unknown) => unknown {
  return (value) => {
    if (typeof value !== 'boolean') throw new Error(`${name} takes true or false, got ${JSON.stringify(value)}`);
    apply(value);
    return { [name]: value };
  };
}
