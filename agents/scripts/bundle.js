#!/usr/bin/env node
// Bundles the agent into one file for boards (dist/bundle/agent.js), next to the
// only native module it loads, koffi, trimmed to its prebuilt Linux binaries:
// nothing in the bundle is compiled for this machine, so a board of any of
// those architectures runs it as it is.
'use strict';
const { build } = require('esbuild');
const { cpSync, mkdirSync, rmSync, writeFileSync } = require('node:fs');
const { dirname, join } = require('node:path');

const out = join(__dirname, '..', 'dist', 'bundle');
const NATIVE = ['koffi'];
const KOFFI_PLATFORMS = ['linux_x64', 'linux_arm64', 'linux_armhf'];

function packageDir(name) {
  return dirname(require.resolve(`${name}/package.json`));
}

function copyPackage(name, parts) {
  const from = packageDir(name);
  for (const part of parts) cpSync(join(from, part), join(out, 'node_modules', name, part), { recursive: true });
}

async function main() {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [join(__dirname, '..', 'dist', 'src', 'main.js')],
    outfile: join(out, 'agent.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: NATIVE,
    logLevel: 'warning',
  });
  copyPackage('koffi', ['package.json', 'index.js', ...KOFFI_PLATFORMS.map((p) => `build/koffi/${p}`)]);
  writeFileSync(join(out, 'README'), 'synrace agent bundle: node agent.js --config <board-config.json>\n');
}

main().catch((err) => {
  console.error(`bundle: ${err.message}`);
  process.exit(1);
});
