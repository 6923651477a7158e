import { readConsoleLog, SshShell } from '@synrace/hardware';
import type { BoardRecord, LabState } from './lab-state';

export function boardOf(state: LabState, name: string): BoardRecord {
  const board = state.boards.find((b) => b.name === name);
  if (!board) throw new Error(`no board "${name}" in lab ${state.name}; boards: ${state.boards.map((b) => b.name).join(', ')}`);
  return board;
}

/** An SSH shell on the board, which must present its pinned host key. */
export function connectBoard(state: LabState, name: string, timeoutMs = 10_000): Promise<SshShell> {
  const board = boardOf(state, name);
  return SshShell.connect({ host: board.mgmtAddress, ...board.login, hostKey: board.hostKey }, { timeoutMs, retryUntilMs: timeoutMs });
}

/** A board counts as reachable when its own sshd, with its pinned key, says the board's own hostname. */
export async function waitReachable(state: LabState, consoleLog: string, name: string, timeoutMs: number): Promise<void> {
  try {
    const shell = await connectBoard(state, name, timeoutMs);
    try {
      const { stdout } = await shell.exec('hostname', { timeoutMs });
      if (stdout.trim() !== name) throw new Error(`answered as "${stdout.trim()}", not as itself`);
    } finally {
      shell.close();
    }
  } catch (err) {
    const tail = await readConsoleLog(consoleLog, { tail: 10 }).catch(() => []);
    throw new Error(`board ${name} did not become reachable over SSH within ${timeoutMs} ms: ${(err as Error).message}\n  last console lines of ${name}:\n    ${tail.join('\n    ') || '(console is silent)'}`);
  }
}
