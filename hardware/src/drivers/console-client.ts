import { once } from 'node:events';
import { open, readFile, stat } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as delay } from 'node:timers/promises';
import { consoleText, withoutKernelMessages } from './console-log';

const DETACH_KEY = 0x1d; // Ctrl-]
const LOG_POLL_MS = 100;

/**
 * Connects the terminal to a board's live console (served by the console
 * server) until the user presses Ctrl-], input ends, or the server goes away.
 */
export async function attachConsole(socketPath: string, input: NodeJS.ReadStream, output: NodeJS.WriteStream): Promise<void> {
  const socket = createConnection(socketPath);
  try {
    await once(socket, 'connect');
  } catch (err) {
    throw new Error(`cannot attach to console ${socketPath}: ${(err as Error).message}`);
  }
  output.write(`[attached to ${socketPath}; press Ctrl-] to detach]\r\n`);
  // Raw mode: keys (Ctrl-C included) go to the board, not to this process.
  const wasRaw = input.isTTY ? input.isRaw : false;
  if (input.isTTY) input.setRawMode(true);

  await new Promise<void>((resolve) => {
    const onInput = (chunk: Buffer) => {
      const detachAt = chunk.indexOf(DETACH_KEY);
      socket.write(detachAt === -1 ? chunk : chunk.subarray(0, detachAt));
      if (detachAt !== -1) finish('[detached]');
    };
    const onInputEnd = () => finish('[input ended]');
    let finished = false;
    const finish = (why: string) => {
      if (finished) return;
      finished = true;
      input.off('data', onInput);
      input.off('end', onInputEnd);
      if (input.isTTY) input.setRawMode(wasRaw);
      input.pause();
      socket.end();
      output.write(`\r\n${why}\r\n`);
      resolve();
    };
    socket.on('data', (chunk: Buffer) => output.write(chunk));
    socket.on('close', () => finish('[console server closed the connection]'));
    socket.on('error', () => undefined); // 'close' follows and ends the session
    input.on('data', onInput);
    input.on('end', onInputEnd);
    input.resume();
  });
}

/** Lines of a console log, optionally only the last `tail` of them. */
export async function readConsoleLog(logFile: string, options: { tail?: number } = {}): Promise<string[]> {
  const lines = (await readFile(logFile, 'utf8')).split('\n');
  lines.pop(); // after the final newline
  return options.tail === undefined ? lines : lines.slice(-options.tail);
}

export interface LogWaitOptions {
  /** A byte offset, e.g. the log size taken before power-on; by default, the size when the wait starts. */
  since?: number;
  /**
   * console (default): a console server's log, where only the board's own output counts, mended where
   * kernel messages cut into it; plain: any line of a program's own log file.
   */
  format?: 'console' | 'plain';
}

/**
 * Waits for a line that matches `pattern` and returns the whole log line (with its timestamp). By
 * default only lines logged after the call count, so an earlier boot's marker is not taken for this one.
 * The timeout error shows the last lines, which usually say what went wrong.
 */
export async function waitForConsole(logFile: string, pattern: RegExp, timeoutMs: number, options: LogWaitOptions = {}): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let offset = options.since ?? (await sizeOf(logFile));
  const decoder = new StringDecoder('utf8');
  let carry = '';
  const board = options.format === 'plain' ? { matches: matches } : new BoardLines();
  for (;;) {
    const { bytes, nextOffset } = await readFrom(logFile, offset);
    offset = nextOffset;
    const lines = (carry + decoder.write(bytes)).split('\n');
    carry = lines.pop() ?? '';
    const match = lines.find((line) => board.matches(line, pattern));
    if (match !== undefined) return match;
    if (Date.now() >= deadline) break;
    await delay(Math.min(LOG_POLL_MS, Math.max(0, deadline - Date.now())));
  }
  const last = await readConsoleLog(logFile, { tail: 10 }).catch(() => []);
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${pattern} in ${logFile}; last ${last.length} log lines:\n${last.join('\n')}`,
  );
}

/**
 * The lines the board's programs printed, mended where a kernel message cut into one: on a chatty
 * console "pi-01 lo[    9.19] usb 1-1.3: ...\ngin: " is the prompt "pi-01 login: " to a reader, and so is
 * "p[   10.07] IPv6: ...\ni-01 login: [   10.26] usb 1-1.3: ...", where the prompt is whole before the next
 * kernel message and no newline of the program's ever comes (getty waits for a name).
 */
class BoardLines {
  private cutShort = '';

  /** Whether the log line, or the program line it completes, matches. */
  matches(logLine: string, pattern: RegExp): boolean {
    const text = consoleText(logLine);
    if (text === undefined) return false;
    if (matches(text, pattern)) return true;
    const own = withoutKernelMessages(text);
    if (own.length < text.length) {
      // A kernel message runs to the end of its log line; the program's line, if cut, goes on later, or
      // is already all there.
      this.cutShort += own;
      return matches(this.cutShort, pattern);
    }
    const line = this.cutShort + own;
    this.cutShort = '';
    return matches(line, pattern);
  }
}

// search() rather than test(): it ignores lastIndex, so /g patterns behave.
function matches(text: string | undefined, pattern: RegExp): boolean {
  return text !== undefined && text.search(pattern) !== -1;
}

// The log may not exist yet while the console server starts: that is size 0.
async function sizeOf(file: string): Promise<number> {
  return (await stat(file).catch(() => undefined))?.size ?? 0;
}

async function readFrom(file: string, offset: number): Promise<{ bytes: Buffer; nextOffset: number }> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (handle === undefined) return { bytes: Buffer.alloc(0), nextOffset: offset };
  try {
    const size = (await handle.stat()).size;
    if (size <= offset) return { bytes: Buffer.alloc(0), nextOffset: offset };
    const bytes = Buffer.alloc(size - offset);
    const { bytesRead } = await handle.read(bytes, 0, bytes.length, offset);
    return { bytes: bytes.subarray(0, bytesRead), nextOffset: offset + bytesRead };
  } finally {
    await handle.close();
  }
}
