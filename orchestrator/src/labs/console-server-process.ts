import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONSOLE_SERVER_SCRIPT, spawnDetached, waitForPaths, type ConsoleSpec } from '@synrace/hardware';
import type { RunDir } from './run-dir';

/** Where a board's console server listens for `synrace console` and for console logins. */
export function consoleSocketPath(runDir: RunDir, board: string): string {
  return join(runDir.boardDir(board), 'console.sock');
}

/**
 * Starts the lab's one console server over every board's serial line, logging to the run's logs/
 * folder. `started` gets the pid before the sockets exist, so a failed start is still torn down.
 */
export async function startConsoleServer(runDir: RunDir, lines: Pick<ConsoleSpec, 'board' | 'path' | 'baudRate'>[], logFd: number, started: (pid: number) => void): Promise<number> {
  const consoles: ConsoleSpec[] = lines.map((l) => ({ ...l, logFile: runDir.consoleLog(l.board), socketPath: consoleSocketPath(runDir, l.board) }));
  writeFileSync(runDir.path('console-server.json'), JSON.stringify({ consoles }, null, 2));
  const pid = spawnDetached([process.execPath, CONSOLE_SERVER_SCRIPT, '--config', runDir.path('console-server.json')], logFd);
  started(pid);
  await waitForPaths(consoles.map((c) => c.socketPath), 10_000);
  return pid;
}
