/**
 * A problem in a topology or profile file, located well enough for a user to
 * fix it: `world.yaml:17: boards[3].site: unknown site "lndon"`.
 */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    /** 1-based; undefined when the problem has no single place (e.g. a missing file). */
    readonly line: number | undefined,
    /** Dotted path with [index] for arrays; '' for the file as a whole. */
    readonly field: string,
    readonly problem: string,
  ) {
    const where = line === undefined ? file : `${file}:${line}`;
    super(field ? `${where}: ${field}: ${problem}` : `${where}: ${problem}`);
    this.name = 'ConfigError';
  }
}
