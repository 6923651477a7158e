import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_UNIT, WEB_UNIT, renderAgentUnit, renderWebUnit } from '../src/provision/systemd-units';

describe('systemd units of a provisioned board', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'srt-units-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('are units that systemd-analyze verifies without a complaint', () => {
    const nginx = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).stdout.trim();
    writeFileSync(join(dir, AGENT_UNIT), renderAgentUnit({ board: 'rep-iad', node: process.execPath, script: '/opt/synrace/agent.js', config: '/etc/synrace/agent.json' }));
    writeFileSync(join(dir, WEB_UNIT), renderWebUnit({ board: 'rep-iad', nginx, nginxConfig: '/etc/synrace/nginx.conf', nginxErrorLog: '/var/log/synrace/nginx-error.log', pidFile: '/run/synrace/nginx.pid' }));
    for (const unit of [AGENT_UNIT, WEB_UNIT]) {
      const verify = spawnSync('systemd-analyze', ['verify', '--man=no', join(dir, unit)], { encoding: 'utf8' });
      assert.equal(verify.stderr, '', `${unit}: ${verify.stderr}`);
      assert.equal(verify.status, 0);
    }
    // The same check fails a unit with a typo: it is not a check that passes anything.
    writeFileSync(join(dir, 'broken.service'), renderAgentUnit({ board: 'x', node: process.execPath, script: '/a.js', config: '/c.json' }).replace('Type=simple', 'Type=simpel'));
    assert.match(spawnSync('systemd-analyze', ['verify', '--man=no', join(dir, 'broken.service')], { encoding: 'utf8' }).stderr, /Failed to parse service type/);
  });

  it('restart the agent after a crash or a kill, not after a clean stop', () => {
    const unit = renderAgentUnit({ board: 'x', node: '/usr/bin/node', script: '/a.js', config: '/c.json' });
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^RestartSec=100ms$/m);
  });

  it("have systemd make the web server's run directory, since /run starts empty at every boot", () => {
    const web = (pidFile: string) => renderWebUnit({ board: 'x', nginx: '/usr/sbin/nginx', nginxConfig: '/etc/synrace/nginx.conf', nginxErrorLog: '/var/log/synrace/nginx-error.log', pidFile });
    assert.match(web('/run/synrace/nginx.pid'), /^RuntimeDirectory=synrace$/m);
    assert.throws(() => web('/var/run-elsewhere/nginx.pid'), /must be in a directory of its own under \/run/);
  });
});
