import type { Readable } from 'node:stream';

/** Collects what `stream` emits until `done` accepts it; rejects after timeoutMs with what arrived so far. */
export function collectUntil(stream: Readable, done: (received: Buffer) => boolean, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (done(received)) finish();
    };
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms; received ${JSON.stringify(received.toString())}`)), timeoutMs);
    const finish = (err?: Error) => {
      clearTimeout(timer);
      stream.off('data', onData);
      if (err) reject(err);
      else resolve(received);
    };
    stream.on('data', onData);
  });
}

/** Polls `check` every 50 ms until it returns true; rejects with `what` after timeoutMs. */
export async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Everything `stream` emits during the next `ms` milliseconds. */
export function collectFor(stream: Readable, ms: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const onData = (chunk: Buffer) => chunks.push(chunk);
  stream.on('data', onData);
  return new Promise((resolve) =>
    setTimeout(() => {
      stream.off('data', onData);
      resolve(Buffer.concat(chunks));
    }, ms),
  );
}

/** Everything `stream` emits until it ends. */
export async function readToEnd(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}
