import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { withoutKernelMessages, withoutTerminalControls } from './console-log';

export interface ConsoleRunResult {
  code: number;
  /** What the command printed, lines ending in \n, without the final line end. */
  output: string;
}

const LOGIN_PROMPT = /login: $/;
const PASSWORD_PROMPT = /Password: $/;
const SHELL_PROMPT = /[$#] $/;
const LOGIN_INCORRECT = /Login incorrect/;
const MARKER = 'SYNRACE-';
// Kept across exchanges so that a timeout can show what the board printed last, even before the last input.
const KEPT_CHARS = 2000;
const TAIL_CHARS = 200;
const CTRL_C = '\x03';

/**
 * Drives a shell on a board's serial console through the console server's socket, as a person at the
 * console would: log in at the getty prompt, type commands, read what comes back. One operation at a time.
 */
export class ConsoleSession {
  private readonly decoder = new StringDecoder('utf8');
  /** What the board printed, raw; `mark` is where the current exchange's answer starts. */
  private received = '';
  private mark = 0;
  private closed = false;
  private onChange?: () => void;

  private constructor(
    private readonly socket: Socket,
    /** Names the board in errors. */
    readonly board: string,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.received += this.decoder.write(chunk);
      this.onChange?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.onChange?.();
    });
    socket.on('error', () => undefined); // 'close' follows and fails the waiting operation
  }

  static async open(socketPath: string, options: { board?: string } = {}): Promise<ConsoleSession> {
    const board = options.board ?? socketPath;
    const socket = createConnection(socketPath);
    try {
      await once(socket, 'connect');
    } catch (err) {
      throw new Error(`${board}: cannot open console ${socketPath}: ${(err as Error).message}`);
    }
    return new ConsoleSession(socket, board);
  }

  /** Logs in at the getty prompt; returns at once when the console is already at a shell prompt. */
  async login(credentials: { user: string; password: string }, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const step = <T>(input: string, what: string, found: (text: string) => T | undefined) => this.exchange(input, { what, timeoutMs, deadline }, found);
    const at = await step('\r', 'a login or shell prompt', (text) => (LOGIN_PROMPT.test(text) ? 'login' : SHELL_PROMPT.test(text) ? 'shell' : undefined));
    if (at === 'shell') return;
    await step(`${credentials.user}\r`, 'the password prompt', (text) => PASSWORD_PROMPT.test(text) || undefined);
    await step(`${credentials.password}\r`, 'a shell prompt after the password', (text) => {
      if (LOGIN_INCORRECT.test(text)) throw new Error(`${this.board}: login as ${credentials.user} failed: Login incorrect`);
      return SHELL_PROMPT.test(text) || undefined;
    });
  }

  /**
   * Runs `command` (one or more lines of shell) in the logged-in shell. Its output lies between two markers
   * it cannot print itself, so the prompt (which a command may print, or change) plays no part.
   */
  async run(command: string, timeoutMs: number): Promise<ConsoleRunResult> {
    // Short enough that the typed lines fit the console's 80 columns: longer ones come back in readline's
    // redrawn, repeated pieces.
    const id = randomBytes(6).toString('hex');
    // The tty echoes the typed lines; each marker is printed from two pieces, so the echo shows them apart
    // ("SYNRACE- <id>") and only the printed marker reads whole. A brace group keeps cd and variables in the
    // shell, takes a command that ends in ';' or '&', and is echoed whole before any of it runs.
    const input = `{ printf '%s%s\\n' ${MARKER} ${id}-begin\n${command}\nprintf '%s%s %s\\n' ${MARKER} ${id}-end "$?"; }\r`;
    const answer = new RegExp(`${MARKER}${id}-begin\\n([\\s\\S]*?)${MARKER}${id}-end (\\d+)\\n`);
    const what = `the end of ${JSON.stringify(command)}`;
    return this.exchange(input, { what, timeoutMs, deadline: Date.now() + timeoutMs }, (text) => {
      const match = answer.exec(text);
      return match === null ? undefined : { code: Number(match[2]), output: match[1].replace(/\n$/, '') };
    });
  }

  /** Exits the shell and waits for the login prompt that follows. */
  async logout(timeoutMs = 10_000): Promise<void> {
    await this.exchange('exit\r', { what: 'the login prompt after exit', timeoutMs, deadline: Date.now() + timeoutMs }, (text) => LOGIN_PROMPT.test(text) || undefined);
  }

  /** Detaches from the console; the board's shell stays logged in. */
  close(): void {
    this.socket.destroy();
  }

  /**
   * Sends `input`, then waits until what the board printed since then, as text without terminal controls
   * and kernel messages, satisfies `found` (which may throw to fail the exchange). On timeout it types
   * Ctrl-C, which stops a hung command or an unfinished login, so the console is ready for the next call.
   */
  private exchange<T>(input: string, wait: { what: string; timeoutMs: number; deadline: number }, found: (text: string) => T | undefined): Promise<T> {
    if (this.onChange !== undefined) return Promise.reject(new Error(`${this.board}: another console operation is still running`));
    this.received = this.received.slice(-KEPT_CHARS);
    this.mark = this.received.length;
    this.socket.write(input);
    return new Promise<T>((resolve, reject) => {
      const finish = (err: Error | undefined, value?: T) => {
        clearTimeout(timer);
        this.onChange = undefined;
        if (err === undefined) resolve(value as T);
        else reject(err);
      };
      const check = () => {
        let value: T | undefined;
        try {
          value = found(withoutKernelMessages(withoutTerminalControls(this.received.slice(this.mark))));
        } catch (err) {
          return finish(err as Error);
        }
        if (value !== undefined) finish(undefined, value);
        else if (this.closed) finish(this.failure(`the console connection closed while waiting for ${wait.what}`));
      };
      const timedOut = () => {
        if (!this.closed) this.socket.write(CTRL_C);
        finish(this.failure(`timed out after ${wait.timeoutMs} ms waiting for ${wait.what}`));
      };
      const timer = setTimeout(timedOut, Math.max(0, wait.deadline - Date.now()));
      this.onChange = check;
      check();
    });
  }

  private failure(problem: string): Error {
    const tail = withoutTerminalControls(this.received).slice(-TAIL_CHARS);
    return new Error(`${this.board}: ${problem}; last ${tail.length} characters received: ${JSON.stringify(tail)}`);
  }
}
