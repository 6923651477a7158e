import type { SitePrediction } from '@synrace/netem-profiles';
import type { SiteVerdict } from '../verify';
import type { RaceTimeline } from './race-timeline';
import { escapeXml, tag } from './xml';

export const COLOURS = { syn: '#333', answer: '#1f6fb2', winner: '#1a8a3a', reset: '#c62828', closest: '#b8860b', fail: '#fde2e2', pass: '#e6f4ea', grid: '#ccc' };

const FONT = { 'font-family': 'sans-serif', 'font-size': 11 };

function svg(width: number, height: number, title: string, ...body: string[]): string {
  return tag('svg', { xmlns: 'http://www.w3.org/2000/svg', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', ...FONT }, tag('title', {}, escapeXml(title)), ...body);
}

function text(x: number, y: number, content: string, attributes: Record<string, string | number> = {}): string {
  return tag('text', { x, y, ...attributes }, escapeXml(content));
}

/** A round step (1, 2 or 5 times a power of ten) giving at most `maxTicks` ticks up to `max`. */
function tickStep(max: number, maxTicks: number): number {
  const raw = max / maxTicks;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
}

const label = (names: ReadonlyMap<string, string>, address: string): string => names.get(address) ?? address;

/** Font-size 11 sans-serif, generously: labels must not collide. */
const textWidth = (content: string) => content.length * 6.5;
const LANE = 14;

/**
 * Greedy label lanes: each label (in time order) takes the lowest lane whose last label ends before it starts.
 * Candidates answer within a few ms of each other, far closer than their labels are wide.
 */
function labelLanes(labels: { x: number; content: string }[]): number[] {
  const laneEnds: number[] = [];
  return labels.map(({ x, content }) => {
    let lane = laneEnds.findIndex((end) => end < x);
    if (lane === -1) lane = laneEnds.push(0) - 1;
    laneEnds[lane] = x + textWidth(content) + 6;
    return lane;
  });
}

/** A marker on the time line and its label in its lane, tied to it by a leader line; the packet shows on hover. */
function event(cls: string, x: number, lineY: number, labelY: number, marker: string, content: string, colour: string, packet: string, bold = false): string {
  return tag('g', { class: cls }, tag('title', {}, escapeXml(packet)),
    tag('line', { x1: x, y1: lineY, x2: x, y2: labelY + (labelY < lineY ? 3 : -10), stroke: colour, 'stroke-width': 0.5 }),
    marker,
    text(x + 2, labelY, content, { fill: colour, 'font-weight': bold ? 'bold' : 'normal' }));
}

/**
 * One site's races on a shared horizontal axis (ms since the tagged SYN left), a row per connection: answers
 * above the line with their candidate's name, the winner in green and bold, the gateway's RSTs below it in red.
 * `expectedWinner` (a board name) marks rows whose winner differs, or whose capture shows a protocol problem.
 */
export function raceTimelineSvg(title: string, timelines: RaceTimeline[], names: ReadonlyMap<string, string>, expectedWinner?: string): string {
  const left = 110;
  const right = 200; // the last labels run on past the axis' end
  const width = 1000;
  const maxMs = Math.max(1, ...timelines.flatMap((t) => [...t.answers, ...t.resets].map((e) => e.atMs)));
  const step = tickStep(maxMs, 10);
  const axisMs = Math.ceil(maxMs / step) * step;
  const x = (ms: number) => left + (ms / axisMs) * (width - left - right);

  let y = 10;
  const rows = timelines.map((t) => {
    const answerLabels = t.answers.map((a) => ({ x: x(a.atMs), content: `${a === t.winner ? 'winner ' : ''}${label(names, a.answerer)} ${a.atMs.toFixed(1)} ms${a.tunnelled ? ' (IPIP)' : ''}` }));
    const resetLabels = t.resets.map((r) => ({ x: x(r.atMs), content: `RST ${label(names, r.to)} ${r.atMs.toFixed(1)} ms` }));
    const above = labelLanes([{ x: x(0), content: 'SYN' }, ...answerLabels]);
    const below = labelLanes(resetLabels);
    const lineY = y + (Math.max(...above) + 1) * LANE + 12;
    y = lineY + (below.length ? Math.max(...below) + 1 : 0) * LANE + 28;
    const aboveY = (lane: number) => lineY - 10 - lane * LANE;
    const belowY = (lane: number) => lineY + 22 + lane * LANE;

    const failed = t.problems.length > 0 || (expectedWinner !== undefined && (t.winner === null || label(names, t.winner.answerer) !== expectedWinner));
    const rowLabel = tag('g', {}, tag('title', {}, escapeXml([t.key, ...t.problems].join('\n'))),
      text(8, lineY + 4, `${failed ? '✗ ' : ''}port ${t.clientPort}`, { fill: failed ? COLOURS.reset : COLOURS.syn, 'font-weight': failed ? 'bold' : 'normal' }));
    const syn = event('syn', x(0), lineY, aboveY(above[0]), tag('circle', { cx: x(0), cy: lineY, r: 4, fill: COLOURS.syn }), 'SYN', COLOURS.syn, t.synPacket);
    const answers = t.answers.map((a, i) => {
      const won = a === t.winner;
      const colour = won ? COLOURS.winner : COLOURS.answer;
      const marker = tag('circle', { cx: x(a.atMs), cy: lineY, r: won ? 6 : 4, fill: colour });
      return event(won ? 'winner' : 'answer', x(a.atMs), lineY, aboveY(above[i + 1]), marker, answerLabels[i].content, colour, a.packet, won);
    });
    const resets = t.resets.map((r, i) => {
      const marker = tag('rect', { x: x(r.atMs) - 3.5, y: lineY + 5, width: 7, height: 7, fill: COLOURS.reset });
      return event('reset', x(r.atMs), lineY, belowY(below[i]), marker, resetLabels[i].content, COLOURS.reset, r.packet);
    });
    return tag('g', { class: 'race' }, rowLabel, tag('line', { x1: x(0), y1: lineY, x2: x(axisMs), y2: lineY, stroke: COLOURS.grid }), syn, ...answers, ...resets);
  });

  const axisY = y;
  const ticks = Array.from({ length: Math.round(axisMs / step) + 1 }, (_, i) => i * step).map((ms) =>
    tag('g', {}, tag('line', { x1: x(ms), y1: axisY, x2: x(ms), y2: axisY + 5, stroke: COLOURS.syn }), text(x(ms), axisY + 17, String(Number(ms.toFixed(3))), { 'text-anchor': 'middle' })));
  const axis = tag('g', { class: 'axis' },
    tag('line', { x1: x(0), y1: axisY, x2: x(axisMs), y2: axisY, stroke: COLOURS.syn }), ...ticks,
    text(x(axisMs / 2), axisY + 33, 'ms since the tagged SYN left the gateway', { 'text-anchor': 'middle' }));
  return svg(width, axisY + 45, title, ...rows, axis);
}

/** The matrix draws the two classic races; the other modes are in the per-site tables. */
type DrawnMode = 'plain' | 'synchronized';

interface CellMarks { plain: boolean; synchronized: boolean; closest: boolean; observed: Record<DrawnMode, { count: number; of: number } | null> }

function observedAt(verdict: SiteVerdict | undefined, board: string): { count: number; of: number } | null {
  if (!verdict) return null;
  return { count: verdict.connections.filter((c) => (c.servedBy ?? c.tableWinner) === board).length, of: verdict.connections.length };
}

/** A cell disagrees when a mode's predicted winner did not serve every connection, or another board served some. */
function disagrees(m: CellMarks): boolean {
  return (['plain', 'synchronized'] as DrawnMode[]).some((mode) => {
    const o = m.observed[mode];
    return o !== null && (m[mode] ? o.count < o.of || o.of === 0 : o.count > 0);
  });
}

function badge(x: number, y: number, content: string, colour: string, filled: boolean): string {
  const w = 7 * content.length + 8;
  return tag('g', {}, tag('rect', { x, y, width: w, height: 16, rx: 3, fill: filled ? colour : 'white', stroke: colour }),
    text(x + w / 2, y + 12, content, { 'text-anchor': 'middle', fill: filled ? 'white' : colour }));
}

/**
 * Rows client sites, columns candidates. Each cell: the predicted race times (plain / synchronized) and RTT, then
 * badges: outlined P / S where the predictor puts that race's winner, filled p / s with the share of connections
 * observed won there, C for the truly closest. A cell whose observation contradicts its prediction is red.
 */
export function selectionMatrixSvg(predictions: SitePrediction[], verdicts: SiteVerdict[]): string {
  const boards = predictions[0]?.candidates.map((c) => c.board) ?? [];
  const head = 110;
  const cellW = 170;
  const cellH = 64;
  const top = 40;
  const width = head + boards.length * cellW + 10;
  const header = boards.map((b, j) => text(head + j * cellW + cellW / 2, top - 10, b, { 'text-anchor': 'middle', 'font-weight': 'bold' }));
  const rows = predictions.map((p, i) => {
    const y = top + i * cellH;
    const verdictOf = (mode: DrawnMode) => verdicts.find((v) => v.clientSite === p.clientSite && v.mode === mode);
    const cells = p.candidates.map((c) => {
      const x = head + boards.indexOf(c.board) * cellW;
      const marks: CellMarks = {
        plain: p.winner === c.board,
        synchronized: p.syncWinner === c.board,
        closest: p.closest === c.board,
        observed: { plain: observedAt(verdictOf('plain'), c.board), synchronized: observedAt(verdictOf('synchronized'), c.board) },
      };
      const bad = disagrees(marks);
      const badges: [string, string, boolean][] = [];
      if (marks.plain) badges.push(['P', COLOURS.answer, false]);
      if (marks.synchronized) badges.push(['S', COLOURS.answer, false]);
      for (const [mode, letter] of [['plain', 'p'], ['synchronized', 's']] as const) {
        const o = marks.observed[mode];
        if (o && o.count > 0) badges.push([`${letter} ${o.count}/${o.of}`, marks[mode] ? COLOURS.winner : COLOURS.reset, true]);
      }
      if (marks.closest) badges.push(['C', COLOURS.closest, true]);
      let bx = x + 6;
      const drawn = badges.map(([content, colour, filled]) => {
        const b = badge(bx, y + 38, content, colour, filled);
        bx += 7 * content.length + 12;
        return b;
      });
      return tag('g', { class: bad ? 'cell mismatch' : 'cell' },
        tag('rect', { x, y, width: cellW, height: cellH, fill: bad ? COLOURS.fail : 'white', stroke: bad ? COLOURS.reset : COLOURS.grid, 'stroke-width': bad ? 2 : 1 }),
        text(x + 6, y + 15, `race ${c.raceMs} / ${c.syncRaceMs} ms`),
        text(x + 6, y + 30, `rtt ${c.rttMs} ms`),
        ...drawn);
    });
    return tag('g', { class: 'site' }, text(8, y + cellH / 2 + 4, p.clientSite, { 'font-weight': 'bold' }), ...cells);
  });
  const legendY = top + predictions.length * cellH + 14;
  const legend = tag('g', { class: 'legend' },
    badge(8, legendY, 'P', COLOURS.answer, false), text(30, legendY + 12, 'predicted winner, plain race'),
    badge(210, legendY, 'S', COLOURS.answer, false), text(232, legendY + 12, 'predicted winner, synchronized race'),
    badge(8, legendY + 22, 'p n/N', COLOURS.winner, true), text(60, legendY + 34, 'observed winner of n of N connections, plain (s: synchronized); red where not predicted'),
    badge(8, legendY + 44, 'C', COLOURS.closest, true), text(30, legendY + 56, 'truly closest (lowest RTT)'),
    text(210, legendY + 56, 'race times: plain / synchronized, from the profile'));
  return svg(Math.max(width, 560), legendY + 66, 'selection matrix: predicted, observed and truly closest candidate per client site', ...header, ...rows, legend);
}
