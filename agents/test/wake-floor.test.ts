// The packet-stages benchmark's C receiver (native/wake-floor.c): it must count echo requests only, each
// once, and time them from their kernel receive timestamp, or the machine's share of a wake-up it reports
// would be some other figure.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createWanTopology, inNs, type WanTopology } from './support/wan-topology';

const WAKE_FLOOR = join(__dirname, '..', 'native', 'wake-floor');
const SAMPLES = 4;

describe('wake-floor: the C receiver the packet-stages benchmark sets beside the agent', function () {
  this.timeout(30_000);
  let topo: WanTopology | undefined;
  let receiver: ChildProcess | undefined;

  // A receiver still waiting for its samples when an assertion fails would otherwise outlive the test.
  after(() => {
    receiver?.kill();
    topo?.destroy();
  });

  it('refuses bad arguments with its usage, and an interface the namespace lacks', () => {
    for (const args of [[], ['eth0'], ['eth0', '0'], ['no-such-link', '3']]) {
      const r = spawnSync(WAKE_FLOOR, args, { encoding: 'utf8' });
      assert.equal(r.status, 2, `wake-floor ${args.join(' ')}`);
      assert.match(r.stderr, /usage: wake-floor <ifname> <count>/);
    }
  });

  it('times each echo request from its kernel receive timestamp, and nothing else', async () => {
    topo = createWanTopology('wfloor', [{ name: 'a', cidr: '10.78.0.1/24' }]);
    const [a] = topo.ends;
    // No one answers ARP for the target: a permanent neighbour lets a's echo requests leave towards the
    // WAN namespace's port, where the receiver listens; a's ARP and other frames must not be counted.
    inNs(a.ns, 'ip', ['neigh', 'add', '10.78.0.2', 'lladdr', '02:00:00:00:78:02', 'dev', a.ifname, 'nud', 'permanent']);
    const started = spawn('ip', ['netns', 'exec', topo.wanNs, WAKE_FLOOR, a.port, String(SAMPLES)], { stdio: ['ignore', 'pipe', 'pipe'] });
    receiver = started;
    let stdout = '';
    started.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    await new Promise<void>((resolve) => started.stderr.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve()));
    const began = Date.now();
    // Other IPv4 frames first: had they been counted, the receiver would be done before any echo request.
    for (let i = 0; i < SAMPLES; i++) inNs(a.ns, 'bash', ['-c', 'echo x > /dev/udp/10.78.0.2/9']);
    await sleep(300);
    assert.equal(started.exitCode, null, `wake-floor ended on frames that were not echo requests: ${stdout}`);
    // Nothing answers, so ping exits 1: its requests are what counts.
    spawnSync('ip', ['netns', 'exec', a.ns, 'ping', '-q', '-i', '0.2', '-c', String(SAMPLES), '-W', '1', '10.78.0.2']);
    const code = await new Promise<number | null>((resolve) => (started.exitCode !== null ? resolve(started.exitCode) : started.once('exit', resolve)));
    assert.equal(code, 0);
    const { lateUs } = JSON.parse(stdout) as { lateUs: number[] };
    assert.equal(lateUs.length, SAMPLES);
    // A wake-up is positive and far shorter than the whole exchange; a clock mismatch would be seconds off.
    for (const late of lateUs) assert.ok(late > 0 && late < (Date.now() - began) * 1000, `late ${late} us`);
  });
});
