/** What the orchestrator needs from a board's power switch, be it a relay or a network namespace. */
export interface PowerDriver {
  on(): Promise<void>;
  off(): Promise<void>;
  isOn(): Promise<boolean>;
  /** Off, wait settleMs so the board really loses power, on; an abort during the wait leaves the board off. */
  cycle(settleMs: number, signal?: AbortSignal): Promise<void>;
}
