import type { ErrorCode } from '../core/errors.ts'

/** Seconds a client is asked to wait before retrying a 503 (and what auth's JWKS outage answers). */
export const RETRY_AFTER_SECONDS = 2

/**
 * An answer the HTTP layer itself decides (credentials, rate limits, media
 * types), with its status and headers. Everything below the routes throws
 * DomainErrors (src/core/errors.ts), whose status plugins/app/errors.ts decides.
 */
export class HttpError extends Error {
  override name = 'HttpError'
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
    /** `cause`: the error of a dependency this answer translates, kept for the log. */
    options?: { cause?: unknown }
  ) {
    super(message, options)
  }
}
