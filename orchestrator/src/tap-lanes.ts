/** One mocha run's TAP stream, fed to the interleaver as it comes. */
export interface TapLane {
  write(chunk: Buffer): void;
  /** The run ended: whatever it still holds goes out. */
  end(): void;
}

const TEST_LINE = /^(not ok|ok) \d+(.*)$/;
/** Each run's own plan and counts; the interleaved stream gets one plan for all of them. */
const RUN_TOTALS = /^(1\.\.\d+|# (tests|pass|fail|pending|skip)\b.*)$/;

/**
 * Several mocha runs (one after another, or side by side) printed as one TAP stream: a test's line and its
 * indented diagnostics stay together, tests are numbered in the order they finish, and a single plan closes the
 * stream, so the runs read as one TAP document for the summary and the JUnit file.
 */
export class TapInterleaver {
  private count = 0;
  private text = '';

  constructor(private readonly out: (text: string) => void) {}

  lane(): TapLane {
    let partial = '';
    // A test line waits for its diagnostics; it is numbered when it goes out, so numbers follow the stream.
    let block: string[] = [];
    const flush = () => {
      if (block.length === 0) return;
      const [result, ...diagnostics] = block;
      const test = TEST_LINE.exec(result)!;
      this.emit([`${test[1]} ${++this.count}${test[2]}`, ...diagnostics].join('\n') + '\n');
      block = [];
    };
    const take = (line: string) => {
      if (block.length > 0 && (line === '' || /^\s/.test(line))) {
        block.push(line);
        return;
      }
      flush();
      if (RUN_TOTALS.test(line)) return;
      if (TEST_LINE.test(line)) block.push(line);
      else this.emit(line + '\n');
    };
    return {
      write: (chunk) => {
        const lines = (partial + chunk.toString()).split('\n');
        partial = lines.pop()!;
        lines.forEach(take);
      },
      end: () => {
        if (partial) take(partial);
        partial = '';
        flush();
      },
    };
  }

  /** Closes the stream with its plan; returns everything printed, for the JUnit file. */
  finish(): string {
    this.emit(`1..${this.count}\n`);
    return this.text;
  }

  private emit(text: string): void {
    this.text += text;
    this.out(text);
  }
}
