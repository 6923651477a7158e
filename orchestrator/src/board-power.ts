import type { PowerDriver } from '@synrace/hardware';
import { relayOf } from './hardware-lab/hardware-lab';
import type { BoardState } from './lab-state';
import type { RunDir } from './run-dir';
import { powerDriverFor } from './virtual/virtual-lab';

/** A board's power switch: its relay on a shelf, its namespace on the virtual lab. */
export function powerDriverOf(runDir: RunDir, board: BoardState): PowerDriver {
  return board.physical ? relayOf(board) : powerDriverFor(runDir, board);
}
