/**
 * Where exports go in the sync bucket and how long they stay: a lifecycle rule in template.yaml (ExpireExports)
 * deletes them; these are the values it is checked against.
 */

/** Exports are written under this prefix of the sync bucket, beside the vaults' backups. */
export const EXPORTS_KEY_PREFIX = 'exports/'

/** Days an export is kept (the lifecycle rule's ExpirationInDays). */
export const EXPORT_RETENTION_DAYS = 7

const DAY_MS = 24 * 60 * 60 * 1000

/**
 * When S3 deletes an export written at `createdMs`: lifecycle expiry counts days from the object's creation and
 * rounds up to the next midnight UTC. S3 may act up to a day or two after that; this is the earliest moment.
 */
export function exportExpiresAt(createdMs: number): number {
  return Math.ceil((createdMs + EXPORT_RETENTION_DAYS * DAY_MS) / DAY_MS) * DAY_MS
}
