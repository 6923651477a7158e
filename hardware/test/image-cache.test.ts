import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeAbandonedBuilds } from '../src/image/build-image';
import { makeTempDir, removeTempDir } from '../src/testing/temp-dir';

describe('board image cache: what a killed build leaves', () => {
  let cache: string;
  beforeEach(async () => {
    cache = await makeTempDir('image-cache');
  });
  afterEach(() => removeTempDir(cache));

  it("removes a dead builder's work directory and partial image, and keeps a live builder's and every image", async () => {
    const dead = spawnSync('true').pid!;
    const deadRoot = `.srvm-build-arm64-ff1eb645f3a4-${dead}`;
    const deadPartial = `synrace-board-amd64-0ef9be0f48d066db.img.partial-${dead}`;
    const liveRoot = `.srvm-build-amd64-0ef9be0f48d0-${process.pid}`;
    const image = 'synrace-board-amd64-0ef9be0f48d066db.img';
    mkdirSync(join(cache, deadRoot, 'root', 'usr', 'bin'), { recursive: true });
    writeFileSync(join(cache, deadRoot, 'root', 'usr', 'bin', 'node'), 'x');
    writeFileSync(join(cache, deadPartial), 'partial');
    mkdirSync(join(cache, liveRoot, 'root'), { recursive: true });
    writeFileSync(join(cache, image), 'image');

    assert.deepEqual((await removeAbandonedBuilds(cache)).sort(), [deadRoot, deadPartial].sort());
    assert.equal(existsSync(join(cache, deadRoot)), false);
    assert.equal(existsSync(join(cache, deadPartial)), false);
    assert.equal(existsSync(join(cache, liveRoot, 'root')), true, 'a build that still runs keeps its root');
    assert.equal(existsSync(join(cache, image)), true);
  });

  it('finds nothing to remove in a cache that does not exist yet', async () => {
    assert.deepEqual(await removeAbandonedBuilds(join(cache, 'absent')), []);
  });
});
