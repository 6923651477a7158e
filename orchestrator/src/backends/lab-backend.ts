import type { BringUpTimeouts, PowerDriver } from '@synrace/hardware';
import type { DelayProfile } from '@synrace/netem-profiles';
import type { LabInputs, UpRequest } from '../inputs/lab-inputs';
import type { BackendKind, BoardRecord, LabState, ProtocolOptions } from '../labs/lab-state';
import type { Progress } from '../progress';
import type { BoardLayout } from '../provision/provision-lab';
import type { RunDir } from '../labs/run-dir';
import type { NamespaceBoardClass } from './namespace/board-class';

/** What `up` asks of a backend to make the lab; checkUpRequest has refused what its boards cannot do. */
export interface CreateRequest extends Pick<UpRequest, 'delay' | 'mgmtSubnet'> {
  name: string;
  runDir: RunDir;
  inputs: LabInputs;
  protocol: ProtocolOptions;
  /** Namespace boards: what machine they play (a virtual board, or a stand-in for a physical one). */
  boardClass?: NamespaceBoardClass;
  progress: Progress;
  signal?: AbortSignal;
}

/** Reports a step of `create`; each report is also where a Ctrl-C (the request's signal) stops it. */
export function createStep(request: Pick<CreateRequest, 'progress' | 'signal'>): (message: string) => void {
  return (message) => {
    request.signal?.throwIfAborted();
    request.progress.step(message);
  };
}

/** What `down` could not undo on a board: the board is named and the rest goes on. */
export interface DownProblem { board: string; problem: string }

/**
 * What makes a lab's boards a kind of board: network namespaces on this host, QEMU machines, or physical
 * boards on a shelf. The lab brings every kind up through the same board state machine
 * (off -> powered -> booted -> reachable -> provisioned) and reaches every board over SSH with its
 * pinned host key; a backend supplies the power switch, the console, and what lies between the boards.
 */
export interface LabBackend {
  readonly kind: BackendKind;
  /** Limits of the bring-up steps, by the state each leads to. */
  readonly timeouts: BringUpTimeouts;
  /** How long to wait between off and on in a power cycle, so that "on" is a cold boot. */
  readonly powerSettleMs: number;
  /** A line the board prints on its console once it has booted. */
  readonly bootMarker: RegExp;

  /**
   * Makes what the boards stand on (links, serial lines, console server, the WAN) and writes the lab's
   * first state, every board off. Every host object is recorded in the lab's manifest before it is made.
   */
  create(request: CreateRequest): Promise<LabState>;

  /** The board's power switch. */
  power(board: BoardRecord): PowerDriver;

  /** Where provisioned files go on the board and how its services start. */
  layout(board: BoardRecord): BoardLayout;

  /**
   * A board that makes its SSH host key at first boot and prints it on its console (a freshly flashed QEMU
   * board): the key, from this boot's part of its console log (from byte `since`), to pin.
   */
  hostKeyFromConsole?(board: BoardRecord, since: number): Promise<string>;

  /** Where the board's own programs write to reach its serial console. */
  consoleDevice(board: BoardRecord): string;

  /** A new delay profile for a lab whose delays this backend makes itself (not kernel netem on the boards). */
  changeDelays?(state: LabState, profile: DelayProfile): Promise<void>;

  /** The backend's own undo on the boards (units, power) before the lab's host objects are removed. */
  release(state: LabState, progress: Progress): Promise<DownProblem[]>;

  /** More on why a board got stuck in its bring-up than the step's error says, when the backend can find out. */
  explainStuck?(err: unknown): Promise<string>;
}
