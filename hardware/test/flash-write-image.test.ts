import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { open, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../src/host-command';
import { openImageSource } from '../src/drivers/flash/image-source';
import { verifyImage, writeImage, VerifyMismatchError, WriteImageError, type FlashProgress } from '../src/drivers/flash/write-image';
import { Cleanup } from '../src/testing/cleanup';
import { attachLoop } from './support/loop-device';
import { buildPiImage, sha256OfFile } from './support/pi-image';
import { makeTempDir, removeTempDir } from '../src/testing/temp-dir';

describe('flash: write and verify an image', function () {
  this.timeout(60000);
  const cleanup = new Cleanup();
  let dir: string;
  let image: string;

  before(async () => {
    dir = await makeTempDir('write-image');
    cleanup.add('remove temp dir', () => removeTempDir(dir));
    image = join(dir, 'board.img');
    await buildPiImage(image, { bootMiB: 40, rootMiB: 24 });
    await run(['xz', '--keep', '-0', '--threads=0', image]);
  });

  after(() => cleanup.run());

  it('writes a raw image to a regular file with rising progress, and returns the sha256 of the image', async () => {
    const source = await openImageSource(image);
    const target = join(dir, 'out.img');
    const updates: FlashProgress[] = [];
    const result = await writeImage(source, target, (p) => updates.push(p));
    const expected = await sha256OfFile(image);
    assert.equal(result.sha256, expected);
    assert.equal(result.bytes, source.size);
    assert.equal(await sha256OfFile(target), expected);
    assert.ok(updates.length >= 16, `one update per 4 MiB chunk, got ${updates.length}`);
    assert.ok(updates.every((p, i) => p.phase === 'write' && p.total === source.size && (i === 0 || p.bytes > updates[i - 1].bytes)));
    assert.equal(updates.at(-1)?.bytes, source.size);
    assert.ok(updates.at(-1)!.bytesPerSecond > 0);
    await verifyImage(source, target, result);
  });

  it("leaves holes in a regular file where the image is zeros, the file still reading back as the image, to its last byte", async () => {
    const zeros = join(dir, 'zeros.img');
    // Data, then 32 MiB of zeros, then data again, then zeros to the end: a hole in the middle and at the end.
    const data = createHash('sha256').update('synrace').digest();
    await run(['truncate', '--size', '64M', zeros]);
    const handle = await open(zeros, 'r+');
    await handle.write(data, 0, data.length, 0);
    await handle.write(data, 0, data.length, 40 << 20);
    await handle.close();
    const source = await openImageSource(zeros);
    const target = join(dir, 'sparse.img');
    const result = await writeImage(source, target);
    await verifyImage(source, target, result);
    assert.equal(await sha256OfFile(target), await sha256OfFile(zeros));
    const { stdout } = await run(['stat', '-c', '%s %b %B', target]);
    const [size, blocks, blockSize] = stdout.trim().split(' ').map(Number);
    assert.equal(size, 64 << 20);
    assert.ok(blocks * blockSize <= 8 << 20, `${blocks * blockSize} bytes allocated for 64 MiB of mostly zeros`);
  });

  it('truncates a longer regular file to the image', async () => {
    const target = join(dir, 'longer.img');
    await run(['truncate', '--size', '200M', target]);
    const source = await openImageSource(image);
    await writeImage(source, target);
    assert.equal((await readFile(target)).length, source.size);
  });

  it('writes an .img.xz to a loop device and verifies it, reporting verify progress', async () => {
    const backing = join(dir, 'card.bin');
    await run(['truncate', '--size', '96M', backing]);
    const device = await attachLoop(backing, cleanup);
    const source = await openImageSource(`${image}.xz`);
    const result = await writeImage(source, device);
    assert.equal(result.sha256, await sha256OfFile(image));
    const verifyUpdates: FlashProgress[] = [];
    await verifyImage(source, device, result, (p) => verifyUpdates.push(p));
    assert.equal(verifyUpdates.at(-1)?.bytes, result.bytes);
    assert.ok(verifyUpdates.every((p) => p.phase === 'verify' && p.total === result.bytes));
    assert.equal(await sha256OfFile(backing, { start: 0, length: result.bytes }), result.sha256, 'the backing file holds the image');
  });

  it('names the first differing offset when the target does not read back as written', async () => {
    const source = await openImageSource(image);
    const target = join(dir, 'corrupted.img');
    const result = await writeImage(source, target);
    const offset = 5 * 1024 * 1024 + 12345;
    const handle = await open(target, 'r+');
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset);
    byte[0] ^= 0x5a;
    await handle.write(byte, 0, 1, offset);
    await handle.close();
    await assert.rejects(verifyImage(source, target, result), (err: unknown) => {
      assert.ok(err instanceof VerifyMismatchError);
      assert.equal(err.offset, offset);
      assert.equal(err.target, target);
      assert.match(err.message, new RegExp(`first differing byte at offset ${offset}`));
      return true;
    });
  });

  it('names the offset where the target ends when it is shorter than the image', async () => {
    const source = await openImageSource(image);
    const target = join(dir, 'shortened.img');
    const result = await writeImage(source, target);
    await truncate(target, 1 << 20);
    await assert.rejects(verifyImage(source, target, result), (err: unknown) => err instanceof VerifyMismatchError && err.offset === 1 << 20);
  });

  it('fails naming the device and offset when the device is too small', async () => {
    const backing = join(dir, 'small.bin');
    await run(['truncate', '--size', '16M', backing]);
    const device = await attachLoop(backing, cleanup);
    await assert.rejects(writeImage(await openImageSource(image), device), (err: unknown) => {
      assert.ok(err instanceof WriteImageError, String(err));
      assert.equal(err.target, device);
      assert.equal(err.offset, 16 << 20);
      assert.match(err.message, new RegExp(`^${device} at byte ${16 << 20}: `));
      return true;
    });
  });

  it('hashes exactly the streamed bytes (a different image gives a different sha256)', async () => {
    const other = join(dir, 'other.img');
    await buildPiImage(other, { bootMiB: 40, rootMiB: 24 });
    const result = await writeImage(await openImageSource(other), join(dir, 'other-out.img'));
    assert.equal(result.sha256, createHash('sha256').update(await readFile(other)).digest('hex'));
    assert.notEqual(result.sha256, await sha256OfFile(image));
  });
});
