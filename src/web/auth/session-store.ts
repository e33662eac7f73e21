export { SessionStore, type SessionStoreOptions } from '../../store/memory/memory-sessions.js';
export type { PageSessions } from '../../store/page-sessions.js';
