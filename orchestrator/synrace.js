#!/usr/bin/env node
// The `synrace` command as npm links it. It is a file of the repository, not of the build, so that the
// link exists right after `npm ci`, before dist/ is built; it then says what to do instead of failing.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const built = join(__dirname, 'dist', 'bin', 'synrace.js');
if (!existsSync(built)) {
  process.stderr.write('synrace is not built yet: run `npm run build` (npm test and npm run demo build it first)\n');
  process.exit(1);
}
require(built);
