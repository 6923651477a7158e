export type { WanDelayConfig } from './roles/wan-delay-config';
export { parseBoardConfig, type BoardConfig } from './board-config';
