import type { Lab, Progress } from '@synrace/orchestrator';

export interface BenchContext {
  progress: Progress;
  /** Aborted on SIGINT/SIGTERM: a section stops, and whatever lab it runs is taken down. */
  signal: AbortSignal;
}

/** What a section measured (for bench-results.json) and the same numbers for a person to read. */
export interface SectionReport {
  result: unknown;
  text: string;
}

interface SectionInfo {
  /** The name the command-line filter selects it by. */
  name: string;
  title: string;
}

/**
 * Sections either need nothing but the host (they bring up their own labs, if any), or measure the default
 * world lab, which the runner brings up once for all such sections in a row.
 */
export interface HostSection extends SectionInfo {
  needs: 'host';
  run(context: BenchContext): Promise<SectionReport>;
}

export interface WorldLabSection extends SectionInfo {
  needs: 'world-lab';
  run(context: BenchContext, lab: Lab): Promise<SectionReport>;
}

export type BenchSection = HostSection | WorldLabSection;
