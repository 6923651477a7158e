/**
 * Undo actions registered as resources are made, run newest first. Every action runs even
 * when an earlier one fails, so a failing test still detaches its loop devices and unmounts.
 */
export class Cleanup {
  private readonly actions: Array<{ what: string; action: () => Promise<unknown> | unknown }> = [];

  add(what: string, action: () => Promise<unknown> | unknown): void {
    this.actions.push({ what, action });
  }

  async run(): Promise<void> {
    const failures: string[] = [];
    for (const { what, action } of this.actions.splice(0).reverse()) {
      try {
        await action();
      } catch (err) {
        failures.push(`${what}: ${(err as Error).message}`);
      }
    }
    if (failures.length > 0) throw new Error(`cleanup failed:\n  ${failures.join('\n  ')}`);
  }
}
