import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { StringDecoder } from 'node:string_decoder';

// One log line: "<ISO time> <board> | <console text>" for what the board
// printed, "<ISO time> <board> # <note>" for what the console server says.
const LINE = /^(\S+) (\S+) ([|#]) (.*)$/;

/** CSI and OSC escape sequences, and the other C0 controls except tab. */
const TERMINAL_CONTROL = /\x1b\[[0-?]*[ -\/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|[\x00-\x08\x0b-\x1f\x7f]/g;

/** Console output as text to read or match: escape sequences and C0 controls (the CR of CR LF too) removed. */
export function withoutTerminalControls(output: string): string {
  return output.replace(TERMINAL_CONTROL, '');
}

/**
 * A kernel message (printk) as a board's console shows it: at any moment, also in the middle of a
 * prompt or of a command's output, running to the end of its line. Matched in text whose terminal
 * controls (CR included) are gone.
 */
const KERNEL_MESSAGE = /\[\s*\d+\.\d+\] [^\n]*(\n|$)/g;

/** Console text as a program printed it, without the kernel's messages in between. */
export function withoutKernelMessages(text: string): string {
  return text.replace(KERNEL_MESSAGE, '');
}

/** The board's text of a console log line, or undefined for the server's own notes. */
export function consoleText(logLine: string): string | undefined {
  const match = LINE.exec(logLine);
  return match !== null && match[3] === '|' ? match[4] : undefined;
}

/**
 * Appends a console's output to its log file line by line, each line stamped
 * with the time its first byte arrived. A partial line is written after
 * idleFlushMs without more output, so that a prompt (which has no newline)
 * shows up in the log while the board waits at it.
 */
export class ConsoleLogWriter {
  private readonly out: WriteStream;
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private partialSince = new Date();
  private idleTimer?: NodeJS.Timeout;

  constructor(
    logFile: string,
    private readonly board: string,
    private readonly idleFlushMs = 250,
  ) {
    this.out = createWriteStream(logFile, { flags: 'a' });
  }

  output(chunk: Buffer): void {
    const lines = this.decoder.write(chunk).split('\n');
    const rest = lines.pop() ?? '';
    for (const line of lines) {
      this.takeText(line);
      this.writeLine();
    }
    this.takeText(rest);
    clearTimeout(this.idleTimer);
    if (this.partial !== '') this.idleTimer = setTimeout(() => this.flushPartial(), this.idleFlushMs);
  }

  note(text: string): void {
    this.flushPartial();
    this.out.write(`${new Date().toISOString()} ${this.board} # ${text}\n`);
  }

  async close(): Promise<void> {
    this.flushPartial();
    this.out.end();
    await once(this.out, 'close');
  }

  private takeText(text: string): void {
    if (this.partial === '') this.partialSince = new Date();
    this.partial += text;
  }

  private flushPartial(): void {
    if (this.partial !== '') this.writeLine();
  }

  private writeLine(): void {
    clearTimeout(this.idleTimer);
    // Serial consoles end lines with CRLF; the CR is not part of the text. Terminal control sequences
    // (a shell's bracketed-paste switch, colours) are for a screen, not for a log a person greps.
    const text = withoutTerminalControls(this.partial.replace(/\r$/, ''));
    this.partial = '';
    this.out.write(`${this.partialSince.toISOString()} ${this.board} | ${text}\n`);
  }
}
