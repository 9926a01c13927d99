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
    readonly code: string,
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
