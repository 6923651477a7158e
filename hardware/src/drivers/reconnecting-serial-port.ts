import { EventEmitter } from 'node:events';
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
        this.emit('open');
      }
    });
  }

  private lost(port: SerialPort, reason: string): void {
    if (this.port !== port || this.stopped) return;
    this.port = undefined;
    if (port.isOpen) port.close();
    this.emit('unavailable', reason);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (!this.stopped) this.retryTimer = setTimeout(() => this.tryOpen(), this.retryMs);
  }
}
