export {
  SessionTable, sessionTableFull,
  NOT_FOUND, FULL, DUPLICATE, SESSION_TABLE_FULL, SESSION_TABLE_OPTIONS,
  DEFAULT_MAX_SESSIONS, DEFAULT_MAX_LOAD
} from './session-table.ts'
export type { SessionTableOptions, ProbeStats, ColumnConstructor } from './session-table.ts'
export { SessionIds, formatSid, parseSid, parseSidWords, SID_WORDS, SID_LENGTH } from './sid.ts'
export type { SessionIdsOptions } from './sid.ts'
export { SessionRegistry, MALFORMED } from './registry.ts'
