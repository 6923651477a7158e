#!/usr/bin/env node
// Builds (or finds cached) the QEMU board image for one architecture, printing progress: the library call
// `synrace image build [--arch amd64|arm64]` makes, usable before the orchestrator wires that command.
import { buildBoardImage } from '../src/image/build-image';

async function main(): Promise<void> {
  const at = process.argv.indexOf('--arch');
  const arch = at >= 0 ? process.argv[at + 1] ?? '' : 'amd64';
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  process.once('SIGTERM', () => controller.abort());
  const image = await buildBoardImage({
    arch,
    rebuild: process.argv.includes('--rebuild'),
    signal: controller.signal,
    onProgress: (p) => process.stderr.write(`[${(p.elapsedMs / 1000).toFixed(0).padStart(4)} s] ${p.phase}: ${p.message}\n`),
  });
  process.stdout.write(`${JSON.stringify({ path: image.path, cached: image.cached, seconds: image.seconds, ...image.manifest }, null, 2)}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exitCode = 1;
});
