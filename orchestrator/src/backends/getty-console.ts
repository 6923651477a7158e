import { ConsoleSession, readConsoleLog } from '@synrace/hardware';
import type { ConsoleLogin } from '@synrace/netem-profiles';

// What every board with a real serial console and getty shares, a Pi as a QEMU board: how its boot is seen
// to end, where it stopped when that end never came, and how it is diagnosed when it booted yet SSH does not answer.

/** A board has booted when getty prints its login prompt on the serial console, or logs a user in by itself (agetty --autologin). */
export const BOOT_MARKER = /\blogin: *(\S+ \(automatic login[^)]*\))?$/;

/** Lines of a console that stopped before its login prompt: enough for the last kernel or systemd messages. */
const STOPPED_CONSOLE_LINES = 15;

/**
 * Where a board that printed no boot marker stopped: the last lines its console logged. Said in the error itself,
 * so that a CI's output shows it: the whole log is archived on the machine that ran the lab, which is not
 * always where its output is read.
 */
export async function whereTheConsoleStopped(consoleLog: string): Promise<string> {
  const lines = await readConsoleLog(consoleLog, { tail: STOPPED_CONSOLE_LINES }).catch(() => []);
  if (lines.length === 0) return 'its console logged nothing: no power, or no serial line';
  return `its console's last ${lines.length} lines:\n      ${lines.join('\n      ')}`;
}

/** What tells an engineer why a booted board is not reachable over SSH: its addresses, and whether sshd listens. */
const COMMANDS = ['ip -br addr', "ss -ltn 'sport = :22'"];

/** Logs in on the board's serial console (SSH is not up) and returns what the diagnosis commands print. */
export async function diagnoseOverConsole(socketPath: string, board: string, login: ConsoleLogin, timeoutMs = 30_000): Promise<string> {
  const session = await ConsoleSession.open(socketPath, { board });
  try {
    await session.login(login, timeoutMs);
    const out: string[] = [];
    for (const command of COMMANDS) {
      const { code, output } = await session.run(command, 10_000);
      out.push(`$ ${command}${code === 0 ? '' : `   (exit ${code})`}\n${output.trimEnd()}`);
    }
    await session.logout();
    return out.join('\n');
  } finally {
    session.close();
  }
}
