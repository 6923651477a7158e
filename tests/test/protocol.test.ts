import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { addressOf, boardsWithRole, interfaceOn, predict } from '@synrace/netem-profiles';
import type { Configuration } from '@synrace/agents';
import { candidateBoards, DOWNLOAD_PATH, Lab, SLOW_PREFIX, originAddress, ProvisionError, provisionBoard } from '@synrace/orchestrator';
import { LIVE_LAB, useLab } from '../src';
import { ARTIFACTS, counters, fetchFrom, framesProbe, growth, rogueInjector, startSlowDownload, predictWithout, predictionFor, readPcap, siteWonByReplica } from '../src/protocol-helpers';

/** Every configuration on its own lab; against a live lab, the configuration it runs. */
const configurations: Configuration[] = LIVE_LAB ? [Lab.attach(LIVE_LAB).state().protocol?.configuration ?? 'A'] : ['A', 'B', 'C'];

for (const configuration of configurations) describe(`protocol, configuration ${configuration}, on the world lab`, function () {
  this.timeout(180_000);
  const lab = useLab({ name: `e2e-protocol-${configuration.toLowerCase()}`, configuration });
  const world = () => lab().inputs();
  const origin = () => originAddress(world().topology);
  const url = (path = '/index.html', port = 80) => `http://${origin()}${port === 80 ? '' : `:${port}`}${path}`;

  it('lands every client site on its predicted winner in both race modes, the origin included', async () => {
    const { verdicts } = await lab().verify(['plain', 'synchronized'], 3);
    const origins = new Set(boardsWithRole(world().topology, 'origin-server').map((b) => b.name));
    assert.ok(verdicts.some((v) => origins.has(v.predicted)), 'some client site should be predicted to get the origin');
    assert.ok(verdicts.some((v) => !origins.has(v.predicted)), 'some client site should be predicted to get a replica');
    const wrong = verdicts.filter((v) => !v.ok).map((v) => `${v.clientSite} ${v.mode}: predicted ${v.predicted}, got ${v.connections.map((c) => `${c.servedBy}/${c.tableWinner}`).join(' ')}`);
    assert.deepEqual(wrong, []);
  });

  it('skips a dead (powered-off) replica: the next candidate wins', async () => {
    const { topology, profile } = world();
    const site = siteWonByReplica(topology, profile);
    const expected = predictionFor(predictWithout(topology, profile, [site.winner]), site.clientSite).winner;
    assert.notEqual(expected, site.winner);
    await lab().power(site.winner, 'off');
    try {
      const fetch = await fetchFrom(lab(), site.hostBoard, url());
      assert.equal(fetch.code, 200);
      assert.equal(fetch.servedBy, expected, `${site.clientSite} with ${site.winner} dead`);
    } finally {
      await lab().power(site.winner, 'on');
    }
    assert.equal((await fetchFrom(lab(), site.hostBoard, url())).servedBy, site.winner, 'back on, it wins again');
  });

  it('lets a busy replica drop the SYN, so the next candidate wins', async () => {
    const { topology, profile } = world();
    const site = siteWonByReplica(topology, profile);
    const expected = predictionFor(predictWithout(topology, profile, [site.winner]), site.clientSite).winner;
    await lab().agent(site.winner).setBusy(true);
    try {
      const dropped = await growth(lab(), site.winner, 'busy-dropped-forced', async () => {
        assert.equal((await fetchFrom(lab(), site.hostBoard, url())).servedBy, expected);
      });
      assert.equal(dropped, 1);
    } finally {
      await lab().agent(site.winner).setBusy(false);
    }
  });

  it('serves non-replicatable (dynamic) content from the origin and fans out no copies', async () => {
    const { topology, profile } = world();
    const site = siteWonByReplica(topology, profile);
    const switchBoard = boardsWithRole(topology, 'server-switch')[0].name;
    const copies = await growth(lab(), switchBoard, 'copies-sent', async () => {
      const fetch = await fetchFrom(lab(), site.hostBoard, url('/anything', 8080));
      assert.equal(fetch.code, 200);
      assert.equal(fetch.servedBy, boardsWithRole(topology, 'origin-server')[0].name);
    });
    assert.equal(copies, 0);
    assert.ok((await counters(lab(), switchBoard))['syn-to-origin-only-permissible'] >= 1, 'the dynamic SYN arrived tagged and was sent to the origin only');
  });

  it('neither tags nor fans out a SYN to a non-web port', async () => {
    const { topology } = world();
    const originBoard = boardsWithRole(topology, 'origin-server')[0].name;
    const switchBoard = boardsWithRole(topology, 'server-switch')[0].name;
    const host = boardsWithRole(topology, 'client-host')[0].name;
    const gateway = predict(topology, world().profile).find((p) => p.hostBoard === host)!.gatewayBoard;
    await lab().exec(originBoard, "setsid -f /usr/bin/python3 -m http.server 9000 --bind 0.0.0.0 >/dev/null 2>&1; for i in $(seq 100); do ss -Htln 'sport = :9000' | grep -q . && break; sleep 0.05; done");
    const capture = await lab().capture(gateway, interfaceOn(topology.boards.find((b) => b.name === gateway)!, 'wan')!.name, join(ARTIFACTS, 'non-web-port'), 'tcp port 9000');
    try {
      const before = { gw: await counters(lab(), gateway), sw: await counters(lab(), switchBoard) };
      assert.equal((await fetchFrom(lab(), host, `http://${origin()}:9000/`)).code, 200);
      const after = { gw: await counters(lab(), gateway), sw: await counters(lab(), switchBoard) };
      assert.equal(after.gw['syn-tagged'] ?? 0, before.gw['syn-tagged'] ?? 0);
      assert.equal(after.sw['copies-sent'] ?? 0, before.sw['copies-sent'] ?? 0);
    } finally {
      const pcap = readPcap(await capture.stop());
      await lab().exec(originBoard, "pkill -f '[h]ttp.server 9000'");
      assert.match(pcap, /Flags \[S\]/, 'the SYN crossed the gateway');
      assert.doesNotMatch(pcap, /unknown-253/, 'and carried no tag');
    }
  });

  it('resets every late answerer, which then keeps no half-open connection, and shows it all in pcaps', async () => {
    const { topology, profile } = world();
    const site = siteWonByReplica(topology, profile);
    const switchBoard = boardsWithRole(topology, 'server-switch')[0];
    const gateway = topology.boards.find((b) => b.name === site.gatewayBoard)!;
    const dir = join(ARTIFACTS, 'race');
    const gwCapture = await lab().capture(gateway.name, interfaceOn(gateway, 'wan')!.name, dir, 'tcp port 80');
    const swCapture = await lab().capture(switchBoard.name, interfaceOn(switchBoard, 'wan')!.name, dir, 'ip proto 4');
    let fetch;
    const resets = await growth(lab(), gateway.name, 'late-answer-reset', async () => {
      fetch = await fetchFrom(lab(), site.hostBoard, url());
      await new Promise((r) => setTimeout(r, 1500)); // every loser's answer has arrived by then
    });
    const candidates = [...candidateBoards(topology).values()];
    assert.equal(resets, candidates.length - 1, 'one RST per losing candidate');
    const hostAddress = addressOf(interfaceOn(topology.boards.find((b) => b.name === site.hostBoard)!, 'lan')!.address);
    for (const loser of candidates.filter((c) => c !== site.winner)) {
      const { stdout } = await lab().exec(loser, `ss -Htn state syn-recv dst ${hostAddress}`);
      assert.equal(stdout.trim(), '', `${loser} still holds a half-open connection`);
    }
    const gwPcap = readPcap(await gwCapture.stop());
    const swPcap = readPcap(await swCapture.stop());
    const port = fetch!.localPort;
    assert.match(gwPcap, new RegExp(`${hostAddress.replace(/\./g, '\\.')}\\.${port} > [\\d.]+\\.80: Flags \\[S\\].*unknown-253 0x535201`), 'the SYN past the gateway carries the tag');
    assert.match(gwPcap, new RegExp(`${hostAddress.replace(/\./g, '\\.')}\\.${port} > [\\d.]+\\.80: Flags \\[R\\]`), 'RSTs leave the gateway');
    const replicas = boardsWithRole(topology, 'replica').map((r) => addressOf(interfaceOn(r, 'wan')!.address));
    const escape = (text: string) => text.replace(/\./g, '\\.');
    for (const r of replicas) {
      const copy = new RegExp(`> ${escape(r)}: IP ${escape(hostAddress)}\\.${port} > ${escape(origin())}\\.80: Flags \\[S\\]`);
      assert.match(swPcap, copy, `an IPIP copy of the SYN went to ${r}`);
    }
  });

  it('reuses the table entry of a retransmitted SYN', async () => {
    const { topology, profile } = world();
    const site = predict(topology, profile)[0];
    const probe = await framesProbe(lab(), topology, site.hostBoard, origin());
    let retransmits = 0;
    const created = await growth(lab(), site.gatewayBoard, 'table.created', async () => {
      retransmits = await growth(lab(), site.gatewayBoard, 'table.retransmittedSyns', () => probe.send('syn-twice', probe.freshPort()));
    });
    assert.equal(retransmits, 1, 'the second SYN was seen as a retransmission');
    assert.equal(created, 1, 'two SYNs, one table entry');
  });

  it('never crashes on malformed, truncated, fragmented or option-full packets, and counts each', async () => {
    const { topology, profile } = world();
    const site = predict(topology, profile)[0];
    const probe = await framesProbe(lab(), topology, site.hostBoard, origin());
    const expectations: [string, string][] = [
      ['full-options-syn', 'syn-untagged-no-option-space'],
      ['odd-options-syn', 'syn-untagged-malformed-options'],
      ['bad-data-offset', 'dropped-tcp-bad-data-offset'],
      ['truncated-tcp', 'dropped-tcp-truncated'],
      ['first-fragment', 'fragment-passed'],
    ];
    for (const [kind, counter] of expectations) {
      const grew = await growth(lab(), site.gatewayBoard, counter, () => probe.send(kind, probe.freshPort()));
      assert.equal(grew, 1, `${kind} should count once as ${counter}`);
    }
    // A broken IPv4 header never reaches the agent: the gateway's kernel drops it on receipt, as any router does.
    const headerErrors = async () => Number(/IpInHdrErrors\s+(\d+)/.exec((await lab().exec(site.gatewayBoard, 'nstat -az IpInHdrErrors')).stdout)?.[1] ?? NaN);
    for (const kind of ['short-ip-header-length', 'bad-ip-checksum']) {
      const before = await headerErrors();
      await probe.send(kind, probe.freshPort());
      assert.equal((await headerErrors()) - before, 1, `${kind} should be dropped by the gateway's kernel as a header error`);
    }
    const health = await lab().agent(site.gatewayBoard).health();
    assert.ok(health.uptimeMs > 0, 'the gateway agent is still the same healthy process');
    assert.equal((await fetchFrom(lab(), site.hostBoard, url())).code, 200, 'and still races');
  });

  it(`delivers a 10 MB download byte-identical through configuration ${configuration}, with no fragment on the wire`, async () => {
    const { topology, profile } = world();
    const site = siteWonByReplica(topology, profile);
    const gateway = topology.boards.find((b) => b.name === site.gatewayBoard)!;
    // Any fragment, or any frame over the 1500-byte MTU (plus the 14-byte Ethernet header), on the WAN side.
    const capture = await lab().capture(gateway.name, interfaceOn(gateway, 'wan')!.name, join(ARTIFACTS, `download-${configuration}`), '"(ip[6:2] & 0x3fff) != 0 or greater 1515"');
    const { stdout } = await lab().exec(site.hostBoard, `curl -s -m 60 -D /tmp/synrace-headers ${url(DOWNLOAD_PATH)} | sha256sum; grep -i x-served-by /tmp/synrace-headers`, 90_000);
    const offending = readPcap(await capture.stop());
    const expected = createHash('sha256').update(readFileSync(lab().runDir.path('content', DOWNLOAD_PATH))).digest('hex');
    assert.equal(stdout.split(' ')[0], expected);
    assert.match(stdout, new RegExp(`X-Served-By: ${site.winner}`, 'i'));
    assert.equal(offending.trim(), '', 'fragments or oversize frames on the WAN');
  });

  it('names the board and the step when provisioning fails', async () => {
    const { topology } = world();
    const replica = boardsWithRole(topology, 'replica')[0].name;
    const fsRoot = `/tmp/synrace-provision-test-${process.pid}-${configuration}`;
    try {
      await assert.rejects(
        () => lab().withShell(replica, (shell) => provisionBoard({ board: replica, shell, fsRoot, init: { kind: 'boot-script', consoleTty: '/dev/null', node: '/nonexistent/node' }, agentConfig: { board: replica, roles: {} } })),
        (err: Error) => err instanceof ProvisionError && new RegExp(`provisioning ${replica} failed at step "check node on the board": .*nonexistent`).test(err.message),
      );
    } finally {
      await lab().exec(replica, `rm -rf ${fsRoot}`);
    }
  });

  describe('attacks from a rogue board', () => {
    // The lab's rogue board: on the WAN, never sent a SYN, never a candidate.
    const scene = async () => {
      const { topology, profile } = world();
      const site = siteWonByReplica(topology, profile);
      const rogue = boardsWithRole(topology, 'rogue')[0].name;
      const rogueAddress = addressOf(interfaceOn(topology.boards.find((b) => b.name === rogue)!, 'wan')!.address);
      const hostAddress = addressOf(interfaceOn(topology.boards.find((b) => b.name === site.hostBoard)!, 'lan')!.address);
      const winnerAddress = [...candidateBoards(topology).entries()].find(([, b]) => b === site.winner)![0];
      const expected = createHash('sha256').update(readFileSync(lab().runDir.path('content', DOWNLOAD_PATH))).digest('hex');
      return { topology, site, rogue, rogueAddress, hostAddress, winnerAddress, expected, inject: await rogueInjector(lab(), rogue) };
    };

    it('drops a SYN+ACK from an address that never got the SYN, resets nobody, and the connection survives', async () => {
      const s = await scene();
      const live = await startSlowDownload(lab(), s.site.hostBoard, url(DOWNLOAD_PATH.replace('/static/', SLOW_PREFIX)), origin());
      const rogueCapture = await lab().capture(s.rogue, interfaceOn(lab().inputs().topology.boards.find((b) => b.name === s.rogue)!, 'wan')!.name, join(ARTIFACTS, `rogue-synack-${configuration}`), '"tcp[tcpflags] & tcp-rst != 0"');
      const dropped = await growth(lab(), s.site.gatewayBoard, 'answer-from-stranger-dropped', () =>
        s.inject(`${s.rogueAddress} ${s.hostAddress} 80 ${live.clientPort} synack 1000 1`));
      assert.equal(dropped, 1);
      assert.equal(await live.finished(), s.expected, 'the live download is intact');
      assert.equal(readPcap(await rogueCapture.stop()).trim(), '', 'no RST reached the rogue');
    });

    it('drops a forged RST with a wrong sequence number, and the connection survives', async () => {
      const s = await scene();
      const live = await startSlowDownload(lab(), s.site.hostBoard, url(DOWNLOAD_PATH.replace('/static/', SLOW_PREFIX)), origin());
      // Spoofing the winner's (or, in configuration B, the server's) address, as the bound connection shows it.
      const from = configuration === 'B' ? origin() : s.winnerAddress;
      // In C a plain packet is not even part of the (tunnelled) connection.
      const counter = configuration === 'C' ? 'plain-in-tunnelled-connection-dropped' : 'forged-reset-dropped';
      const dropped = await growth(lab(), s.site.gatewayBoard, counter, () => s.inject(`${from} ${s.hostAddress} 80 ${live.clientPort} rst 12345 0`));
      assert.equal(dropped, 1);
      assert.equal(await live.finished(), s.expected, 'the live download is intact');
    });

    if (configuration === 'C') {
      it('drops tunnel packets with a wrong outer source or a wrong inner port, and the connection survives', async () => {
        const s = await scene();
        const live = await startSlowDownload(lab(), s.site.hostBoard, url(DOWNLOAD_PATH.replace('/static/', SLOW_PREFIX)), origin());
        const dropped = await growth(lab(), s.site.gatewayBoard, 'tunnel-dropped-not-from-bound-replica', async () => {
          await s.inject(`${origin()} ${s.hostAddress} 80 ${live.clientPort} tunnel-data 1 1 ${s.rogueAddress}`);
          await s.inject(`${origin()} ${s.hostAddress} 80 ${live.clientPort + 1} tunnel-data 1 1 ${s.winnerAddress}`);
        });
        assert.equal(dropped, 2);
        assert.equal(await live.finished(), s.expected, 'the live download is intact');
      });
    }
  });
});
