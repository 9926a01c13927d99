/**
 * The moment a read of a backup's past names (`as_of`), and whether the backup can show it: not before the
 * backup's first run, and not before what the bucket still keeps (a version no longer current is kept
 * SYNC_VERSION_RETENTION_DAYS days, so any moment since then is complete).
 */
import { InvalidInputError } from '../core/errors.ts'
import { SYNC_VERSION_RETENTION_DAYS } from '../core/limits.ts'
import type { VaultState } from '../repositories/sync-vaults.ts'

const DAY_MS = 24 * 60 * 60 * 1000

/** `as_of` as the schema lets it through: epoch ms in decimal digits, or an RFC 3339 time. */
export function parseAsOf(text: string): number {
  if (/^[0-9]+$/.test(text)) return Number(text)
  // RFC 3339 allows a leap second, which Date cannot parse: it is the last second of its minute.
  const moment = Date.parse(text.replace(/^(.{17})60(?:\.[0-9]+)?/, (_, minute: string) => `${minute}59.999`))
  if (Number.isNaN(moment)) throw new InvalidInputError('VALIDATION_FAILED', `as_of ${text} is not a moment`)
  return moment
}

/** The oldest moment the backup of `state` can show at `now`; undefined when it has never run. */
export function oldestMoment(state: VaultState | undefined, now: number = Date.now()): number | undefined {
  if (state === undefined) return undefined
  const retained = now - SYNC_VERSION_RETENTION_DAYS * DAY_MS
  // A state saved before first runs were recorded: the bucket's retention alone bounds it.
  return Math.max(state.firstRunAt ?? retained, retained)
}

/** Throws 400 AS_OF_OUT_OF_RANGE, naming the oldest moment available, unless the backup can show `asOf`. */
export function checkAsOf(
  asOf: number,
  vaultId: string,
  state: VaultState | undefined,
  now: number = Date.now()
): void {
  const oldest = oldestMoment(state, now)
  if (oldest === undefined)
    throw new InvalidInputError(
      'AS_OF_OUT_OF_RANGE',
      `Vault ${vaultId} has no backup at this destination yet: no moment is available`
    )
  if (asOf < oldest)
    throw new InvalidInputError(
      'AS_OF_OUT_OF_RANGE',
      `as_of ${new Date(asOf).toISOString()} is out of range: the oldest moment available is ${new Date(oldest).toISOString()}`
    )
}
