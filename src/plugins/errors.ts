import { STATUS_CODES } from 'node:http'
import type { FastifyError } from 'fastify'
import fp from 'fastify-plugin'
import { AppError, isDependencyUnavailable } from '../errors.ts'

interface ErrorBody {
  statusCode: number
  error: string
  message: string
  code: string
}

export const RETRY_AFTER_SECONDS = 2

const body = (statusCode: number, code: string, message: string): ErrorBody =>
  ({ statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message, code })

/** Maps anything thrown to the one error shape. Internals never reach the client. */
export function toErrorResponse (err: unknown): { body: ErrorBody, headers: Record<string, string> } {
  if (err instanceof AppError) return { body: body(err.statusCode, err.code, err.message), headers: err.headers }
  const e = err as Partial<FastifyError> & { validation?: unknown }
  const isSyntaxError = err instanceof SyntaxError
  if (e.validation !== undefined) return { body: body(400, 'VALIDATION_FAILED', e.message ?? 'Invalid input'), headers: {} }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { body: body(413, 'BODY_TOO_LARGE', 'Request body is larger than this route accepts'), headers: {} }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { body: body(415, 'UNSUPPORTED_MEDIA_TYPE', e.message ?? 'Unsupported Content-Type'), headers: {} }
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { body: body(400, 'INVALID_JSON', 'Request body is not valid JSON'), headers: {} }
  }
  if (isSyntaxError && e.statusCode === 400) {
    return { body: body(400, 'INVALID_JSON', 'Request body is not valid JSON'), headers: {} }
  }
  if (isDependencyUnavailable(err)) {
    return {
      body: body(503, 'DEPENDENCY_UNAVAILABLE', 'A storage dependency is unavailable; retry later'),
      headers: { 'retry-after': String(RETRY_AFTER_SECONDS) }
    }
  }
  const status = e.statusCode
  if (status !== undefined && status >= 400 && status < 500) {
    return { body: body(status, e.code ?? `HTTP_${status}`, e.message ?? STATUS_CODES[status] ?? 'Error'), headers: {} }
  }
  return { body: body(500, 'INTERNAL_ERROR', 'Internal Server Error'), headers: {} }
}

export default fp(async (app) => {
  app.setErrorHandler(async (err, request, reply) => {
    const { body, headers } = toErrorResponse(err)
    if (body.statusCode >= 500) request.log.error({ err }, 'request failed')
    else request.log.info({ code: body.code, message: body.message }, 'request rejected')
    return await reply.code(body.statusCode).headers(headers).send(body)
  })

  app.setNotFoundHandler(async (request, reply) => {
    return await reply.code(404).send(body(404, 'ROUTE_NOT_FOUND', `Route ${request.method} ${request.url.split('?')[0]} not found`))
  })
}, { name: 'errors' })
