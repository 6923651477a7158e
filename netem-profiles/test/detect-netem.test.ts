import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { probeNetem, type ScriptRunner } from '../src/index';
import { run } from './netns';

const onThisHost: ScriptRunner = (script) =>
  new Promise((resolve) => execFile('sh', ['-c', script], (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr })));

describe('probeNetem', function () {
  this.timeout(15_000);

  it('agrees with the kernel config of this host', async () => {
    assert.ok(existsSync('/proc/config.gz'), 'this test reads the kernel config from /proc/config.gz');
    const configured = /^CONFIG_NET_SCH_NETEM=[ym]$/m.test(await run('zcat', ['/proc/config.gz']));
    const result = await probeNetem(onThisHost);
    assert.equal(result.available, configured, result.reason);
    if (!result.available) assert.match(result.reason, /tc qdisc add dev lo root netem delay 1ms: \S/);
  });

  it('says why when the probe cannot run at all', async () => {
    const result = await probeNetem(() => Promise.reject(new Error('ssh: connection refused')));
    assert.deepEqual(result, { available: false, reason: 'cannot probe: ssh: connection refused' });
  });
});
