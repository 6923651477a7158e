// The delay line end to end: real namespaces, the compiled agent run as the
// orchestrator runs it, and traffic from ping and TCP.
import { strict as assert } from 'node:assert';
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { WanDelayConfig } from '../src/roles/wan-delay-config';
import { AgentRun, spawnAgent, waitForOutput } from './support/agent-process';
import { createWanTopology, run, WanTopology } from './support/wan-topology';

const execFileP = promisify(execFile);

interface PingResult {
  transmitted: number;
  received: number;
  rttsMs: number[];
}

async function ping(ns: string, ip: string, count: number): Promise<PingResult> {
  let out: string;
  try {
    out = (await execFileP('ip', ['netns', 'exec', ns, 'ping', '-n', '-c', String(count), '-i', '0.05', '-W', '1', ip])).stdout;
  } catch (err) {
    out = (err as { stdout?: string }).stdout ?? ''; // ping exits 1 when replies are missing
  }
  const summary = /(\d+) packets transmitted, (\d+) received/.exec(out);
  assert.ok(summary, `unexpected ping output:\n${out}`);
  return {
    transmitted: Number(summary[1]),
    received: Number(summary[2]),
    rttsMs: [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function path(from: string, to: string, delayMs: number, extra: Partial<WanDelayConfig['paths'][0]> = {}): WanDelayConfig['paths'][0] {
  return { from, to, delayMs, jitterMs: 0, lossPct: 0, ...extra };
}

describe('wan-delay role (namespaces)', function () {
  this.timeout(60_000);
  let topo: WanTopology;
  let agent: AgentRun | undefined;
  // a and c share site A; b is site B.
  const ports = [{ ifname: 'p-a', site: 'A' }, { ifname: 'p-b', site: 'B' }, { ifname: 'p-c', site: 'A' }];
  const ipA = '10.77.0.1';
  const ipB = '10.77.0.2';
  const ipC = '10.77.0.3';

  const startAgent = async (wan: WanDelayConfig): Promise<AgentRun> => {
    agent = spawnAgent(topo.wanNs, { board: 'wan', roles: { 'wan-delay': wan } });
    await waitForOutput(agent, 'wan-delay ready');
    return agent;
  };

  before(() => {
    topo = createWanTopology('it', [
      { name: 'a', cidr: `${ipA}/24` },
      { name: 'b', cidr: `${ipB}/24` },
      { name: 'c', cidr: `${ipC}/24` },
    ]);
  });

  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
  });

  after(() => topo?.destroy());

  it('delays each direction by its own path and same-site traffic not at all', async () => {
    const run = await startAgent({ ports, paths: [path('A', 'B', 20), path('B', 'A', 5)] });
    assert.match(run.output(), /^synrace-agent\[wan\]: wan-delay ready: 3 ports, 2 paths \(engine pid \d+\)$/m);

    const ab = await ping(topo.ends[0].ns, ipB, 20);
    assert.equal(ab.received, 20);
    const rtt = median(ab.rttsMs);
    assert.ok(Math.abs(rtt - 25) <= Math.max(1, 0.05 * 25), `median RTT a->b ${rtt} ms, expected 25`);

    const ac = await ping(topo.ends[0].ns, ipC, 10);
    assert.equal(ac.received, 10);
    // Same-site frames cross the agent but no path: far below the shortest
    // path's 5 ms, whatever a loaded host adds to a userspace hop.
    assert.ok(median(ac.rttsMs) < 5, `median RTT a->c (same site) ${median(ac.rttsMs)} ms, a path's delay is 5 ms or more`);

    assert.equal(await run.stop(), 0);
    assert.match(run.output(), /stopping on SIGTERM/);
    assert.match(run.output(), /: stopped$/m);
    const forwarded = /wan-delay A->B: forwarded=(\d+) droppedLoss=0 droppedQueue=0/.exec(run.output());
    assert.ok(forwarded && Number(forwarded[1]) >= 20, run.output());
  });

  it('runs its engine on SCHED_FIFO with its memory locked, and the engine goes with its agent, even one killed outright', async () => {
    const enginePid = async (run: AgentRun): Promise<number> => Number(/engine pid (\d+)/.exec(run.output())![1]);
    const run = await startAgent({ ports, paths: [path('A', 'B', 1), path('B', 'A', 1)] });
    const pid = await enginePid(run);
    const sched = readFileSync(`/proc/${pid}/sched`, 'utf8');
    assert.match(sched, /^policy\s+:\s+1$/m, 'SCHED_FIFO');
    assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), /^VmLck:\s+[1-9]\d* kB$/m, 'memory locked');
    assert.equal(await run.stop(), 0);
    assert.ok(!existsSync(`/proc/${pid}`), 'engine gone after SIGTERM');

    const killed = await startAgent({ ports, paths: [path('A', 'B', 1), path('B', 'A', 1)] });
    const orphan = await enginePid(killed);
    // `ip netns exec` execs the agent, so its pid is the agent's.
    process.kill(killed.child.pid!, 'SIGKILL');
    await killed.exited;
    for (let i = 0; i < 100 && existsSync(`/proc/${orphan}`); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(!existsSync(`/proc/${orphan}`), 'engine gone after its agent was SIGKILLed');
  });

  it('loses about lossPct of the frames on a lossy path', async () => {
    await startAgent({ ports, paths: [path('A', 'B', 1, { lossPct: 50 }), path('B', 'A', 1)] });
    // Each end's address resolved for good beforehand: ARP crosses the lossy path too, and a resolution
    // lost three times (1 in 8) left ping without a neighbour for seconds (CI64: 4 of 60 received).
    const [a, b] = topo.ends;
    run('ip', ['-n', a.ns, 'neigh', 'replace', ipB, 'lladdr', b.mac, 'dev', a.ifname, 'nud', 'permanent']);
    run('ip', ['-n', b.ns, 'neigh', 'replace', ipA, 'lladdr', a.mac, 'dev', b.ifname, 'nud', 'permanent']);
    const result = await ping(a.ns, ipB, 60);
    // Binomial(60, 0.5) falls outside 15..45 with probability < 1e-4.
    assert.ok(result.received >= 15 && result.received <= 45, `received ${result.received} of 60`);
  });

  it('carries a 5 MB TCP transfer intact through jittered paths, no faster than the rate limit', async () => {
    await startAgent({
      ports,
      paths: [path('A', 'B', 10, { jitterMs: 3, rateMbit: 50 }), path('B', 'A', 10, { jitterMs: 3 })],
    });
    const data = randomBytes(5 * 1024 * 1024);
    const server = spawn('ip', ['netns', 'exec', topo.ends[1].ns, process.execPath, '-e', `
      const h = require('crypto').createHash('sha256'); let n = 0;
      const s = require('net').createServer((c) => {
        c.on('data', (d) => { h.update(d); n += d.length; });
        c.on('end', () => { console.log(n + ' ' + h.digest('hex')); c.end(); s.close(); });
      }).listen(5001, '${ipB}', () => console.log('listening'));`]);
    let client: ChildProcess | undefined;
    try {
      let out = '';
      server.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const serverDone = new Promise((resolve) => server.once('exit', resolve));
      while (!out.includes('listening')) await new Promise((r) => setTimeout(r, 20));
      client = spawn('ip', ['netns', 'exec', topo.ends[0].ns, process.execPath, '-e',
        `const c = require('net').connect(5001, '${ipB}', () => process.stdin.pipe(c));`], { stdio: ['pipe', 'ignore', 'inherit'] });
      const started = Date.now();
      client.stdin?.end(data);
      await serverDone;
      const seconds = (Date.now() - started) / 1000;
      assert.equal(out.trim().split('\n')[1], `${data.length} ${createHash('sha256').update(data).digest('hex')}`);
      // 5 MiB of payload alone needs 0.84 s at 50 Mbit/s.
      assert.ok(seconds >= 0.8, `transfer took ${seconds} s`);
    } finally {
      client?.kill('SIGKILL');
      server.kill('SIGKILL');
    }
  });

  it('exits 2 naming the problem when a port interface is missing', async () => {
    const run = spawnAgent(topo.wanNs, {
      board: 'wan', roles: { 'wan-delay': { ports: [...ports, { ifname: 'p-zz', site: 'B' }], paths: [path('A', 'B', 1), path('B', 'A', 1)] } },
    });
    assert.equal(await run.exited, 2);
    assert.match(run.output(), /^synrace-agent\[wan\]: bad config: roles\.wan-delay\.ports\[3\]\.ifname: interface 'p-zz' not found in this network namespace$/m);
    assert.doesNotMatch(run.output(), /ready/);
  });

  it('exits 2 naming an unknown site before touching any interface', async () => {
    const run = spawnAgent(topo.wanNs, { board: 'wan', roles: { 'wan-delay': { ports, paths: [path('A', 'B', 1), path('B', 'X', 1)] } } });
    assert.equal(await run.exited, 2);
    assert.match(run.output(), /bad config: roles\.wan-delay\.paths\[1\]: unknown site 'X'/);
  });
});
