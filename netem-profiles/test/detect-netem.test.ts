import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { detectNetem } from '../src/index';
import { run } from '../src/netns';

const probeNamespaces = async () => (await run('ip', ['netns', 'list'])).split('\n').filter((l) => l.startsWith('srt-probe-'));

describe('detectNetem', function () {
  this.timeout(15_000);

  it('agrees with the kernel config and leaves no probe namespace behind', async function () {
    if (!existsSync('/proc/config.gz')) this.skip();
    const configured = /^CONFIG_NET_SCH_NETEM=[ym]$/m.test(await run('zcat', ['/proc/config.gz']));
    const before = await probeNamespaces();
    const result = await detectNetem();
    assert.equal(result.available, configured, result.reason);
    if (!result.available) assert.match(result.reason, /tc qdisc add dev lo root netem delay 1ms: \S/);
    assert.deepEqual(await probeNamespaces(), before);
  });
});
