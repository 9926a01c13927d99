/** Where a run goes, and where a read of what one wrote looks: a bucket allowed by SYNC_ALLOWED_BUCKETS and a one-segment prefix. */
import { ForbiddenError, InvalidInputError } from '../core/errors.ts'
import type { Target } from '../repositories/sync-vaults.ts'
import { isKeySegment } from '../repositories/sync-paths.ts'

export const DEFAULT_DEST_PREFIX = 'vaults'

export class Destinations {
  constructor(
    private readonly allowedBuckets: readonly string[],
    /** The stack's sync bucket: where a run goes when it names none. */
    private readonly bucket: string
  ) {}

  /** The stack's sync bucket unless named, and only an allowed one; the prefix `vaults` unless named. */
  target(destBucket?: string, destPrefix?: string): Target {
    const bucket = destBucket ?? this.bucket
    if (!this.allowedBuckets.includes(bucket)) {
      throw new ForbiddenError(
        'SYNC_BUCKET_NOT_ALLOWED',
        `dest_bucket ${JSON.stringify(bucket)} is not one of SYNC_ALLOWED_BUCKETS`
      )
    }
    const prefix = destPrefix ?? DEFAULT_DEST_PREFIX
    // Keys are <prefix>/<vault id>/<path>: a prefix of more than one segment could reach into another vault's.
    if (!isKeySegment(prefix))
      throw new InvalidInputError(
        'SYNC_DEST_PREFIX_INVALID',
        'dest_prefix must be one segment (no /) of letters, digits, _ . - and not . or ..'
      )
    return { bucket, prefix }
  }
}
