import { NoSessionError, type SshShell } from '@synrace/hardware';
import { boardOf, connectBoard } from './board-access';
import type { LabState } from './lab-state';

/** Sessions one connection carries at once: OpenSSH refuses more than MaxSessions (10 by default). */
const SESSIONS_PER_CONNECTION = 8;

/**
 * A connection unused for this long is not trusted any more: another process may have power-cycled its board,
 * and a connection to a board that vanished without a goodbye only shows it by never answering.
 */
const IDLE_LIMIT_MS = 20_000;

interface Connection {
  /** The board's management address and pinned host key: a lab brought up again under the same name is another board. */
  identity: string;
  shell: Promise<SshShell>;
  /** The shell once connected: a connection the board has ended is seen without waiting. */
  connected?: SshShell;
  sessions: number;
  idleSince: number;
}

/**
 * The SSH connections of this process to lab boards, kept open between commands. A new connection costs the
 * board's sshd a fork, an exec and a key exchange (about 0.2 s on a 2-core host), which every test, verify and
 * capture paid for each of its commands; a command on an open connection costs one session. A connection
 * that is idle does not keep the process alive.
 */
export class BoardShells {
  private readonly connections = new Map<string, Connection[]>();

  /** Runs work on an open connection to the board, or a new one; a connection found gone is replaced once. */
  async use<T>(state: LabState, board: string, connectTimeoutMs: number, work: (shell: SshShell) => Promise<T>): Promise<T> {
    const record = boardOf(state, board);
    const identity = `${record.mgmtAddress} ${record.hostKey}`;
    const key = keyOf(state.name, board);
    const kept = this.take(key, identity);
    try {
      return await this.run(kept ?? this.open(state, board, identity, connectTimeoutMs), work);
    } catch (err) {
      if (!kept || !(err instanceof NoSessionError)) throw err;
      this.drop(key, kept);
      return this.run(this.take(key, identity) ?? this.open(state, board, identity, connectTimeoutMs), work);
    }
  }

  /** Ends every connection to the lab's board: it is about to lose power, or to go with its lab. */
  async forget(lab: string, board: string): Promise<void> {
    const key = keyOf(lab, board);
    const gone = this.connections.get(key) ?? [];
    this.connections.delete(key);
    await Promise.all(gone.map((c) => c.shell.then((s) => s.close(1000), () => undefined)));
  }

  private take(key: string, identity: string): Connection | undefined {
    const now = Date.now();
    const list = (this.connections.get(key) ?? []).filter((c) => {
      const stale = c.identity !== identity || c.connected?.open === false || (c.sessions === 0 && now - c.idleSince > IDLE_LIMIT_MS);
      if (stale) void c.shell.then((s) => s.close(1000), () => undefined);
      return !stale;
    });
    this.connections.set(key, list);
    const found = list.find((c) => c.sessions < SESSIONS_PER_CONNECTION);
    if (found) found.sessions += 1;
    return found;
  }

  private open(state: LabState, board: string, identity: string, timeoutMs: number): Connection {
    const key = keyOf(state.name, board);
    const connection: Connection = { identity, shell: connectBoard(state, board, timeoutMs), sessions: 1, idleSince: Date.now() };
    this.connections.set(key, [...(this.connections.get(key) ?? []), connection]);
    // A connection that could not be made is not kept.
    connection.shell.then((shell) => (connection.connected = shell), () => this.drop(key, connection));
    return connection;
  }

  private async run<T>(connection: Connection, work: (shell: SshShell) => Promise<T>): Promise<T> {
    try {
      const shell = await connection.shell;
      if (!shell.open) throw new NoSessionError(`ssh ${shell.target}: the connection has ended`);
      shell.holdProcess(true);
      return await work(shell);
    } finally {
      connection.sessions -= 1;
      connection.idleSince = Date.now();
      if (connection.sessions === 0) void connection.shell.then((s) => connection.sessions === 0 && s.holdProcess(false), () => undefined);
    }
  }

  private drop(key: string, connection: Connection): void {
    this.connections.set(key, this.connections.get(key)?.filter((c) => c !== connection) ?? []);
    void connection.shell.then((s) => s.close(1000), () => undefined);
  }
}

function keyOf(lab: string, board: string): string {
  return `${lab}/${board}`;
}

/** One set for the whole process, so that every Lab object of a lab sees a power cut made through any of them. */
export const boardShells = new BoardShells();
