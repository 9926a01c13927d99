/**
 * An error the client caused or may act on. Thrown by repositories and routes,
 * turned into `{statusCode, error, message, code}` by plugins/errors.ts.
 */
export class AppError extends Error {
  override name = 'AppError'
  constructor (
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {}
  ) {
    super(message)
  }
}

export const badRequest = (code: string, message: string): AppError => new AppError(400, code, message)
export const notFound = (code: string, message: string): AppError => new AppError(404, code, message)
export const conflict = (code: string, message: string): AppError => new AppError(409, code, message)
export const preconditionFailed = (code: string, message: string): AppError => new AppError(412, code, message)
export const tooLarge = (code: string, message: string): AppError => new AppError(413, code, message)

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
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH'])

/** True for AWS throttling, AWS-side failures and network errors: the dependency, not the request, is at fault. */
export function isDependencyUnavailable (err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const e = err as { name?: string, code?: string, $metadata?: { httpStatusCode?: number }, cause?: unknown }
  if (e.name !== undefined && UNAVAILABLE_NAMES.has(e.name)) return true
  if (e.code !== undefined && UNAVAILABLE_CODES.has(e.code)) return true
  const status = e.$metadata?.httpStatusCode
  if (status !== undefined && status >= 500) return true
  return e.cause !== undefined && e.cause !== err && isDependencyUnavailable(e.cause)
}
