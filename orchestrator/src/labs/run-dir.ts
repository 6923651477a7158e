import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Manifest } from './manifest';

/**
 * One directory holds everything a live lab needs between separate `synrace` invocations: its state,
 * manifest, keys, configs, console sockets and logs. It lives on tmpfs (/run) because a lab does not
 * survive a reboot either. Its secrets (state with the agent tokens, manifest, keys, agent configs)
 * are files readable by root alone; the directory itself can be passed through but not listed, since the
 * web servers of namespace boards, which run as another user, serve content from inside it.
 */
export class RunDir {
  constructor(readonly root: string) {}

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

  create(): void {
    mkdirSync(this.root, { recursive: true, mode: 0o711 });
    // Whatever made the labs' root, the web servers must be able to pass through it (and nothing else changes).
    for (const dir of [dirname(this.root), this.root]) {
      const mode = statSync(dir).mode & 0o7777;
      if ((mode & 0o011) !== 0o011) chmodSync(dir, mode | 0o011);
    }
  }

  readState<T>(): T {
    const file = this.path('state.json');
    if (!existsSync(file)) throw new Error(`no lab state in ${this.root}`);
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  }

  /** Written atomically, so a Ctrl-C never leaves half a state file for `down` to choke on. */
  writeState(state: unknown): void {
    this.create();
    const tmp = this.path('state.json.tmp');
    writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.path('state.json'));
  }

  manifest(): Manifest {
    this.create();
    return new Manifest(this.path('manifest.json'));
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
