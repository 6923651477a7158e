import { percentile } from '@synrace/agents/bench';
import { boardsWithRole, predict, type SitePrediction, type Topology } from '@synrace/netem-profiles';
import { REPLICATABLE_PORTS, candidateBoards, curlLoop, expectedVia, parseCurlLoop, renderTable, VERIFY_MODES, type Lab, type SiteVerdict, type VerifyMode } from '@synrace/orchestrator';
import { PLAIN_PORT, withHttpListeners } from './http-listener';
import type { BenchContext, BenchSection } from './section';

const CONNECTIONS = 10;
const MODES = VERIFY_MODES;
/** The port replicas serve the static site on. */
const STATIC_PORT = REPLICATABLE_PORTS[0];

interface Handshakes {
  medianMs: number;
  /** Connections that got HTTP 200, of CONNECTIONS. */
  answered: number;
  /** Who served the connections, by X-Served-By (http.server sends none: "none"). */
  servedBy: Record<string, number>;
}

interface RaceHandshakes extends Handshakes {
  /** cached: the connections after the first, which went straight to the cached winner. */
  mode: VerifyMode;
  predictedWinner: string;
  predictedMs: number;
}

interface DirectHandshakes extends Handshakes {
  board: string;
  address: string;
  port: number;
  /** The plain port is kernel-forwarded; the web port to a replica's own address crosses the gateway agent. */
  path: 'kernel forwarding' | 'gateway agent, no race';
  predictedRttMs: number;
}

interface SiteHandshakes {
  clientSite: string;
  origin: string;
  race: RaceHandshakes[];
  direct: DirectHandshakes[];
}

function summarise(connections: { handshakeMs: number; httpCode: number; servedBy: string | null }[]): Handshakes {
  const servedBy: Record<string, number> = {};
  for (const c of connections) servedBy[c.servedBy ?? 'none'] = (servedBy[c.servedBy ?? 'none'] ?? 0) + 1;
  return { medianMs: percentile(connections.map((c) => c.handshakeMs), 50), answered: connections.filter((c) => c.httpCode === 200).length, servedBy };
}

function raceHandshakes(verdict: SiteVerdict): RaceHandshakes {
  const measured = verdict.connections.filter((_, i) => expectedVia(verdict.mode, i) === expectedVia(verdict.mode, 1));
  return { mode: verdict.mode, predictedWinner: verdict.predicted, predictedMs: verdict.predictedHandshakeMs, ...summarise(measured) };
}

const originBoard = (topology: Topology): string => boardsWithRole(topology, 'origin-server')[0].name;

/** The winners of a site's races and the origin on the plain port; replica winners on the web port too, to show what that path costs. */
function directTargets(topology: Topology, p: SitePrediction): { board: string; port: number }[] {
  const origin = originBoard(topology);
  const boards = [...new Set([p.winner, p.syncWinner, p.boundedWinner, origin])];
  const replicas = boards.filter((b) => b !== origin);
  return [...boards.map((board) => ({ board, port: PLAIN_PORT })), ...replicas.map((board) => ({ board, port: STATIC_PORT }))];
}

async function measureDirect(lab: Lab, topology: Topology, p: SitePrediction): Promise<DirectHandshakes[]> {
  const addressOf = new Map([...candidateBoards(topology)].map(([address, board]) => [board, address]));
  const out: DirectHandshakes[] = [];
  for (const { board, port } of directTargets(topology, p)) {
    const address = addressOf.get(board)!;
    const { stdout } = await lab.exec(p.hostBoard, curlLoop(`http://${address}:${port}/index.html`, CONNECTIONS), 120_000);
    out.push({
      board,
      address,
      port,
      path: port === PLAIN_PORT ? 'kernel forwarding' : 'gateway agent, no race',
      predictedRttMs: p.candidates.find((c) => c.board === board)!.rttMs,
      ...summarise(parseCurlLoop(stdout)),
    });
  }
  return out;
}

async function measure(context: BenchContext, lab: Lab): Promise<SiteHandshakes[]> {
  const { topology, profile } = lab.inputs();
  const predictions = predict(topology, profile);
  context.progress.step(`handshake: ${CONNECTIONS} connections per client site in each mode: ${MODES.join(', ')}`);
  const { verdicts } = await lab.verify(MODES, CONNECTIONS);
  const targets = predictions.flatMap((p) => directTargets(topology, p));
  const listeners = [...new Set(targets.filter((t) => t.port === PLAIN_PORT).map((t) => t.board))];
  context.progress.step(`handshake: direct connections to the predicted winners and the origin (http.server on port ${PLAIN_PORT} of ${listeners.join(', ')})`);
  const direct = await withHttpListeners(lab, listeners, PLAIN_PORT, () => Promise.all(predictions.map((p) => measureDirect(lab, topology, p))));
  return predictions.map((p, i) => ({
    clientSite: p.clientSite,
    origin: originBoard(topology),
    race: verdicts.filter((v) => v.clientSite === p.clientSite).map(raceHandshakes),
    direct: direct[i],
  }));
}

const ms = (x: number): string => x.toFixed(1);
const served = (h: Handshakes): string => Object.entries(h.servedBy).map(([who, n]) => `${who} ${n}`).join(', ');

function render(sites: SiteHandshakes[]): string {
  const oracle = (s: SiteHandshakes, board: string) => s.direct.find((d) => d.board === board && d.port === PLAIN_PORT)!;
  const raceRows = sites.flatMap((s) =>
    s.race.map((r) => {
      const toWinner = oracle(s, r.predictedWinner);
      const toOrigin = oracle(s, s.origin);
      return [s.clientSite, r.mode, r.predictedWinner, served(r), `${ms(r.medianMs)} (${ms(r.predictedMs)})`, `${ms(toWinner.medianMs)} (${ms(toWinner.predictedRttMs)})`, `${ms(toOrigin.medianMs)} (${ms(toOrigin.predictedRttMs)})`, ms(r.medianMs - toWinner.medianMs)];
    }),
  );
  const directRows = sites.flatMap((s) => s.direct.map((d) => [s.clientSite, d.board, `${d.address}:${d.port}`, d.path, `${ms(d.medianMs)} (${ms(d.predictedRttMs)})`, `${d.answered}/${CONNECTIONS}`, served(d)]));
  return [
    `median of ${CONNECTIONS} fresh connections (curl time_connect; cached: connections 2 to ${CONNECTIONS}, after the first raced); in brackets what the profile predicts`,
    '',
    renderTable(['client site', 'race', 'predicted winner', 'served by', 'race ms', 'direct to winner ms (RTT)', 'direct to origin ms (RTT)', 'race cost ms'], raceRows),
    '',
    `direct connections: port ${PLAIN_PORT} is no web port, so gateway and switch forward it in the kernel (the oracle);`,
    `port ${STATIC_PORT} at a replica's own address is a web port: the gateway agent tags and forwards the SYN, the switch is`,
    `not on the path, so there is no race, but the packets cross the agent (and port ${STATIC_PORT} at the origin address would be the race itself)`,
    '',
    renderTable(['client site', 'target', 'address', 'path', 'handshake ms (RTT)', 'answered', 'served by'], directRows),
  ].join('\n');
}

export const handshake: BenchSection = {
  name: 'handshake',
  title: 'Handshake time per client site: through each race mode and the winner cache vs a direct connection to the predicted winner (oracle) and to the origin',
  needs: 'world-lab',
  async run(context, lab) {
    const sites = await measure(context, lab);
    return { result: sites, text: render(sites) };
  },
};
