import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { seededRandom } from '@synrace/netem-profiles';
import { describeLeftovers, findLeftovers, LabHostNames, labRunDir, renderTable, withLab, type Lab } from '@synrace/orchestrator';
import { runCli, startCli } from '../src/cli';
import type { BenchContext, BenchSection, SectionReport } from './section';

/** The lab cycled, small so that a hundred cycles take minutes; the world lab stays up beside it. */
const CYCLED = 'bench-cycle';
const CYCLED_OPTIONS = ['--topology', 'europe', '--profile', 'europe'];
const DEFAULT_CYCLES = 100;
const DEFAULT_SEED = 20261201;

interface Cycle { n: number; kind: 'clean' | 'killed'; killAfterMs?: number; leftovers: string[]; verified: boolean; otherVerified: boolean; seconds: number }

/** What the cycled lab left on the host: its names, plus any SYNRACE chain in the host's own tables. */
async function leftovers(): Promise<string[]> {
  const found = describeLeftovers(await findLeftovers(labRunDir(CYCLED), new LabHostNames(CYCLED)));
  const chains = execFileSync('sh', ['-c', 'iptables -w -t mangle -S; iptables -w -S'], { encoding: 'utf8' }).split('\n').filter((l) => /SYNRACE/.test(l));
  return [...found, ...chains.map((c) => `host iptables: ${c}`)];
}

async function upAndVerify(): Promise<boolean> {
  const up = await runCli(['up', '--name', CYCLED, ...CYCLED_OPTIONS]);
  if (up.code !== 0) throw new Error(`up of ${CYCLED} failed: ${up.stderr.slice(-500)}`);
  const verify = await runCli(['verify', '--lab', CYCLED, '--race', 'plain', '--connections', '1']);
  const down = await runCli(['down', '--lab', CYCLED]);
  if (down.code !== 0) throw new Error(`down of ${CYCLED} failed: ${down.stderr.slice(-500)}`);
  return verify.code === 0;
}

/** A lab killed outright while it comes up: SIGKILL at a moment of the seeded generator's choosing, then down. */
async function killedUp(killAfterMs: number): Promise<void> {
  const up = startCli(['up', '--name', CYCLED, ...CYCLED_OPTIONS]);
  await new Promise((r) => setTimeout(r, killAfterMs));
  up.child.kill('SIGKILL');
  await up.exit;
  const down = await runCli(['down', '--lab', CYCLED]);
  // A kill before anything was recorded leaves no lab to take down: that is a clean host too.
  if (down.code !== 0 && !/no lab "bench-cycle" is up/.test(down.stderr)) throw new Error(`down after a killed up failed: ${down.stderr.slice(-500)}`);
}

async function cycles(context: BenchContext, count: number, seed: number): Promise<{ seed: number; cycles: Cycle[] }> {
  const next = seededRandom(seed);
  const result: Cycle[] = [];
  context.progress.step(`lifecycle: ${count} cycles of lab ${CYCLED} (europe) beside the world lab, seed ${seed}`);
  await withLab({ name: 'bench-lifecycle-world' }, context.signal, async (other: Lab) => {
    for (let n = 1; n <= count; n++) {
      context.signal.throwIfAborted();
      const started = performance.now();
      const kind = n % 2 === 0 ? 'killed' : 'clean';
      // Bring-up of the europe lab takes a few seconds: kill moments spread over all of it.
      const killAfterMs = kind === 'killed' ? Math.round(200 + next() * 6000) : undefined;
      let verified: boolean;
      if (killAfterMs !== undefined) {
        await killedUp(killAfterMs);
        const afterKill = await leftovers();
        if (afterKill.length) result.push({ n, kind, killAfterMs, leftovers: afterKill, verified: false, otherVerified: false, seconds: 0 });
        verified = await upAndVerify();
      } else verified = await upAndVerify();
      const left = await leftovers();
      const { judged } = await other.verify(['plain'], 1);
      const cycle: Cycle = { n, kind, killAfterMs, leftovers: left, verified, otherVerified: judged.misses.length === 0, seconds: (performance.now() - started) / 1000 };
      result.push(cycle);
      context.progress.step(`lifecycle ${n}/${count} ${kind}${killAfterMs !== undefined ? ` (SIGKILL after ${killAfterMs} ms)` : ''}: ${left.length} leftovers, verify ${verified ? 'ok' : 'FAILED'}, world lab ${cycle.otherVerified ? 'ok' : 'FAILED'}`);
    }
  });
  return { seed, cycles: result };
}

function render(r: { seed: number; cycles: Cycle[] }): string {
  const killed = r.cycles.filter((c) => c.kind === 'killed');
  const dirty = r.cycles.filter((c) => c.leftovers.length > 0);
  const rows = dirty.map((c) => [c.n, c.kind, c.killAfterMs ?? '', c.leftovers.slice(0, 3).join('; ')]);
  return [
    `${r.cycles.filter((c) => c.kind === 'clean').length} clean cycles (up, verify, down) and ${killed.length} with up SIGKILLed at a seeded moment, then down, then up, verify, down; seed ${r.seed}`,
    `checks with leftovers (namespaces, links, processes, mounts, host iptables chains): ${dirty.length}`,
    `cycled lab verified: ${r.cycles.filter((c) => c.verified).length}; the world lab beside it verified after every cycle: ${r.cycles.every((c) => c.otherVerified) ? 'yes' : `no, after ${r.cycles.filter((c) => !c.otherVerified).map((c) => c.n).join(', ')}`}`,
    `median cycle ${[...r.cycles].map((c) => c.seconds).sort((a, b) => a - b)[r.cycles.length >> 1]?.toFixed(1)} s`,
    ...(rows.length ? ['', renderTable(['cycle', 'kind', 'killed after ms', 'leftovers'], rows)] : []),
  ].join('\n');
}

export const lifecycle: BenchSection = {
  name: 'lifecycle',
  title: 'Lifecycle: labs killed while coming up leave nothing, and never touch the lab beside them',
  needs: 'host',
  async run(context): Promise<SectionReport> {
    const count = Number(process.env.SYNRACE_BENCH_CYCLES ?? DEFAULT_CYCLES);
    const seed = Number(process.env.SYNRACE_BENCH_SEED ?? DEFAULT_SEED);
    const result = await cycles(context, count, seed);
    return { result, text: render(result) };
  },
};

/** Every agent of the live lab killed outright at once: does each board fail open, and is each agent back within 2 s? */
export const agentKill: BenchSection = {
  name: 'agent-kill',
  title: 'Every agent SIGKILLed once: boards fail open and the agents come back',
  needs: 'world-lab',
  async run(context, lab): Promise<SectionReport> {
    const boards = lab.agentBoards().map((b) => b.name);
    const pids = await Promise.all(boards.map(async (b) => (await lab.agent(b).health()).pid));
    context.progress.step(`agent-kill: killing the agents of ${boards.join(', ')}`);
    const killedAt = performance.now();
    await Promise.all(boards.map((b, i) => lab.exec(b, `kill -9 ${pids[i]}`)));
    const { topology } = lab.inputs();
    const host = topology.boards.find((b) => b.roles.includes('client-host'))!.name;
    // While the agents are down (or coming back): plain forwarding must carry web traffic.
    const during = await lab.exec(host, `curl -s -o /dev/null -m 5 -w '%{http_code}' http://${topology.boards.find((b) => b.roles.includes('origin-server'))!.interfaces[0].address.split('/')[0]}/`);
    const backMs = await Promise.all(boards.map(async (b) => {
      await lab.agent(b).waitHealthy(10_000);
      return performance.now() - killedAt;
    }));
    const { verdicts } = await lab.verify(['plain', 'synchronized'], 2);
    const result = { boards, failOpenHttpCode: during.stdout, backMs: Object.fromEntries(boards.map((b, i) => [b, Math.round(backMs[i])])), slowestBackMs: Math.round(Math.max(...backMs)), verified: verdicts.every((v) => v.ok) };
    const text = [
      `${boards.length} agents killed at once; web request through a gateway meanwhile: HTTP ${result.failOpenHttpCode}`,
      `back (control API answering) after: slowest ${result.slowestBackMs} ms (${Object.entries(result.backMs).map(([b, ms]) => `${b} ${ms}`).join(', ')})`,
      `verify afterwards: ${result.verified ? 'every client site on its predicted winner' : 'MISMATCH'}`,
    ].join('\n');
    return { result, text };
  },
};

