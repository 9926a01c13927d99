/**
 * What each /sync route requires: reading backups and runs, starting runs and exports, and restoring, which
 * writes into the user's Obsidian account and so has a scope of its own.
 */
export const SYNC_READ = { auth: { scopes: ['sync:read'] } }
export const SYNC_RUN = { auth: { scopes: ['sync:run'] } }
export const SYNC_RESTORE = { auth: { scopes: ['sync:restore'] } }
