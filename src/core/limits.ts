/**
 * The limits the API promises, in one place: schemas validate against them,
 * repositories enforce the ones a schema cannot see, the README states them.
 * Tunables no client can observe (inline sizes, attempts, leases) stay beside
 * the code they tune.
 */

const KIB = 1024
const MIB = 1024 * KIB

/** What one Lambda invocation carries: no request body may be larger. */
export const LAMBDA_BODY_BYTES = 6 * MIB

/** /data: a payload, counted as UTF-8 bytes (413 above). */
export const MAX_PAYLOAD_BYTES = 5 * MIB
/** /data: versions that stay readable, the current one included. */
export const HISTORY_DEPTH = 10
/** /data: history keys hold 10 digits of version. */
export const MAX_VERSION = 10 ** 10 - 1

/** /projects: changes in one append. */
export const MAX_BATCH = 100
/** /projects: one change's `data`, as JSON (413 above). */
export const MAX_DATA_BYTES = 350 * KIB
/** /projects: batch keys hold 15 digits of seq; every input is bounded by it, so no key range is ever inverted. */
export const MAX_SEQ = 10 ** 15 - 1
/** /projects: the longest long poll. */
export const MAX_WAIT_SECONDS = 20

/** /users: the default and largest page. */
export const USERS_PAGE_DEFAULT = 20
export const USERS_PAGE_MAX = 100
/** The latest instant JSON Schema and Date both handle comfortably: 9999-12-31T23:59:59.999Z. */
export const MAX_EPOCH_MS = 253_402_300_799_999

/** /sync: the longest a POST /sync?wait= waits for its run to end. */
export const MAX_SYNC_WAIT_SECONDS = 25
/** /sync: a vault's progress in a run keeps this many error messages; the count goes on. */
export const MAX_SYNC_ERROR_MESSAGES = 20
/** /sync: vault states listed at most (an account has a handful of vaults, each at a destination or two). */
export const MAX_SYNC_VAULT_STATES = 1000

/** /assets: metadata lives this long (and the bucket expires the bytes with it). */
export const ASSET_METADATA_TTL_DAYS = 30
/** /assets: a file name is cut to this many characters once made safe. */
export const MAX_FILE_NAME = 200

/**
 * /sync: days the sync bucket keeps a version once it is no longer current (template.yaml's lifecycle rule):
 * the oldest moment a backup can show is this long ago.
 */
export const SYNC_VERSION_RETENTION_DAYS = 30
/** /assets (and the embedded S3): S3's multipart rules, a part's least size (the last part excepted) and the most parts. */
export const S3_MIN_PART_BYTES = 5 * MIB
export const S3_MAX_PARTS = 10_000
