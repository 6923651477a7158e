import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { runCli } from '../src';

/** `synrace image build` as a lab engineer runs it: the real builder and the machine's real image cache. */
describe('synrace image build', function () {
  // A machine without the image builds it here (about 100 s for amd64 under TCG); the QEMU boards take it from the cache later.
  this.timeout(1_200_000);

  it('refuses an architecture it cannot build, naming the ones it can, before anything is made', async () => {
    const run = await runCli(['image', 'build', '--arch', 'sparc']);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /--arch must be one of amd64, arm64, not "sparc"/);
    const verb = await runCli(['image', 'make']);
    assert.equal(verb.code, 2, verb.stderr);
    assert.match(verb.stderr, /image takes build/);
  });

  it('gives the amd64 board image (a FAT boot partition and an ext4 root), then the same file from the cache', async () => {
    const first = await runCli(['image', 'build', '--arch', 'amd64', '--json']);
    assert.equal(first.code, 0, first.stderr.slice(-2000));
    const image = JSON.parse(first.stdout) as { path: string; cached: boolean; manifest: { arch: string; sizeBytes: number; hash: string } };
    assert.equal(image.manifest.arch, 'amd64');
    assert.ok(existsSync(image.path), image.path);
    assert.equal(statSync(image.path).size, image.manifest.sizeBytes);
    const partitions = execFileSync('sfdisk', ['--dump', image.path], { encoding: 'utf8' });
    assert.match(partitions, /type=c\b/, `a FAT32 (LBA) boot partition, as on a Pi:\n${partitions}`);
    assert.match(partitions, /type=83\b/, `a Linux root partition:\n${partitions}`);
    if (!image.cached) assert.match(first.stderr, /image amd64: packages: /, 'a build shows its progress');

    const again = await runCli(['image', 'build', '--arch', 'amd64', '--json']);
    assert.equal(again.code, 0, again.stderr.slice(-2000));
    const cached = JSON.parse(again.stdout) as typeof image;
    assert.deepEqual([cached.cached, cached.path, cached.manifest.hash], [true, image.path, image.manifest.hash]);
    assert.match(again.stderr, /image amd64: done: cached /);
  });
});
