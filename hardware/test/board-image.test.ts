import { strict as assert } from 'node:assert';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { customiseBootPartition } from '../src/drivers/flash/boot-partition';
import { openImageSource } from '../src/drivers/flash/image-source';
import { verifyImage, VerifyMismatchError, writeImage } from '../src/drivers/flash/write-image';
import { run } from '../src/host-command';
import { buildBoardImage, type BoardImage } from '../src/image/build-image';
import { Cleanup } from '../src/testing/cleanup';
import { makeTempDir, removeTempDir } from '../src/testing/temp-dir';

// The board images the VM lab boots (tests/test/vm-lab.test.ts), built here or taken from this machine's
// cache, and the flasher's read-back verify on a disk file written from one.
describe('board images: built once per recipe, written to a disk file with a verify that catches a changed byte', function () {
  this.timeout(2_400_000);
  const cleanup = new Cleanup();
  let dir: string;
  const images: BoardImage[] = [];

  before(async () => {
    dir = await makeTempDir('board-image');
    cleanup.add('remove temp dir', () => removeTempDir(dir));
  });
  after(() => cleanup.run());

  it('builds both images, once per recipe: the second call finds them in the cache', async () => {
    const log = (arch: string) => (p: { phase: string; message: string; elapsedMs: number }) =>
      p.phase !== 'packages' && console.log(`      ${arch} [${(p.elapsedMs / 1000).toFixed(0)} s] ${p.phase}: ${p.message}`);
    // One after the other: an arm64 root is made under qemu-user, which keeps a core busy by itself.
    for (const arch of ['amd64', 'arm64'] as const) images.push(await buildBoardImage({ arch, onProgress: log(arch) }));
    for (const image of images) {
      console.log(`      ${image.manifest.arch}: ${image.cached ? 'cached' : 'built'} in ${image.seconds.toFixed(1)} s (${image.path}, kernel ${image.manifest.kernelVersion})`);
      const again = await buildBoardImage({ arch: image.manifest.arch });
      assert.equal(again.cached, true);
      assert.equal(again.path, image.path);
      assert.ok(again.seconds < 5, `a cache hit took ${again.seconds} s`);
    }
    assert.match(images[1].manifest.kernelVersion, /arm64$/);
  });

  it('writes an image to a disk file with the flasher, whose read-back verify catches a changed byte', async () => {
    const [amd64] = images;
    assert.ok(amd64, 'no image (the build failed)');
    const disk = join(dir, 'tamper.disk');
    const source = await openImageSource(amd64.path);
    const written = await writeImage(source, disk);
    await verifyImage(source, disk, written);
    const offset = amd64.manifest.rootOffsetBytes + 4096 * 1000 + 17;
    const handle = await open(disk, 'r+');
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset);
    await handle.write(Buffer.from([byte[0] ^ 0x5a]), 0, 1, offset);
    await handle.close();
    await assert.rejects(verifyImage(source, disk, written), (err: unknown) => err instanceof VerifyMismatchError && err.offset === offset);
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKx2w0vjz7TqY0b1Yw0p6m0oQq7pQnNn0Hm0tqZ0n4Uv synrace@lab';
    assert.deepEqual(
      await customiseBootPartition(disk, { hostname: 'tamper', user: 'synrace', authorizedKeys: [key], management: { address: '10.0.0.2/24' } }),
      ['firstrun.sh', 'cmdline.txt'],
      'the image has the boot partition first-boot customisation expects',
    );
    await run(['rm', '-f', disk]);
  });
});
