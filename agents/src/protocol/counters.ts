/** Named event counters of a role, as the control API shows them. */
export class Counters {
  private readonly values = new Map<string, number>();

  add(name: string, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by);
  }

  get(name: string): number {
    return this.values.get(name) ?? 0;
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.values.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }
}

/** Adds what a classifier counted for the role to its counters' JSON; a name stays out while neither counted it. */
export function addKernelCount(out: Record<string, number>, name: string, by: number): void {
  if (by > 0) out[name] = (out[name] ?? 0) + by;
}
