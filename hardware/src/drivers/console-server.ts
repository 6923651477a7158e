import { EventEmitter } from 'node:events';
import { lstat, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { ConsoleLogWriter } from './console-log';
import type { ConsoleSpec } from './console-server-config';
import { ReconnectingSerialPort } from './reconnecting-serial-port';

// A client that stops reading must not make the server buffer without bound.
const MAX_CLIENT_BACKLOG_BYTES = 1024 * 1024;

export interface ConsoleServerEvents {
  /** The serial port is open (first time and after every replug). */
  open: [];
}

/**
 * Owns one board's serial console, like ser2net/conserver: the only reader of
 * the port (two readers of one tty steal each other's bytes), it logs every
 * line and shares the live console with any number of clients on a unix
 * socket, passing what they type to the board.
 */
export class ConsoleServer extends EventEmitter<ConsoleServerEvents> {
  private readonly log: ConsoleLogWriter;
  private readonly serial: ReconnectingSerialPort;
  private readonly clients = new Set<Socket>();
  private readonly server: Server;
  private lostAt?: number;

  private constructor(readonly spec: ConsoleSpec) {
    super();
    this.log = new ConsoleLogWriter(spec.logFile, spec.board);
    this.serial = new ReconnectingSerialPort({ path: spec.path, baudRate: spec.baudRate });
    this.server = createServer((client) => this.attach(client));
    this.serial.on('data', (chunk) => {
      this.log.output(chunk);
      for (const client of this.clients) {
        client.write(chunk);
        if (client.writableLength > MAX_CLIENT_BACKLOG_BYTES) client.destroy();
      }
    });
    this.serial.on('open', () => {
      const after = this.lostAt === undefined ? '' : ` after ${Date.now() - this.lostAt} ms`;
      this.lostAt = undefined;
      this.log.note(`console ${spec.path} open${after}`);
      this.emit('open');
    });
    this.serial.on('unavailable', (reason) => {
      // Logged once per outage, not on every retry.
      if (this.lostAt !== undefined) return;
      this.lostAt = Date.now();
      this.log.note(`console ${spec.path} unavailable (${reason}); retrying every ${this.serial.retryMs} ms`);
    });
  }

  /** Listens on the socket and starts opening the serial port (which may not be there yet). */
  static async start(spec: ConsoleSpec): Promise<ConsoleServer> {
    const consoleServer = new ConsoleServer(spec);
    await removeStaleSocket(spec.socketPath);
    await new Promise<void>((resolve, reject) => {
      consoleServer.server.once('error', (err) => reject(new Error(`${spec.board}: cannot listen on ${spec.socketPath}: ${err.message}`)));
      consoleServer.server.listen(spec.socketPath, resolve);
    });
    consoleServer.serial.start();
    return consoleServer;
  }

  async stop(): Promise<void> {
    for (const client of this.clients) client.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.spec.socketPath, { force: true });
    await this.serial.close();
    this.log.note('console server stopped');
    await this.log.close();
  }

  private attach(client: Socket): void {
    this.clients.add(client);
    client.on('data', (chunk: Buffer) => {
      if (!this.serial.isOpen) client.write(`\r\n[${this.spec.board}: console ${this.spec.path} is not open; input dropped]\r\n`);
      else this.serial.write(chunk);
    });
    client.on('close', () => this.clients.delete(client));
    // A client that vanishes mid-write is not the console's problem; 'close' follows.
    client.on('error', () => undefined);
  }
}

async function removeStaleSocket(socketPath: string): Promise<void> {
  const stat = await lstat(socketPath).catch(() => undefined);
  if (stat === undefined) return;
  if (!stat.isSocket()) throw new Error(`${socketPath} exists and is not a socket; not replacing it`);
  await rm(socketPath);
}
