/**
 * What can go wrong, in the domain's words. Repositories, routes and the sync
 * engine throw these, each with a stable `code` clients can act on;
 * plugins/app/errors.ts alone turns them into a status and headers
 * (`{statusCode, error, message, code}`, plus the error's `details`).
 *
 * Missing items: a read returns undefined and its caller decides (a route
 * answers with its resource's not-found error); a write to an item that must
 * exist throws that error itself. Each resource's not-found error is built by
 * one function, beside the repository of that resource.
 */
/**
 * Every code an error answer can carry, by the status it comes with. Error constructors take only these, so
 * no other code reaches a client; the README's Errors section lists exactly these (test/errors.test.ts checks).
 */
export const ERROR_CODES = [
  // 400
  'VALIDATION_FAILED',
  'INVALID_JSON',
  'INVALID_NUMBER',
  'INVALID_CURSOR',
  'MALFORMED_UNICODE',
  'BODY_TOO_DEEP',
  'INVALID_URL',
  'BAD_REQUEST',
  'INVALID_RESOURCE_ID',
  'INVALID_QUERY',
  'EXPIRES_AT_NOT_IN_FUTURE',
  'SYNC_CREDENTIALS_INCOMPLETE',
  'SYNC_ACCOUNT_MISSING',
  'SYNC_DEST_PREFIX_INVALID',
  'AS_OF_OUT_OF_RANGE',
  'SYNC_RESTORE_PASSWORD_MISSING',
  'INVALID_CHANGE',
  'CHANGE_ID_PARTIAL',
  'CHANGE_ID_REPEATED',
  'CONTENT_TYPE_NOT_ALLOWED',
  'INVALID_PART',
  'INVALID_PARTS',
  // 401
  'UNAUTHENTICATED',
  'INVALID_CREDENTIALS',
  // 403
  'FORBIDDEN',
  'SYNC_BUCKET_NOT_ALLOWED',
  // 404
  'DATASET_NOT_FOUND',
  'VERSION_NOT_FOUND',
  'USER_NOT_FOUND',
  'ASSET_NOT_FOUND',
  'CHANGE_NOT_FOUND',
  'ENTITY_NOT_FOUND',
  'SYNC_RUN_NOT_FOUND',
  'SYNC_FILE_NOT_FOUND',
  'SYNC_EXPORT_NOT_FOUND',
  'SYNC_RESTORE_NOT_FOUND',
  'PROJECT_NOT_FOUND',
  'ROUTE_NOT_FOUND',
  // 408
  'REQUEST_TIMEOUT',
  // 409
  'DATASET_EXISTS',
  'EMAIL_TAKEN',
  'ASSET_NOT_UPLOADED',
  'ASSET_NOT_PENDING',
  'NOT_MULTIPART',
  'UPLOAD_GONE',
  'CHANGE_ID_REUSED',
  'WRITE_CONTENTION',
  'SYNC_IN_PROGRESS',
  // 412
  'VERSION_MISMATCH',
  // 413
  'PAYLOAD_TOO_LARGE',
  'DATA_TOO_LARGE',
  'ASSET_TOO_LARGE',
  'BODY_TOO_LARGE',
  // 414
  'URI_TOO_LONG',
  // 415
  'UNSUPPORTED_MEDIA_TYPE',
  'UNSUPPORTED_CONTENT_ENCODING',
  // 429
  'RATE_LIMITED',
  // 431
  'HEADERS_TOO_LARGE',
  // 503
  'DEPENDENCY_UNAVAILABLE',
  'WRITE_TOO_SLOW',
  // 500
  'INTERNAL_ERROR'
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

export interface DomainErrorOptions {
  /** The SDK or service error this one translates: kept for the logs, never sent. */
  cause?: unknown
  /** Fields the answer carries beside `{statusCode, error, message, code}`, declared in the route's response schema. */
  details?: Readonly<Record<string, unknown>>
  /** Headers the answer carries, such as the `Location` of what the error names. */
  headers?: Readonly<Record<string, string>>
}

export class DomainError extends Error {
  readonly details: Readonly<Record<string, unknown>>
  readonly headers: Readonly<Record<string, string>>

  constructor(
    readonly code: ErrorCode,
    message: string,
    { cause, details = {}, headers = {} }: DomainErrorOptions = {}
  ) {
    super(message, cause === undefined ? undefined : { cause })
    this.name = new.target.name
    this.details = details
    this.headers = headers
  }
}

/** Input the schemas cannot judge: a forged cursor, a content type not allowed, a part past the last. */
export class InvalidInputError extends DomainError {}

export class NotFoundError extends DomainError {}

/** The caller may not do this, whoever they are: a destination outside the allowed ones. */
export class ForbiddenError extends DomainError {}

/** Conflicts with the current state: an id or email taken, an upload not finished, a changeId reused. */
export class ConflictError extends DomainError {}

/** If-Match names a version that is not the current one; nothing was written. */
export class PreconditionFailedError extends DomainError {}

/** Too many writers at once: this write was not made, and a retry may land. */
export class ContentionError extends DomainError {}

export class TooLargeError extends DomainError {}

/** Storage was too slow or unreachable for this write: nothing was changed; retry in a moment. */
export class UnavailableError extends DomainError {}

const UNAVAILABLE_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'LimitExceededException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalServerError',
  'InternalError',
  'SlowDown',
  'TimeoutError',
  'RequestTimeout',
  'AbortError'
])
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH'
])

/** True for AWS throttling, AWS-side failures and network errors: the dependency, not the request, is at fault. */
export function isDependencyUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; cause?: unknown }
  if (e.name !== undefined && UNAVAILABLE_NAMES.has(e.name)) return true
  if (e.code !== undefined && UNAVAILABLE_CODES.has(e.code)) return true
  const status = e.$metadata?.httpStatusCode
  if (status !== undefined && status >= 500) return true
  return e.cause !== undefined && e.cause !== err && isDependencyUnavailable(e.cause)
}
