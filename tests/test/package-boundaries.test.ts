import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@synrace/orchestrator';

/** Type-checks one file as a package of this repository would see it, with node16 module resolution. */
function compile(source: string): { ok: boolean; output: string } {
  const dir = mkdtempSync(join(REPO_ROOT, 'tests', '.boundary-'));
  try {
    writeFileSync(join(dir, 'probe.ts'), source);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: '../../tsconfig.base.json', compilerOptions: { noEmit: true, composite: false, declaration: false, types: ['node'] }, files: ['probe.ts'] }));
    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', dir], { encoding: 'utf8' });
    return { ok: tsc.status === 0, output: tsc.stdout + tsc.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('package boundaries', function () {
  this.timeout(120_000);

  it('let a package use what another exports, and refuse to compile a reach into its build', () => {
    const allowed = compile("import { SshShell } from '@synrace/hardware';\nimport { Cleanup } from '@synrace/hardware/testing';\nimport { AgentControlClient } from '@synrace/agents';\nexport const used = [SshShell, Cleanup, AgentControlClient];\n");
    assert.ok(allowed.ok, allowed.output);
    for (const deep of ['@synrace/hardware/dist/test/support/loop-device', '@synrace/orchestrator/dist/src/verify', '@synrace/agents/dist/bench/stats']) {
      const refused = compile(`import * as deep from '${deep}';\nexport const used = deep;\n`);
      assert.equal(refused.ok, false, `${deep} compiled`);
      assert.match(refused.output, /TS2307: Cannot find module/, deep);
    }
  });
});
