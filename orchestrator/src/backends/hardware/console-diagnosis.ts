import { ConsoleSession } from '@synrace/hardware';
import type { ConsoleLogin } from '@synrace/netem-profiles';

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
