import { readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, type ClientChannel, type SFTPWrapper } from 'ssh2';
import type { SshEndpoint } from '../resources';
import { fingerprintOf, keyTypeOf, parsePinnedHostKey, type PinnedHostKey } from './ssh-host-key';

export interface SshConnectOptions {
  /** Limit for one attempt: TCP connect, handshake and authentication. */
  timeoutMs: number;
  /**
   * Keep retrying for this many ms (counted from the call) while nothing
   * listens yet: a booting board's sshd comes up some time after power-on.
   */
  retryUntilMs?: number;
}

export interface ExecResult {
  /** Exit status, or null when the command was killed by a signal. */
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

const RETRY_INTERVAL_MS = 250;

/** The connection refused a session (it has ended): the command never started, so running it on another connection is safe. */
export class NoSessionError extends Error {}

// Errors that mean "the board is not listening yet" rather than "this will never work".
const NOT_LISTENING_YET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH']);

/** A logged-in SSH connection to one board: run commands, move files over SFTP. */
export class SshShell {
  private sftpSession?: Promise<SFTPWrapper>;
  private closed = false;

  private constructor(
    private readonly client: Client,
    /** "user@host:port", the prefix of every error. */
    readonly target: string,
  ) {
    client.on('error', () => {
      // Errors after login end the connection; 'close' below records that and
      // pending operations fail on their own channels.
    });
    client.on('close', () => {
      this.closed = true;
    });
  }

  static async connect(endpoint: SshEndpoint, options: SshConnectOptions): Promise<SshShell> {
    const target = `${endpoint.user}@${endpoint.host}:${endpoint.port}`;
    const pinned = parsePinned(endpoint, target);
    const privateKey = await readFile(endpoint.privateKeyPath).catch((err: Error) => {
      throw new Error(`ssh ${target}: cannot read private key ${endpoint.privateKeyPath}: ${err.message}`);
    });
    const started = Date.now();
    const deadline = started + (options.retryUntilMs ?? 0);
    for (let attempt = 1; ; attempt++) {
      try {
        const client = await connectOnce(endpoint, privateKey, pinned, options.timeoutMs, target);
        return new SshShell(client, target);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const left = deadline - Date.now();
        // A booting board's sshd may accept and drop a connection before it can speak SSH.
        const notReady = code === undefined ? /Connection lost before handshake/.test((err as Error).message) : NOT_LISTENING_YET.has(code);
        if (!notReady || left <= 0) {
          const tries = attempt > 1 ? ` (gave up after ${attempt} attempts over ${Date.now() - started} ms)` : '';
          throw new Error(`${(err as Error).message}${tries}`, { cause: err });
        }
        await delay(Math.min(RETRY_INTERVAL_MS, left));
      }
    }
  }

  /** False once the connection has ended, from either side. */
  get open(): boolean {
    return !this.closed;
  }

  /**
   * Whether the connection keeps the Node process alive, like a socket's ref() and unref(): a connection kept open
   * for later commands must not hold a finished command-line run.
   */
  holdProcess(hold: boolean): void {
    const sock = (this.client as unknown as { _sock?: { ref(): void; unref(): void } })._sock;
    if (hold) sock?.ref();
    else sock?.unref();
  }

  /** Runs a command; `input`, if given, is its stdin (a tar stream, say), else it reads /dev/null. */
  exec(command: string, options: { timeoutMs: number; input?: Buffer }): Promise<ExecResult> {
    const what = `ssh ${this.target}: exec ${JSON.stringify(command)}`;
    return new Promise((resolve, reject) => {
      let channel: ClientChannel | undefined;
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let code: number | null = null;
      let signal: string | null = null;
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        if (channel === undefined) {
          reject(new Error(`${what}: no session within ${options.timeoutMs} ms`));
          return;
        }
        // sshd signals the command's process group, but only for non-root
        // logins (root sessions run without privilege separation and sshd
        // refuses). Closing the channel ends commands that still write output
        // (SIGPIPE). Not waiting for the close: a silent command keeps it open.
        channel.signal('KILL');
        channel.close();
        reject(new Error(`${what}: timed out after ${options.timeoutMs} ms; ${output()}`));
      }, options.timeoutMs);
      const output = () => `stdout: ${JSON.stringify(Buffer.concat(stdout).toString())}, stderr: ${JSON.stringify(Buffer.concat(stderr).toString())}`;

      // Commands get /dev/null as stdin so that reading it does not hang. This
      // is done in the shell, not by closing the channel's stdin: ssh2 sends no
      // signal on a channel after EOF, and the timeout sends one.
      this.client.exec(options.input === undefined ? `exec </dev/null; ${command}` : command, (err, ch) => {
        if (err) {
          clearTimeout(timer);
          reject(new NoSessionError(`${what}: could not start: ${err.message}`, { cause: err }));
          return;
        }
        if (timedOut) {
          ch.close();
          return;
        }
        channel = ch;
        if (options.input !== undefined) ch.end(options.input);
        ch.on('data', (chunk: Buffer) => stdout.push(chunk));
        ch.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
        ch.on('exit', (exitCode: number | null, exitSignal?: string) => {
          code = exitCode;
          signal = exitSignal ?? null;
        });
        ch.on('close', () => {
          clearTimeout(timer);
          if (timedOut) return;
          if (code === null && signal === null) {
            reject(new Error(`${what}: ended without an exit status (connection lost?); ${output()}`));
          } else {
            resolve({ code, signal, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() });
          }
        });
      });
    });
  }

  /** Writes a local file (by path) or a buffer to remotePath; mode applies also when the file existed. */
  async upload(source: string | Buffer, remotePath: string, mode?: number): Promise<void> {
    const sftp = await this.sftp();
    const from = typeof source === 'string' ? source : `${source.length} bytes`;
    const fail = (err: Error) => new Error(`ssh ${this.target}: upload of ${from} to ${remotePath} failed: ${err.message}`, { cause: err });
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(fail(err)) : resolve());
      // Created with its mode, so a secret is never readable by others, not even for a moment.
      const options = mode === undefined ? {} : { mode };
      if (typeof source === 'string') sftp.fastPut(source, remotePath, options, done);
      else sftp.writeFile(remotePath, source, options, done);
    });
    if (mode !== undefined) {
      await new Promise<void>((resolve, reject) => {
        sftp.chmod(remotePath, mode, (err) => (err ? reject(fail(err)) : resolve()));
      });
    }
  }

  async download(remotePath: string): Promise<Buffer> {
    const sftp = await this.sftp();
    return new Promise((resolve, reject) => {
      sftp.readFile(remotePath, (err, data) => {
        if (err) reject(new Error(`ssh ${this.target}: download of ${remotePath} failed: ${err.message}`, { cause: err }));
        else resolve(data);
      });
    });
  }

  /**
   * Ends the session. A board whose power was cut never answers the goodbye and TCP would retry for
   * minutes, so after timeoutMs the connection is dropped on this side.
   */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      // ssh2's Client.destroy() does nothing once end() has made its socket unwritable, so the socket
      // itself is destroyed.
      const timer = setTimeout(() => (this.client as unknown as { _sock?: { destroy(): void } })._sock?.destroy(), timeoutMs);
      this.client.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.client.end();
    });
  }

  private sftp(): Promise<SFTPWrapper> {
    this.sftpSession ??= new Promise<SFTPWrapper>((resolve, reject) => {
      this.client.sftp((err, sftp) => {
        if (err) {
          this.sftpSession = undefined;
          reject(new NoSessionError(`ssh ${this.target}: cannot start SFTP: ${err.message}`, { cause: err }));
        } else {
          sftp.on('close', () => {
            this.sftpSession = undefined;
          });
          resolve(sftp);
        }
      });
    });
    return this.sftpSession;
  }
}

function parsePinned(endpoint: SshEndpoint, target: string): PinnedHostKey {
  try {
    return parsePinnedHostKey(endpoint.hostKey);
  } catch (err) {
    throw new Error(`ssh ${target}: ${(err as Error).message}`);
  }
}

function connectOnce(endpoint: SshEndpoint, privateKey: Buffer, pinned: PinnedHostKey, timeoutMs: number, target: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let offeredKey: Buffer | undefined;
    client.once('ready', () => {
      client.removeAllListeners('error');
      // A command is a few small packets each way; Nagle would hold each behind the board's delayed ACK (40 ms).
      client.setNoDelay(true);
      resolve(client);
    });
    let failed = false;
    // ssh2 can report a second error as the socket goes after the first (a handshake timeout, then "Connection lost
    // before handshake"): the first decides, and none may go unheard, or it would end the process.
    client.on('error', (err: NodeJS.ErrnoException) => {
      if (failed) return;
      failed = true;
      client.end();
      if (offeredKey !== undefined) {
        reject(new Error(
          `ssh ${target}: host key mismatch, refusing to connect: the board is pinned to ${pinned.type} ${pinned.fingerprint}` +
            ` but the server offered ${keyTypeOf(offeredKey)} ${fingerprintOf(offeredKey)}`,
        ));
        return;
      }
      const reason = err.code ?? (err as { level?: string }).level ?? 'error';
      const wrapped: NodeJS.ErrnoException = new Error(`ssh ${target}: connect failed (${reason}): ${err.message}`, { cause: err });
      wrapped.code = err.code;
      reject(wrapped);
    });
    client.connect({
      host: endpoint.host,
      port: endpoint.port,
      username: endpoint.user,
      privateKey,
      readyTimeout: timeoutMs,
      algorithms: { serverHostKey: pinned.algorithms },
      hostVerifier: (key: Buffer) => {
        if (key.equals(pinned.blob)) return true;
        offeredKey = key;
        return false;
      },
    });
  });
}
