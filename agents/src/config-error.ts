/** A board configuration the agent cannot run; `message` names the offending field. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
