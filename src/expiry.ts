/**
 * DynamoDB TTL: the attribute holds epoch seconds, and AWS deletes expired
 * items up to days late (emulators never do), so reads treat an item past its
 * TTL as gone.
 */
export const TTL_ATTRIBUTE = 'ttl'

export const ttlFromMillis = (epochMs: number): number => Math.ceil(epochMs / 1000)

/** True when an item with this TTL (epoch seconds) is past it at `nowMs`. */
export const isExpired = (ttl: number | undefined, nowMs: number = Date.now()): boolean =>
  ttl !== undefined && ttl * 1000 <= nowMs

/** A Query/Get FilterExpression fragment keeping live items; bind `:now` to epoch seconds. */
export const LIVE_FILTER = 'attribute_not_exists(#ttl) OR #ttl > :now'
export const LIVE_FILTER_NAMES = { '#ttl': TTL_ATTRIBUTE }
export const nowSeconds = (nowMs: number = Date.now()): number => Math.floor(nowMs / 1000)
