import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { run } from '../../host-command';
import type { ImageSource } from './image-source';

export interface FlashProgress {
  phase: 'write' | 'verify';
  bytes: number;
  /** Undefined when the image format does not state its length. */
  total: number | undefined;
  /** Average since the phase began. */
  bytesPerSecond: number;
}

export type ProgressListener = (progress: FlashProgress) => void;

export interface WriteResult {
  bytes: number;
  seconds: number;
  sha256: string;
}

export class WriteImageError extends Error {
  constructor(readonly target: string, readonly offset: number, message: string) {
    super(`${target} at byte ${offset}: ${message}`);
    this.name = 'WriteImageError';
  }
}

export class VerifyMismatchError extends Error {
  constructor(readonly target: string, readonly offset: number | undefined, readonly expected: string, readonly actual: string) {
    super(
      `${target} does not read back as written: sha256 ${actual} instead of ${expected}` +
        (offset === undefined ? '' : `; first differing byte at offset ${offset}`),
    );
    this.name = 'VerifyMismatchError';
  }
}

const CHUNK = 4 << 20;
const ZEROS = Buffer.alloc(CHUNK);
// Without periodic syncs a block device swallows gigabytes into the page cache: the bar
// reaches 100% at RAM speed and then the final fsync stalls for minutes. Syncing every
// 32 MiB keeps the bar on the card's real pace at negligible cost.
const DEVICE_SYNC_INTERVAL = 32 << 20;

function progressOf(phase: FlashProgress['phase'], bytes: number, total: number | undefined, startedAt: bigint): FlashProgress {
  const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  return { phase, bytes, total, bytesPerSecond: seconds > 0 ? bytes / seconds : 0 };
}

async function isBlockDevice(path: string): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  if (info !== undefined && !info.isBlockDevice() && !info.isFile()) {
    throw new WriteImageError(path, 0, 'neither a block device nor a regular file');
  }
  return info?.isBlockDevice() ?? false;
}

/**
 * Streams `source` onto `target` (a block device, or a regular file that is created or
 * truncated), fsyncs, and returns the sha256 of exactly what was streamed.
 */
export async function writeImage(source: ImageSource, target: string, onProgress?: ProgressListener, beforeFirstWrite?: (handle: FileHandle) => Promise<void>): Promise<WriteResult> {
  const blockDevice = await isBlockDevice(target);
  // O_EXCL on a block device: the kernel refuses it (EBUSY) while anything mounts it or holds it.
  const handle = await open(target, blockDevice ? constants.O_RDWR | constants.O_EXCL : 'w').catch((err: Error) => {
    throw new WriteImageError(target, 0, `cannot open for writing: ${err.message}`);
  });
  try {
    await beforeFirstWrite?.(handle);
  } catch (err) {
    await handle.close();
    throw err;
  }
  const hash = createHash('sha256');
  const startedAt = process.hrtime.bigint();
  let written = 0;
  let sinceSync = 0;
  // Coalesces the decompressor's small chunks into large writes.
  const pending = Buffer.allocUnsafe(CHUNK);
  let filled = 0;

  const flush = async () => {
    if (filled === 0) return;
    try {
      let done = 0;
      // A file was truncated on open, so where the image has only zeros it can keep a hole: a disk file takes
      // the space of its data, and is written and read back faster. A card must have every byte written.
      if (!blockDevice && pending.subarray(0, filled).equals(ZEROS.subarray(0, filled))) done = filled;
      while (done < filled) done += (await handle.write(pending, done, filled - done, written + done)).bytesWritten;
      if (blockDevice && (sinceSync += filled) >= DEVICE_SYNC_INTERVAL) {
        await handle.datasync();
        sinceSync = 0;
      }
    } catch (err) {
      throw new WriteImageError(target, written, (err as Error).message);
    }
    written += filled;
    filled = 0;
    onProgress?.(progressOf('write', written, source.size, startedAt));
  };

  try {
    for await (const chunk of source.open() as AsyncIterable<Buffer>) {
      hash.update(chunk);
      for (let used = 0; used < chunk.length; ) {
        const take = Math.min(chunk.length - used, CHUNK - filled);
        chunk.copy(pending, filled, used, used + take);
        filled += take;
        used += take;
        if (filled === CHUNK) await flush();
      }
    }
    await flush();
    if (source.size !== undefined && written !== source.size) {
      throw new WriteImageError(target, written, `image ${source.path} ended after ${written} of the ${source.size} bytes it declares`);
    }
    // A trailing hole needs the file's length set, as a write would have.
    if (!blockDevice) await handle.truncate(written);
    await handle.sync().catch((err: Error) => {
      throw new WriteImageError(target, written, `fsync failed: ${err.message}`);
    });
  } finally {
    await handle.close();
  }
  return { bytes: written, seconds: Number(process.hrtime.bigint() - startedAt) / 1e9, sha256: hash.digest('hex') };
}

/** Offset of the first byte where the two streams differ within `length` bytes, or undefined. */
async function firstDifference(expected: Readable, actual: Readable, length: number): Promise<number | undefined> {
  const left = expected[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const right = actual[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let a = Buffer.alloc(0);
  let b = Buffer.alloc(0);
  let offset = 0;
  try {
    while (offset < length) {
      if (a.length === 0) a = (await left.next()).value ?? Buffer.alloc(0);
      if (b.length === 0) b = (await right.next()).value ?? Buffer.alloc(0);
      const n = Math.min(a.length, b.length, length - offset);
      if (n === 0) return offset; // one side ended early: the shorter one differs here
      const at = a.subarray(0, n).findIndex((byte, i) => byte !== b[i]);
      if (at >= 0) return offset + at;
      a = a.subarray(n);
      b = b.subarray(n);
      offset += n;
    }
    return undefined;
  } finally {
    expected.destroy();
    actual.destroy();
  }
}

/**
 * Reads `written.bytes` back from `target` and compares their sha256 with the one taken while
 * writing. On a mismatch the source is streamed again to name the first differing offset:
 * that second pass costs nothing when the card is good.
 */
export async function verifyImage(source: ImageSource, target: string, written: WriteResult, onProgress?: ProgressListener): Promise<void> {
  if (await isBlockDevice(target)) {
    // Drop the device's page cache, or the read-back compares RAM with RAM and proves nothing about the card.
    await run(['blockdev', '--flushbufs', target]);
  }
  const hash = createHash('sha256');
  const startedAt = process.hrtime.bigint();
  let read = 0;
  if (written.bytes > 0) {
    const stream = createReadStream(target, { start: 0, end: written.bytes - 1, highWaterMark: CHUNK });
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        hash.update(chunk);
        read += chunk.length;
        onProgress?.(progressOf('verify', read, written.bytes, startedAt));
      }
    } catch (err) {
      throw new WriteImageError(target, read, `read-back failed: ${(err as Error).message}`);
    }
  }
  const actual = hash.digest('hex');
  if (read === written.bytes && actual === written.sha256) return;
  const offset =
    read < written.bytes
      ? read
      : await firstDifference(source.open(), createReadStream(target, { start: 0, end: written.bytes - 1, highWaterMark: CHUNK }), written.bytes);
  throw new VerifyMismatchError(target, offset, written.sha256, actual);
}
