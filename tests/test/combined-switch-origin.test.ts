// A board that is both the server switch and the origin (the shipped atlantic and europe labs): the switch
// must race the SYNs sent to its own address, hold the origin's own copy in the synchronized race, and its
// copies, sent from the origin's address, must reach replicas that own that address themselves (C).
// One lab goes through A, B and C by `reconfigure`, which must leave each board one agent, with its new config.
import assert from 'node:assert/strict';
import { predict } from '@synrace/netem-profiles';
import type { Configuration } from '@synrace/agents';
import { renderVerdicts } from '@synrace/orchestrator';
import { describeOwnLabs, useLab } from '../src';
import { counters } from '../src/protocol-helpers';

describeOwnLabs('protocol on a board that is both the server switch and the origin (atlantic, namespace boards)', function () {
  this.timeout(180_000);
  const lab = useLab({ name: 'e2e-combined', topology: 'atlantic', profile: 'atlantic', delay: 'userspace' });
  const agentBoards = () => lab().agentBoards().map((b) => b.name);

  it('predicts the origin for the plain race and a replica for the synchronized and bounded races, by a margin no timing noise here reaches', () => {
    const [site] = predict(lab().inputs().topology, lab().inputs().profile);
    assert.equal(site.winner, 'lon-origin');
    assert.equal(site.syncWinner, 'rep-iad');
    assert.equal(site.boundedWinner, 'rep-iad');
  });

  for (const configuration of ['A', 'B', 'C'] as Configuration[]) {
    it(`configuration ${configuration}: every race mode lands on its predicted winner, the switch fanning out SYNs sent to its own address`, async () => {
      if (lab().state().protocol!.configuration !== configuration) {
        const before = new Map(await Promise.all(agentBoards().map(async (b) => [b, (await lab().agent(b).health()).pid] as const)));
        const logged = new Map(await Promise.all(agentBoards().map(async (b) => [b, (await lab().consoleLog(b)).length] as const)));
        await lab().reconfigure(configuration);
        for (const board of agentBoards()) {
          const { pid } = await lab().agent(board).health();
          assert.notEqual(pid, before.get(board), `${board}: the agent that answers is the one from before the reconfigure`);
          const since = (await lab().consoleLog(board)).slice(logged.get(board));
          assert.ok(since.some((l) => l.includes('stopped for restart')), `${board}: its old agent was not stopped:\n${since.join('\n')}`);
          assert.ok(!since.some((l) => /exited with \d+; restarting/.test(l)), `${board}: an agent failed to start beside another:\n${since.join('\n')}`);
        }
      }
      const fannedOut = async () => Number((await counters(lab(), 'lon-origin'))['syn-fanned-out'] ?? 0);
      const fannedBefore = await fannedOut();
      await lab().verify(['plain'], 1); // first-packet costs (JIT, neighbour caches) are not judged
      const { verdicts, judged } = await lab().verify(['plain', 'synchronized', 'bounded'], 3);
      assert.deepEqual(verdicts.map((v) => v.predicted), ['lon-origin', 'rep-iad', 'rep-iad']);
      assert.deepEqual(judged.misses, [], renderVerdicts(verdicts));
      assert.ok(verdicts.every((v) => v.ok), renderVerdicts(verdicts));
      assert.ok((await fannedOut()) - fannedBefore >= 10, 'every tagged SYN to the origin is fanned out by the switch on its board');
    });
  }

  it("names the board a reconfigure could not reach, the lab's state names the new configuration, and the same command again finishes the job", async () => {
    const from = lab().state().protocol!.configuration;
    const to: Configuration = from === 'A' ? 'B' : 'A';
    await lab().power('rep-yyz', 'off');
    try {
      await assert.rejects(() => lab().reconfigure(to), (err: Error) => new RegExp(`^reconfigure ${from} -> ${to}: 1 of ${agentBoards().length} boards failed, the rest run ${to}; run \`synrace reconfigure ${to}\` again once fixed:\n  .*rep-yyz`).test(err.message));
      assert.equal(lab().state().protocol!.configuration, to, 'three boards run the new configuration: the state must not name the old one');
    } finally {
      await lab().power('rep-yyz', 'on');
    }
    await lab().reconfigure(to);
    await lab().verify(['plain'], 1);
    const { verdicts } = await lab().verify(['synchronized'], 3);
    assert.ok(verdicts.every((v) => v.ok), renderVerdicts(verdicts));
  });
});
