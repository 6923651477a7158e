import type { FlashProgress } from './write-image';

const MB = 1e6;

function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** One line of a TTY progress bar: "write [#####-----]  50%  100.0/200.0 MB  25.0 MB/s  ETA 0:04". */
export function formatProgressBar(p: FlashProgress, width = 30): string {
  const rate = `${(p.bytesPerSecond / MB).toFixed(1)} MB/s`;
  if (p.total === undefined || p.total === 0) return `${p.phase} ${(p.bytes / MB).toFixed(1)} MB  ${rate}`;
  const fraction = Math.min(1, p.bytes / p.total);
  const filled = Math.round(fraction * width);
  const eta = p.bytesPerSecond > 0 ? `  ETA ${formatDuration((p.total - p.bytes) / p.bytesPerSecond)}` : '';
  return (
    `${p.phase} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%  ` +
    `${(p.bytes / MB).toFixed(1)}/${(p.total / MB).toFixed(1)} MB  ${rate}${eta}`
  );
}

export interface ProgressOutput {
  isTTY?: boolean;
  write(text: string): unknown;
}

/**
 * Renders progress to `out`: a bar redrawn in place (at most every `intervalMs`) on a TTY;
 * otherwise one plain line per 10% (per 100 MB when the total is unknown), so CI logs stay short.
 * Call `end()` once the operation finishes to terminate the bar's line.
 */
export function createProgressRenderer(out: ProgressOutput, intervalMs = 100): { update(p: FlashProgress): void; end(): void } {
  let lastDraw = 0;
  let lastStep = new Map<FlashProgress['phase'], number>();
  // The newest update, drawn or not: throttling may skip the last one of a phase.
  let latest: FlashProgress | undefined;
  const draw = (p: FlashProgress) => {
    lastDraw = Date.now();
    out.write(`\r${formatProgressBar(p)}\x1b[K`);
  };
  return {
    update(p) {
      if (out.isTTY) {
        if (latest !== undefined && latest.phase !== p.phase) {
          draw(latest);
          out.write('\n');
        }
        latest = p;
        if (Date.now() - lastDraw >= intervalMs || p.bytes === p.total) draw(p);
        return;
      }
      const step = p.total ? Math.floor((p.bytes / p.total) * 10) : Math.floor(p.bytes / (100 * MB));
      if (step === lastStep.get(p.phase)) return;
      lastStep.set(p.phase, step);
      const amount = p.total ? `${step * 10}%` : `${(p.bytes / MB).toFixed(0)} MB`;
      out.write(`${p.phase} ${amount} (${(p.bytesPerSecond / MB).toFixed(1)} MB/s)\n`);
    },
    end() {
      if (out.isTTY && latest !== undefined) {
        draw(latest);
        out.write('\n');
      }
      latest = undefined;
      lastStep = new Map();
    },
  };
}
