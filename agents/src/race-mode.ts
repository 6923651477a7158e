/** How the server switch races the candidates: docs/protocol.md, "The race" and "Bounded race". */
export const RACE_MODES = ['plain', 'synchronized', 'bounded'] as const;
export type RaceMode = (typeof RACE_MODES)[number];
