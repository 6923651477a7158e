import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { shellQuote, type SshShell } from '@synrace/hardware';

const execFileAsync = promisify(execFile);

/**
 * A tar stream of what `dir` holds, its entries under `prefix`, owned by root: how files reach a board in
 * one round trip instead of one per file.
 */
export async function tarOf(dir: string, prefix: string, exclude: string[] = []): Promise<Buffer> {
  const args = ['-c', '-f', '-', '--owner=0', '--group=0', '--numeric-owner', ...exclude.map((e) => `--exclude=${e}`)];
  if (prefix) args.push('--transform', `s,^,${prefix},`);
  const { stdout } = await execFileAsync('tar', [...args, '-C', dir, ...readdirSync(dir)], { encoding: 'buffer', maxBuffer: 512 << 20 });
  return stdout;
}

/**
 * Extracts tar streams, sent back to back, under `root` on the board; the directories already there
 * (/, /etc, /opt on a Pi) keep their owners and modes. The files are on the board's disk when this returns:
 * tar replaces each file with a new one whose blocks ext4 writes up to 30 s later, and a board that loses
 * power before then boots with empty units (systemd reads an empty unit as masked) and an empty config.
 */
export async function extractOnBoard(shell: SshShell, root: string, archives: Buffer[], timeScale = 1): Promise<void> {
  const command = `mkdir -p ${shellQuote(root)} && tar -x -f - --ignore-zeros --no-overwrite-dir --no-same-owner -C ${shellQuote(root)} && sync -f ${shellQuote(root)}`;
  const { code, stderr } = await shell.exec(command, { timeoutMs: 120_000 * timeScale, input: Buffer.concat(archives) });
  if (code !== 0) throw new Error(`tar on the board exited ${code}: ${stderr.trim()}`);
}
