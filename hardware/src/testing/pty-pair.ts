import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * A null-modem cable made of two ptys (socat): what is written to one link is
 * read from the other. Resolves once both links exist.
 */
export async function startPtyPair(serialLink: string, boardLink: string): Promise<ChildProcess> {
  const socat = spawn('socat', ['-d', `pty,raw,echo=0,link=${serialLink}`, `pty,raw,echo=0,link=${boardLink}`], { stdio: 'ignore' });
  for (let waited = 0; !(existsSync(serialLink) && existsSync(boardLink)); waited += 20) {
    if (waited > 3000 || socat.exitCode !== null) {
      socat.kill();
      throw new Error(`socat did not create ${serialLink} and ${boardLink}`);
    }
    await delay(20);
  }
  return socat;
}
