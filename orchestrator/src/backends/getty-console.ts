import { ConsoleSession } from '@synrace/hardware';
import type { ConsoleLogin } from '@synrace/netem-profiles';

// What every board with a real serial console and getty shares, a Pi as a QEMU board: how its boot is seen
// to end, and how it is diagnosed when it booted yet SSH does not answer.

/** A board has booted when getty prints its login prompt on the serial console, or logs a user in by itself (agetty --autologin). */
export const BOOT_MARKER = /\blogin: *(\S+ \(automatic login[^)]*\))?$/;

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
