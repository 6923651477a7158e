import { SshShell } from '@synrace/hardware';
import type { BoardState, LabState } from './lab-state';
import { lastLines } from './log-wait';
import type { RunDir } from './run-dir';

export function boardOf(state: LabState, name: string): BoardState {
  const board = state.boards.find((b) => b.name === name);
  if (!board) throw new Error(`no board "${name}" in this lab; boards: ${state.boards.map((b) => b.name).join(', ')}`);
  return board;
}

export function connectBoard(state: LabState, name: string, timeoutMs = 10_000): Promise<SshShell> {
  const board = boardOf(state, name);
  return SshShell.connect(
    { host: board.mgmtAddress, ...board.login, hostKey: board.hostKey },
    { timeoutMs, retryUntilMs: timeoutMs },
  );
}

/** A board counts as reachable when its own sshd, with its pinned key, says the board's own hostname. */
export async function waitReachable(runDir: RunDir, state: LabState, name: string, timeoutMs: number): Promise<void> {
  try {
    const shell = await connectBoard(state, name, timeoutMs);
    try {
      const { stdout } = await shell.exec('hostname', { timeoutMs });
      if (stdout.trim() !== name) throw new Error(`answered as "${stdout.trim()}", not as itself`);
    } finally {
      shell.close();
    }
  } catch (err) {
    const tail = lastLines(runDir.consoleLog(name), 10);
    throw new Error(`board ${name} did not become reachable over SSH within ${timeoutMs} ms: ${(err as Error).message}\n  last console lines of ${name}:\n    ${tail.join('\n    ') || '(console is silent)'}`);
  }
}
