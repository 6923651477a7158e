import type { Lab } from '@synrace/orchestrator';

/** Runs a shell command on a board over SSH; a non-zero exit is an error naming the board, command and stderr. */
export async function onBoard(lab: Lab, board: string, command: string, timeoutMs = 30_000): Promise<string> {
  const { code, stdout, stderr } = await lab.exec(board, command, timeoutMs);
  if (code !== 0) throw new Error(`on ${board}: \`${command}\` exited ${code}: ${stderr.trim() || stdout.trim()}`);
  return stdout;
}
