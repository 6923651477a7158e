import { EventEmitter } from 'node:events';
import { statSync } from 'node:fs';
import { SerialPort } from 'serialport';
import type { SerialConsoleResource } from '../resources';

export interface ReconnectingSerialPortEvents {
  open: [];
  data: [chunk: Buffer];
  /** The port went away (unplugged, pty closed) or could not be opened; retrying. */
  unavailable: [reason: string];
}

/**
 * A serial port that stays wanted: when it closes or fails (a USB adapter
 * unplugged, a pty's other side gone) it is reopened every retryMs until it
 * is back, for as long as the owner has not closed it.
 */
export class ReconnectingSerialPort extends EventEmitter<ReconnectingSerialPortEvents> {
  private port?: SerialPort;
  private retryTimer?: NodeJS.Timeout;
  private presenceTimer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly resource: SerialConsoleResource,
    readonly retryMs = 500,
  ) {
    super();
  }

  get isOpen(): boolean {
    return this.port !== undefined;
  }

  start(): void {
    this.tryOpen();
  }

  /** Returns false (and drops the bytes) while the port is not open. */
  write(data: Buffer): boolean {
    if (this.port === undefined) return false;
    this.port.write(data);
    return true;
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.presenceTimer);
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  private tryOpen(): void {
    const port = new SerialPort({
      path: this.resource.path,
      baudRate: this.resource.baudRate,
      autoOpen: false,
      // flock: a second console server (or a second copy of this one) fails
      // to open the port instead of splitting its bytes with us.
      lock: true,
      // Our closing or restarting must not hang up the line: HUPCL drops DTR,
      // which some adapters wire to the board's reset.
      hupcl: false,
    });
    port.on('data', (chunk: Buffer) => this.emit('data', chunk));
    port.on('close', (err?: Error) => this.lost(port, err?.message ?? 'port closed'));
    port.on('error', (err: Error) => this.lost(port, err.message));
    port.open((err) => {
      if (err) {
        this.emit('unavailable', err.message);
        this.scheduleRetry();
      } else if (this.stopped) {
        port.close();
      } else {
        this.port = port;
        this.watchPresence(port);
        this.emit('open');
      }
    });
  }

  /**
   * The port's error or close is how an unplug usually shows, but not always promptly (a pty whose
   * other side closed while nothing was read, some USB serial drivers): the device node vanishing, or
   * a different device at the path (a replug), counts as lost too.
   */
  private watchPresence(port: SerialPort): void {
    const device = deviceAt(this.resource.path);
    clearInterval(this.presenceTimer);
    this.presenceTimer = setInterval(() => {
      if (deviceAt(this.resource.path) !== device) this.lost(port, `${this.resource.path} is gone`);
    }, this.retryMs);
  }

  private lost(port: SerialPort, reason: string): void {
    if (this.port !== port || this.stopped) return;
    clearInterval(this.presenceTimer);
    this.port = undefined;
    if (port.isOpen) port.close();
    this.emit('unavailable', reason);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (!this.stopped) this.retryTimer = setTimeout(() => this.tryOpen(), this.retryMs);
  }
}

/** The device number behind a path (following links), or undefined when nothing is there. */
function deviceAt(path: string): number | undefined {
  try {
    return statSync(path).rdev;
  } catch {
    return undefined;
  }
}
