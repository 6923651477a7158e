import type { SitePrediction } from './predict';

/** A fixed-width text table of predictions, one row per client site, notes below. */
export function formatPredictionTable(predictions: SitePrediction[]): string {
  const header = ['client site', 'plain winner', 'margin ms', 'sync winner', 'margin ms', 'bounded winner', 'margin ms', 'closest'];
  const rows = predictions.map((p) => [p.clientSite, p.winner, String(p.marginMs), p.syncWinner, String(p.syncMarginMs), p.boundedWinner, String(p.boundedMarginMs), p.closest]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd();
  const notes = predictions.flatMap((p) => p.notes.map((n) => `  ${p.clientSite}: ${n}`));
  return [line(header), ...rows.map(line), ...(notes.length ? ['notes:', ...notes] : [])].join('\n') + '\n';
}
