/** Progress for long work, on stderr so that stdout stays a clean table or JSON document. */
export class Progress {
  private readonly start = Date.now();
  constructor(private readonly quiet = false) {}

  step(message: string): void {
    if (this.quiet) return;
    const secs = ((Date.now() - this.start) / 1000).toFixed(2).padStart(6);
    process.stderr.write(`[${secs}s] ${message}\n`);
  }

  elapsedMs(): number {
    return Date.now() - this.start;
  }
}

/** Runs tasks concurrently and reports each completion as "label k/n". */
export async function allWithProgress<T>(progress: Progress, label: string, items: string[], task: (item: string) => Promise<T>): Promise<T[]> {
  let done = 0;
  return Promise.all(
    items.map(async (item) => {
      const result = await task(item);
      done += 1;
      progress.step(`${label} ${item} (${done}/${items.length})`);
      return result;
    }),
  );
}
