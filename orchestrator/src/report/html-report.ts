import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SitePrediction } from '@synrace/netem-profiles';
import type { Configuration } from '@synrace/agents';
import { STATIC_PORT } from '../provision/nginx-config';
import { connectionOk, VERIFY_MODES, type ObservedConnection, type SiteVerdict, type VerifyMode } from '../verify';
import type { RaceTimeline } from './race-timeline';
import { COLOURS, raceTimelineSvg, selectionMatrixSvg } from './svg';
import { escapeXml, tag } from './xml';

export interface LabInfo {
  topology: string;
  profile: string;
  delayMode: string;
  configuration: Configuration;
  date: Date;
}

/** The races a client gateway's WAN capture shows for one site under one verification mode. */
export interface SiteRaces {
  clientSite: string;
  mode: VerifyMode;
  timelines: RaceTimeline[];
}

export interface ReportInput {
  lab: LabInfo;
  verdicts: SiteVerdict[];
  predictions: SitePrediction[];
  races: SiteRaces[];
  /** Board names by address (candidateBoards(topology) plus the client hosts): how addresses in the pcaps are named. */
  boardsByAddress: ReadonlyMap<string, string>;
}

/** A check that failed, with what a person needs to find it on the rig: boards, connection keys, packets. */
interface FailedCheck {
  title: string;
  boards: string[];
  connections: { key: string; detail: string; packets: string[] }[];
}

const CSS = `
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1200px; }
h1 { margin-bottom: 4px; } .lab { color: #555; margin-top: 0; }
.summary { font-size: 1.2em; padding: 10px 14px; border-radius: 6px; }
.summary.pass { background: ${COLOURS.pass}; border: 2px solid ${COLOURS.winner}; }
.summary.fail { background: ${COLOURS.fail}; border: 2px solid ${COLOURS.reset}; font-weight: bold; }
.failure { border: 2px solid ${COLOURS.reset}; background: ${COLOURS.fail}; border-radius: 6px; padding: 8px 12px; margin: 10px 0; }
.failure h3 { color: ${COLOURS.reset}; margin: 4px 0; }
pre { white-space: pre-wrap; background: #fff; border: 1px solid #ddd; padding: 6px; overflow-x: auto; font-size: 12px; }
table { border-collapse: collapse; margin: 8px 0 16px; } th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
tr.fail td { background: ${COLOURS.fail}; color: ${COLOURS.reset}; font-weight: bold; }
td.num { text-align: right; } svg { display: block; margin: 8px 0; }
`;

const observedWinner = (c: ObservedConnection) => c.servedBy ?? c.tableWinner ?? 'none';
const modeLabel = (v: Pick<SiteVerdict, 'mode' | 'race'>) => (v.mode === 'cached' ? `cached after the ${v.race} race` : `${v.mode} race`);
const racePackets = (t: RaceTimeline) => [t.synPacket, ...[...t.answers, ...t.resets].sort((a, b) => a.atMs - b.atMs).map((e) => e.packet)];

class Report {
  constructor(private readonly input: ReportInput) {}

  private name(address: string): string {
    return this.input.boardsByAddress.get(address) ?? address;
  }

  private addressOf(board: string): string | undefined {
    return [...this.input.boardsByAddress].find(([, b]) => b === board)?.[0];
  }

  private prediction(site: string): SitePrediction {
    const p = this.input.predictions.find((x) => x.clientSite === site);
    if (!p) throw new Error(`no prediction for client site ${site}`);
    return p;
  }

  /** The winner of the races captured for a site in a mode: its verdict's prediction. */
  private predictedWinner(site: string, mode: VerifyMode): string {
    const verdict = this.input.verdicts.find((v) => v.clientSite === site && v.mode === mode);
    if (!verdict) throw new Error(`no verdict for client site ${site} in mode ${mode}`);
    return verdict.predicted;
  }

  private timelineOf(site: string, mode: VerifyMode, clientPort: number): RaceTimeline | undefined {
    return this.input.races.find((r) => r.clientSite === site && r.mode === mode)?.timelines.find((t) => t.clientPort === clientPort);
  }

  /** The pcap's key when the capture has the connection; else built from the host's and origin's addresses. */
  private keyOf(v: SiteVerdict, c: ObservedConnection): string {
    const timeline = this.timelineOf(v.clientSite, v.mode, c.clientPort);
    if (timeline) return timeline.key;
    const p = this.prediction(v.clientSite);
    const origin = p.candidates.find((x) => x.kind === 'origin')!.board;
    return `${this.addressOf(p.hostBoard) ?? p.hostBoard}:${c.clientPort} -> ${this.addressOf(origin) ?? origin}:${STATIC_PORT}`;
  }

  private verdictFailure(v: SiteVerdict): FailedCheck {
    const gateway = this.prediction(v.clientSite).gatewayBoard;
    const bad = v.connections.filter((c, i) => !connectionOk(c, i, v));
    return {
      title: `${v.clientSite}, ${modeLabel(v)}: predicted ${v.predicted}, observed ${[...new Set(v.connections.map(observedWinner))].join(', ') || 'no connection'}`,
      boards: [...new Set([gateway, v.predicted, ...bad.flatMap((c) => [c.servedBy, c.tableWinner].filter((b): b is string => b !== null))])],
      connections: v.connections.length === 0
        ? [{ key: `client host ${this.prediction(v.clientSite).hostBoard}`, detail: 'no connection completed', packets: [] }]
        : bad.map((c) => {
          const timeline = this.timelineOf(v.clientSite, v.mode, c.clientPort);
          return {
            key: this.keyOf(v, c),
            detail: `served by ${c.servedBy ?? 'none'}, gateway table winner ${c.tableWinner ?? 'none'} via ${c.via ?? 'no entry'}, HTTP ${c.httpCode}`,
            packets: timeline ? racePackets(timeline) : [],
          };
        }),
    };
  }

  private raceFailures(r: SiteRaces): FailedCheck[] {
    const p = this.prediction(r.clientSite);
    const expected = this.predictedWinner(r.clientSite, r.mode);
    return r.timelines
      .filter((t) => t.problems.length > 0 || !t.winner || this.name(t.winner.answerer) !== expected)
      .map((t) => {
        const winner = t.winner ? this.name(t.winner.answerer) : null;
        return {
          title: `${r.clientSite}, ${r.mode} race, gateway capture: expected ${expected} to answer first, the capture shows ${winner ?? 'no winner'}`,
          boards: [...new Set([p.gatewayBoard, expected, ...(winner ? [winner] : [])])],
          connections: [{ key: t.key, detail: t.problems.join('; ') || `${winner} answered first at ${t.winner!.atMs} ms`, packets: racePackets(t) }],
        };
      });
  }

  failures(): FailedCheck[] {
    return [...this.input.verdicts.filter((v) => !v.ok).map((v) => this.verdictFailure(v)), ...this.input.races.flatMap((r) => this.raceFailures(r))];
  }

  checkCount(): number {
    return this.input.verdicts.length + this.input.races.reduce((n, r) => n + r.timelines.length, 0);
  }

  summary(failures: FailedCheck[]): string {
    const total = this.checkCount();
    const perMode = VERIFY_MODES
      .map((mode) => this.input.verdicts.filter((v) => v.mode === mode))
      .filter((of) => of.length > 0)
      .map((of) => tag('li', {}, escapeXml(`${modeLabel(of[0])}: ${of.filter((v) => v.ok).length} of ${of.length} client sites won by the predicted candidate; ` +
        `${of.filter((v) => v.predicted === v.closest).length} of ${of.length} by the truly closest`)));
    return tag('section', { id: 'summary' }, tag('h2', {}, 'Summary'),
      tag('p', { class: `summary ${failures.length ? 'fail' : 'pass'}` }, escapeXml(`${total - failures.length} passed, ${failures.length} failed (${total} checks: one per client site and race mode, one per captured race)`)),
      tag('ul', {}, ...perMode));
  }

  failureSection(failures: FailedCheck[]): string {
    if (failures.length === 0) return '';
    return tag('section', { id: 'failures' }, tag('h2', {}, 'Failed checks'),
      ...failures.map((f) => tag('div', { class: 'failure' },
        tag('h3', {}, escapeXml(`✗ ${f.title}`)),
        tag('p', {}, tag('b', {}, 'boards: '), escapeXml(f.boards.join(', '))),
        ...f.connections.map((c) => tag('div', { class: 'connection' },
          tag('p', {}, tag('b', {}, 'connection '), tag('code', {}, escapeXml(c.key)), escapeXml(`: ${c.detail}`)),
          c.packets.length ? tag('pre', {}, escapeXml(c.packets.join('\n'))) : '')))));
  }

  timelineSection(): string {
    const races = this.input.races.map((r) => {
      const expected = this.predictedWinner(r.clientSite, r.mode);
      return tag('div', { class: 'timeline' }, tag('h3', {}, escapeXml(`${r.clientSite}, ${r.mode} race (predicted winner ${expected})`)),
        r.timelines.length ? raceTimelineSvg(`race timeline, ${r.clientSite}, ${r.mode} race`, r.timelines, this.input.boardsByAddress, expected) : tag('p', {}, 'no tagged SYN in the capture'));
    });
    return races.length ? tag('section', { id: 'timelines' }, tag('h2', {}, 'Races seen at the client gateways'), ...races) : '';
  }

  siteTable(p: SitePrediction): string {
    const candidates = tag('table', {},
      tag('tr', {}, ...['candidate', 'site', 'kind', 'plain race ms', 'synchronized race ms', 'bounded race ms', 'RTT ms (cached)', 'role in prediction'].map((h) => tag('th', {}, escapeXml(h)))),
      ...p.candidates.map((c) => tag('tr', {},
        tag('td', {}, escapeXml(c.board)), tag('td', {}, escapeXml(c.site)), tag('td', {}, c.kind),
        ...[c.raceMs, c.syncRaceMs, c.boundedRaceMs, c.rttMs].map((ms) => tag('td', { class: 'num' }, escapeXml(ms))),
        tag('td', {}, escapeXml([p.winner === c.board && 'plain winner', p.syncWinner === c.board && 'synchronized winner', p.boundedWinner === c.board && 'bounded winner', p.closest === c.board && 'truly closest'].filter(Boolean).join(', '))))));
    const connections = this.input.verdicts.filter((v) => v.clientSite === p.clientSite).map((v) =>
      tag('table', {},
        tag('tr', {}, ...[`${modeLabel(v)}: connection`, 'served by', 'gateway table', 'via', 'HTTP', 'handshake ms', 'predicted ms', 'verdict'].map((h) => tag('th', {}, escapeXml(h)))),
        ...v.connections.map((c, i) => {
          const ok = connectionOk(c, i, v);
          return tag('tr', { class: ok ? 'ok' : 'fail' },
            tag('td', {}, tag('code', {}, escapeXml(this.keyOf(v, c)))), tag('td', {}, escapeXml(c.servedBy ?? 'none')), tag('td', {}, escapeXml(c.tableWinner ?? 'none')),
            tag('td', {}, escapeXml(c.via ?? 'no entry')),
            tag('td', { class: 'num' }, escapeXml(c.httpCode)), tag('td', { class: 'num' }, escapeXml(c.handshakeMs.toFixed(1))), tag('td', { class: 'num' }, escapeXml(v.predictedHandshakeMs.toFixed(1))),
            tag('td', {}, ok ? 'ok' : `✗ expected ${escapeXml(v.predicted)}`));
        })));
    const notes = p.notes.length ? tag('ul', { class: 'notes' }, ...p.notes.map((n) => tag('li', {}, escapeXml(n)))) : '';
    return tag('div', { class: 'site' }, tag('h3', {}, escapeXml(`${p.clientSite} (gateway ${p.gatewayBoard}, client host ${p.hostBoard})`)), candidates, ...connections, notes);
  }

  render(): string {
    const { lab, predictions, verdicts } = this.input;
    const failures = this.failures();
    const labLine = `topology ${lab.topology} · profile ${lab.profile} · delay ${lab.delayMode} · configuration ${lab.configuration} · ${lab.date.toISOString()}`;
    // Polyglot markup (well-formed XML, valid HTML5): the same file reads in a browser and in xmllint.
    return '<!DOCTYPE html>\n' + tag('html', { xmlns: 'http://www.w3.org/1999/xhtml', lang: 'en' },
      tag('head', {}, '<meta charset="utf-8"/>', tag('title', {}, escapeXml(`synrace report: ${lab.topology}, ${lab.profile}, configuration ${lab.configuration}`)), tag('style', {}, CSS)),
      tag('body', {},
        tag('h1', {}, 'synrace: closest-replica verification'), tag('p', { class: 'lab' }, escapeXml(labLine)),
        this.summary(failures),
        this.failureSection(failures),
        tag('section', { id: 'matrix' }, tag('h2', {}, 'Selection matrix'), selectionMatrixSvg(predictions, verdicts)),
        this.timelineSection(),
        tag('section', { id: 'sites' }, tag('h2', {}, 'Per client site'), ...predictions.map((p) => this.siteTable(p))))) + '\n';
  }
}

/** The report as one self-contained HTML document: inline CSS and SVG, nothing fetched. */
export function renderHtmlReport(input: ReportInput): string {
  return new Report(input).render();
}

export function writeHtmlReport(path: string, input: ReportInput): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, renderHtmlReport(input));
  return path;
}
