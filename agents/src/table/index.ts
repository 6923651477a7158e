// The client gateway's translation table.
export { readAnswerKey, readConnectionKey, type AnswerKey, type ConnectionKey } from './connection-key';
export type { TableCounters } from './table-counters';
export type { EntryDump, TableDump } from './table-dump';
export { TableEntry, type CarriedBy, type EntryState, type IdleClass, type Via } from './table-entry';
export { MAX_DEADLINE_MS, WinnerCache, type CachedWinner, type WinnerCacheDump, type WinnerCacheListener, type WinnerCacheOptions } from './winner-cache';
export {
  DEFAULT_TABLE_OPTIONS, MAX_CONNECTIONS_PER_CLIENT_SOCKET, TranslationTable,
  type AnswerVerdict, type PendingResult, type Removal, type SegmentOutcome, type Side, type TableOptions,
} from './translation-table';
