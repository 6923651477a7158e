import type { Lab } from '@synrace/orchestrator';
import { onBoard } from './board-command';

export interface Download {
  bytes: number;
  seconds: number;
  /** MB = 10^6 bytes. */
  mbPerSecond: number;
  servedBy: string | null;
}

/** One download with curl on a client host, as an unmodified client makes it; fails unless all expected bytes arrive. */
export async function download(lab: Lab, host: string, url: string, expectedBytes: number): Promise<Download> {
  const out = await onBoard(lab, host, `curl -sS -m 120 -o /dev/null -D - -w 'result %{size_download} %{time_total}\\n' ${url} | tr -d '\\r' | grep -iE '^(x-served-by|result)'`, 150_000);
  const result = /^result (\d+) ([\d.]+)/m.exec(out);
  const bytes = Number(result?.[1] ?? 0);
  if (!result || bytes !== expectedBytes) throw new Error(`download of ${url} on ${host} got ${bytes} of ${expectedBytes} bytes:\n${out}`);
  const seconds = Number(result[2]);
  return { bytes, seconds, mbPerSecond: bytes / seconds / 1e6, servedBy: /^x-served-by:\s*(\S+)/im.exec(out)?.[1] ?? null };
}
