import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../src/host-command';
import { openImageSource, parseXzRobotList } from '../src/drivers/flash/image-source';
import { makeTempDir, removeTempDir } from '../src/testing/temp-dir';

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('flash: image source', function () {
  this.timeout(20000);
  let dir: string | undefined;
  let raw: string;
  let content: Buffer;

  before(async () => {
    dir = await makeTempDir('image-source');
    raw = join(dir, 'board.img');
    content = Buffer.concat([randomBytes(3 << 20), Buffer.alloc(5 << 20)]);
    await writeFile(raw, content);
    await run(['xz', '--keep', '-0', '--threads=0', raw]);
  });

  after(() => removeTempDir(dir));

  it('opens a raw image with its size and streams its bytes', async () => {
    const source = await openImageSource(raw);
    assert.equal(source.format, 'raw');
    assert.equal(source.size, content.length);
    assert.ok((await readAll(source.open())).equals(content));
  });

  it('opens an .img.xz with the uncompressed size from xz --robot --list, and decompresses it, twice', async () => {
    const source = await openImageSource(`${raw}.xz`);
    assert.equal(source.format, 'xz');
    assert.equal(source.size, content.length);
    assert.ok((await readAll(source.open())).equals(content));
    assert.ok((await readAll(source.open())).equals(content), 'a second open starts from the beginning');
  });

  it('parses the totals line of xz --robot --list', () => {
    const listing = 'name\tx.img.xz\nfile\t1\t1\t3000220\t3000000\t1.000\tCRC64\t0\ntotals\t1\t1\t3000220\t3000000\t1.000\tCRC64\t0\t1\n';
    assert.equal(parseXzRobotList(listing), 3000000);
    assert.equal(parseXzRobotList('name\tx\n'), undefined);
  });

  it('names the file when xz cannot read its index', async () => {
    const broken = join(dir!, 'truncated.img.xz');
    await writeFile(broken, (await readFile(`${raw}.xz`)).subarray(0, 4096));
    await assert.rejects(openImageSource(broken), (err: Error) => err.message.startsWith(`image ${broken}: xz cannot read it`));
  });

  it('fails the stream, naming the file, when the compressed data is corrupt', async () => {
    const corrupt = join(dir!, 'corrupt.img.xz');
    const bytes = Buffer.from(await readFile(`${raw}.xz`));
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await writeFile(corrupt, bytes);
    const source = await openImageSource(corrupt);
    await assert.rejects(readAll(source.open()), (err: Error) => err.message.startsWith(`image ${corrupt}: xz failed`));
  });

  it('refuses other compressions by their content, and a raw file named .xz', async () => {
    await run(['gzip', '--keep', '--force', raw]);
    await assert.rejects(openImageSource(`${raw}.gz`), /gzip-compressed; only raw \.img and \.img\.xz/);
    const fake = join(dir!, 'fake.img.xz');
    await writeFile(fake, content.subarray(0, 1024));
    await assert.rejects(openImageSource(fake), /fake\.img\.xz: named \.xz but is not xz data/);
  });

  it('names a missing file', async () => {
    const missing = join(dir!, 'missing.img');
    await assert.rejects(openImageSource(missing), (err: Error) => err.message.startsWith(`image ${missing}: ENOENT`));
  });
});
