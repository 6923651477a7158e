// A minimal client for QEMU's Machine Protocol on a unix socket: one JSON object per line, a greeting, the
// qmp_capabilities handshake, then commands answered in order and asynchronous events in between
// (docs/interop/qmp-spec). Enough for power (quit, query-status), starting a prepared machine (cont) and
// watching why it stopped (SHUTDOWN events).
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export interface QmpClientEvents {
  event: [QmpEvent];
  close: [];
}

export class QmpError extends Error {
  constructor(readonly socketPath: string, message: string) {
    super(`QMP ${socketPath}: ${message}`);
    this.name = 'QmpError';
  }
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

export class QmpClient extends EventEmitter<QmpClientEvents> {
  private buffer = '';
  private readonly pending: Pending[] = [];
  private greeted?: () => void;
  closed = false;

  private constructor(private readonly socket: Socket, readonly socketPath: string) {
    super();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.receive(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      for (const p of this.pending.splice(0)) p.reject(new QmpError(socketPath, 'connection closed (QEMU exited?)'));
      this.emit('close');
    });
  }

  /** Connects and negotiates; retries a missing or refusing socket until `retryMs` has passed. */
  static async connect(socketPath: string, options: { timeoutMs: number; retryMs?: number } = { timeoutMs: 5000 }): Promise<QmpClient> {
    const deadline = Date.now() + (options.retryMs ?? 0);
    for (;;) {
      try {
        return await QmpClient.connectOnce(socketPath, options.timeoutMs);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if ((code !== 'ENOENT' && code !== 'ECONNREFUSED') || Date.now() >= deadline) throw err;
        await delay(100);
      }
    }
  }

  private static async connectOnce(socketPath: string, timeoutMs: number): Promise<QmpClient> {
    const socket = connect(socketPath);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new QmpClient(socket, socketPath);
    const greeting = new Promise<void>((resolve) => (client.greeted = resolve));
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    try {
      await greeting;
      await client.execute('qmp_capabilities');
    } catch (err) {
      socket.destroy();
      throw new QmpError(socketPath, `no QMP greeting and handshake within ${timeoutMs} ms (${(err as Error).message})`);
    } finally {
      clearTimeout(timer);
    }
    return client;
  }

  /** Runs one command; resolves with its `return`, rejects with QEMU's error description. */
  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    if (this.closed) return Promise.reject(new QmpError(this.socketPath, 'connection closed'));
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.write(JSON.stringify(args === undefined ? { execute: command } : { execute: command, arguments: args }) + '\n');
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    for (let nl = this.buffer.indexOf('\n'); nl >= 0; nl = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line === '') continue;
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if ('QMP' in message) this.greeted?.();
      else if ('event' in message) this.emit('event', message as unknown as QmpEvent);
      else if ('return' in message) this.pending.shift()?.resolve(message.return);
      else if ('error' in message) {
        const error = message.error as { class?: string; desc?: string };
        this.pending.shift()?.reject(new QmpError(this.socketPath, `${error.class ?? 'error'}: ${error.desc ?? line}`));
      }
    }
  }
}
