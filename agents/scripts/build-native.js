#!/usr/bin/env node
// Compiles the delay line's engine (native/wan-delay-engine.c), the wake probe its benchmark sets beside
// it (native/wake-probe.c) and the packet-stages benchmark's C receiver (native/wake-floor.c) into
// dist/native/, each when its source is newer than its build. They run only on the machine that hosts a
// namespace lab's WAN, never on a board.
'use strict';
const { execFileSync } = require('node:child_process');
const { existsSync, mkdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

for (const name of ['wan-delay-engine', 'wake-probe', 'wake-floor']) {
  const source = join(__dirname, '..', 'native', `${name}.c`);
  const output = join(__dirname, '..', 'dist', 'native', name);
  if (existsSync(output) && statSync(output).mtimeMs >= statSync(source).mtimeMs) continue;
  mkdirSync(join(output, '..'), { recursive: true });
  try {
    execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', output, source], { stdio: 'inherit' });
  } catch (err) {
    const missing = err.code === 'ENOENT';
    process.stderr.write(`agents: cannot compile ${source}: ${missing ? 'no C compiler (cc) on PATH: apt-get install gcc libc6-dev' : err.message}\n`);
    process.exit(1);
  }
}
