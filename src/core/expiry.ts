/**
 * DynamoDB TTL: the attribute holds epoch seconds, and AWS deletes expired
 * items up to days late (emulators never do), so reads treat an item past its
 * TTL as gone.
 */
export const TTL_ATTRIBUTE = 'ttl'

/** /sync: a run and its per-vault progress expire this long after the run was created. */
export const SYNC_RUN_TTL_DAYS = 30
/** /sync: a vault's lease item expires this long after the lease ends (the lease itself is `until`, not the TTL). */
export const SYNC_LEASE_TTL_AFTER_MS = 24 * 60 * 60 * 1000

export const ttlFromMillis = (epochMs: number): number => Math.ceil(epochMs / 1000)

/** True when an item with this TTL (epoch seconds) is past it at `nowMs`. */
export const isExpired = (ttl: number | undefined, nowMs: number = Date.now()): boolean =>
  ttl !== undefined && ttl * 1000 <= nowMs

/** A Query/Get FilterExpression fragment keeping live items; bind `:now` to epoch seconds. */
export const LIVE_FILTER = 'attribute_not_exists(#ttl) OR #ttl > :now'
export const LIVE_FILTER_NAMES = { '#ttl': TTL_ATTRIBUTE }
export const nowSeconds = (nowMs: number = Date.now()): number => Math.floor(nowMs / 1000)
