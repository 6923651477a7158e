#!/usr/bin/env node
// Compiles the delay line's engine (native/wan-delay-engine.c) into dist/native/, when its source is
// newer than the build. It runs only on the machine that hosts a namespace lab's WAN, never on a board.
'use strict';
const { execFileSync } = require('node:child_process');
const { existsSync, mkdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

const source = join(__dirname, '..', 'native', 'wan-delay-engine.c');
const output = join(__dirname, '..', 'dist', 'native', 'wan-delay-engine');

if (existsSync(output) && statSync(output).mtimeMs >= statSync(source).mtimeMs) process.exit(0);
mkdirSync(join(output, '..'), { recursive: true });
try {
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', output, source], { stdio: 'inherit' });
} catch (err) {
  const missing = err.code === 'ENOENT';
  process.stderr.write(`agents: cannot compile ${source}: ${missing ? 'no C compiler (cc) on PATH: apt-get install gcc libc6-dev' : err.message}\n`);
  process.exit(1);
}
