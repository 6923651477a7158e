import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * One directory holds everything a live lab needs between separate `synrace` invocations: its state,
 * keys, configs, console sockets and logs. It lives on tmpfs (/run) because a lab does not survive a reboot either.
 */
export class RunDir {
  constructor(readonly root: string = process.env.SYNRACE_RUN_DIR ?? '/run/synrace') {}

  path(...parts: string[]): string {
    return join(this.root, ...parts);
  }

  boardDir(board: string): string {
    return this.path('boards', board);
  }

  consoleLog(board: string): string {
    return this.path('logs', `${board}.log`);
  }

  exists(): boolean {
    return existsSync(this.path('state.json'));
  }

  readState<T>(): T {
    const file = this.path('state.json');
    if (!existsSync(file)) throw new NoLabError(this.root);
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  }

  /** Written atomically, so a Ctrl-C never leaves half a state file for `down` to choke on. */
  writeState(state: unknown): void {
    mkdirSync(this.root, { recursive: true });
    const tmp = this.path('state.json.tmp');
    writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n');
    renameSync(tmp, this.path('state.json'));
  }

  /** Takes the lab lock; a lock whose holder died is taken over, a live one is an error naming its pid. */
  lock(command: string): () => void {
    mkdirSync(this.root, { recursive: true });
    const file = this.path('lock');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, 'wx');
        writeSync(fd, `${process.pid} ${command}\n`);
        closeSync(fd);
        return () => rmSync(file, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const [pid, ...what] = readFileSync(file, 'utf8').trim().split(' ');
        if (isAlive(Number(pid)) && Number(pid) !== process.pid) {
          throw new Error(`the lab in ${this.root} is busy: \`synrace ${what.join(' ')}\` (pid ${pid}) holds ${file}`);
        }
        rmSync(file, { force: true });
      }
    }
    throw new Error(`could not take the lab lock ${file}`);
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

export class NoLabError extends Error {
  constructor(root: string) {
    super(`no lab is up (no state in ${root}); start one with \`synrace up\``);
    this.name = 'NoLabError';
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
