/** A board's bring-up states, in order; each step of bringUp() moves one state on. */
export const BOARD_STATES = ['off', 'powered', 'booted', 'reachable', 'provisioned'] as const;
export type BoardState = (typeof BOARD_STATES)[number];

export interface StepContext {
  /** The step's time limit; bringUp() gives up on it after this long. */
  timeoutMs: number;
  /** Aborted when the step has timed out, so it can stop retrying. */
  signal: AbortSignal;
}

export type BringUpStep = (context: StepContext) => Promise<void>;

/** What moves a board from one state to the next: injected, so relay boards and netns boards share the machine. */
export interface BringUpSteps {
  /** off -> powered */
  powerOn: BringUpStep;
  /** powered -> booted: the boot marker on the console. */
  waitForBoot: BringUpStep;
  /** booted -> reachable: an SSH login. */
  waitForSsh: BringUpStep;
  /** reachable -> provisioned: delays, services and agent set up; done when the agent answers healthy. */
  provision: BringUpStep;
}

/** Time limits of the steps, by the state each step leads to. */
export type BringUpTimeouts = Record<Exclude<BoardState, 'off'>, number>;

export interface BoardTransition {
  board: string;
  from: BoardState;
  to: BoardState;
  /** How long the step took. */
  ms: number;
}

const TRANSITIONS: { from: BoardState; to: Exclude<BoardState, 'off'>; step: keyof BringUpSteps; failure: string }[] = [
  { from: 'off', to: 'powered', step: 'powerOn', failure: 'not powered on' },
  { from: 'powered', to: 'booted', step: 'waitForBoot', failure: 'no boot marker on the console' },
  { from: 'booted', to: 'reachable', step: 'waitForSsh', failure: 'not reachable over SSH' },
  { from: 'reachable', to: 'provisioned', step: 'provision', failure: 'not provisioned' },
];

/** A board that did not get past `state`: which step failed, and why (`cause`). */
export class BoardStuckError extends Error {
  constructor(
    readonly board: string,
    readonly state: BoardState,
    readonly step: keyof BringUpSteps,
    failure: string,
    timeoutMs: number,
    readonly cause: Error,
  ) {
    super(`board ${board} stuck in state '${state}': ${failure} within ${timeoutMs} ms: ${cause.message}`, { cause });
    this.name = 'BoardStuckError';
  }
}

/**
 * Takes a board from off to provisioned, one step at a time, each within its
 * timeout. Reports each state reached to onTransition and returns them all;
 * throws BoardStuckError for the first step that fails or runs out of time.
 * When `cancel` aborts (Ctrl-C), the running step is told to stop and no
 * further step starts: bringUp rejects with the abort's reason.
 */
export async function bringUp(
  board: string,
  steps: BringUpSteps,
  timeouts: BringUpTimeouts,
  onTransition: (transition: BoardTransition) => void = () => undefined,
  cancel?: AbortSignal,
): Promise<BoardTransition[]> {
  const done: BoardTransition[] = [];
  for (const { from, to, step, failure } of TRANSITIONS) {
    cancel?.throwIfAborted();
    const timeoutMs = timeouts[to];
    const started = Date.now();
    try {
      await withTimeout(steps[step], timeoutMs, cancel);
    } catch (err) {
      if (cancel?.aborted) throw cancel.reason;
      throw new BoardStuckError(board, from, step, failure, timeoutMs, err as Error);
    }
    const transition = { board, from, to, ms: Date.now() - started };
    done.push(transition);
    onTransition(transition);
  }
  return done;
}

async function withTimeout(step: BringUpStep, timeoutMs: number, cancel?: AbortSignal): Promise<void> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const stopped = new Promise<never>((_, reject) => {
    const stop = (err: Error) => {
      controller.abort(err);
      reject(err);
    };
    timer = setTimeout(() => stop(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    cancel?.addEventListener('abort', () => stop(cancel.reason as Error), { once: true });
  });
  const running = step({ timeoutMs, signal: controller.signal });
  // A step that fails after its timeout has nobody left to tell.
  running.catch(() => undefined);
  try {
    await Promise.race([running, stopped]);
  } finally {
    clearTimeout(timer);
  }
}
