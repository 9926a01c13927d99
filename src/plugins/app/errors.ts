import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import {
  ConflictError,
  ContentionError,
  DomainError,
  type ErrorCode,
  ForbiddenError,
  InvalidInputError,
  isDependencyUnavailable,
  NotFoundError,
  PreconditionFailedError,
  TooLargeError,
  UnavailableError
} from '../../core/errors.ts'
import { HttpError, RETRY_AFTER_SECONDS } from '../../http/http-error.ts'

interface ErrorBody {
  statusCode: number
  error: string
  message: string
  code: string
  /** A DomainError's details, such as the run_id of the run a 409 names. */
  [detail: string]: unknown
}

const DOMAIN_STATUS: Array<[abstract new (...args: never[]) => DomainError, number]> = [
  [InvalidInputError, 400],
  [ForbiddenError, 403],
  [NotFoundError, 404],
  [ConflictError, 409],
  [ContentionError, 409],
  [PreconditionFailedError, 412],
  [TooLargeError, 413],
  [UnavailableError, 503]
]

const retryLater = { 'retry-after': String(RETRY_AFTER_SECONDS) }

const body = (statusCode: number, code: ErrorCode, message: string): ErrorBody => ({
  statusCode,
  error: STATUS_CODES[statusCode] ?? 'Error',
  message,
  code
})

/**
 * Maps anything thrown to the one error shape: the only place an error becomes a status, a body and headers.
 * A DomainError's details join the body (they cannot replace its four fields) and its headers the answer's.
 * Internals never reach the client.
 */
export function toErrorResponse(err: unknown): { body: ErrorBody; headers: Record<string, string> } {
  if (err instanceof HttpError) return { body: body(err.statusCode, err.code, err.message), headers: err.headers }
  if (err instanceof DomainError) {
    const status = DOMAIN_STATUS.find(([type]) => err instanceof type)?.[1] ?? 500
    if (status === 500) return { body: body(500, 'INTERNAL_ERROR', 'Internal Server Error'), headers: {} }
    return {
      body: { ...err.details, ...body(status, err.code, err.message) },
      headers: { ...(status === 503 ? retryLater : {}), ...err.headers }
    }
  }
  const e = err as Partial<FastifyError> & { validation?: unknown }
  const isSyntaxError = err instanceof SyntaxError
  if (e.validation !== undefined)
    return { body: body(400, 'VALIDATION_FAILED', e.message ?? 'Invalid input'), headers: {} }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { body: body(413, 'BODY_TOO_LARGE', 'Request body is larger than this route accepts'), headers: {} }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { body: body(415, 'UNSUPPORTED_MEDIA_TYPE', e.message ?? 'Unsupported Content-Type'), headers: {} }
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { body: body(400, 'BAD_REQUEST', 'The body is not as long as its Content-Length says'), headers: {} }
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
      headers: retryLater
    }
  }
  const status = e.statusCode
  if (status !== undefined && status >= 400 && status < 500) {
    // Another library's code (Fastify's FST_ERR_*) is no promise of ours: clients get the documented one of its status.
    const [code, generic] = STATUS_CODE_OF[status] ?? ['BAD_REQUEST', 400]
    return { body: body(generic, code, STATUS_CODES[generic]!), headers: {} }
  }
  return { body: body(500, 'INTERNAL_ERROR', 'Internal Server Error'), headers: {} }
}

/** The documented code of each status a framework error may carry; any other 4xx is answered 400 BAD_REQUEST. */
const STATUS_CODE_OF: Record<number, [ErrorCode, number]> = {
  400: ['BAD_REQUEST', 400],
  404: ['ROUTE_NOT_FOUND', 404],
  408: ['REQUEST_TIMEOUT', 408],
  413: ['BODY_TOO_LARGE', 413],
  414: ['URI_TOO_LONG', 414],
  415: ['UNSUPPORTED_MEDIA_TYPE', 415],
  431: ['HEADERS_TOO_LARGE', 431]
}

/** Routing failures Fastify answers before any hook runs; never echoes the URL. */
const FRAMEWORK_ERRORS: Record<string, [number, ErrorCode, string]> = {
  FST_ERR_BAD_URL: [400, 'INVALID_URL', 'A path segment is not valid percent-encoded UTF-8'],
  FST_ERR_MAX_PARAM_LENGTH: [414, 'URI_TOO_LONG', 'A path segment is longer than any id this API accepts']
}

/**
 * Fastify's `frameworkErrors`: the documented error shape, request id and
 * security headers for what the router refuses before hooks run.
 */
export function frameworkErrorHandler(headers: Record<string, string>) {
  return async (err: FastifyError, request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const [statusCode, code, message] = FRAMEWORK_ERRORS[err.code] ?? [500, 'INTERNAL_ERROR', 'Internal Server Error']
    if (statusCode >= 500) request.log.error({ err }, 'request failed')
    else request.log.info({ code }, 'request rejected')
    await reply
      .code(statusCode)
      .headers({ ...headers, 'x-request-id': request.id })
      .send(body(statusCode, code, message))
  }
}

/** Node's parser errors: a request too broken to reach Fastify at all. */
const CLIENT_ERRORS: Record<string, [number, ErrorCode, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'HEADERS_TOO_LARGE', 'The request headers are too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'REQUEST_TIMEOUT', 'The request took too long to arrive']
}

/** Fastify's `clientErrorHandler`: answers on the raw socket, in the documented shape. */
export function clientErrorHandler(headers: Record<string, string>) {
  return (err: Error & { code?: string }, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable) {
      socket.destroy()
      return
    }
    const [statusCode, code, message] = CLIENT_ERRORS[err.code ?? ''] ?? [
      400,
      'BAD_REQUEST',
      'The request is not valid HTTP'
    ]
    const json = JSON.stringify(body(statusCode, code, message))
    const lines = [
      `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode]}`,
      'content-type: application/json; charset=utf-8',
      `content-length: ${Buffer.byteLength(json)}`,
      'connection: close',
      `x-request-id: ${randomUUID()}`,
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)
    ]
    socket.end(`${lines.join('\r\n')}\r\n\r\n${json}`)
  }
}

export default fp(
  async app => {
    app.setErrorHandler(async (err, request, reply) => {
      // The request's own stream ended early: the client left, or its 408 was sent on the socket. Nothing failed here.
      if (request.raw.destroyed && (err as { code?: string }).code === 'ECONNRESET') {
        request.log.info({ code: 'REQUEST_ABANDONED' }, 'the connection closed before the request arrived')
        return await reply.code(400).send(body(400, 'BAD_REQUEST', 'The request did not arrive'))
      }
      const { body: answer, headers } = toErrorResponse(err)
      if (answer.statusCode >= 500) request.log.error({ err }, 'request failed')
      else request.log.info({ code: answer.code, message: answer.message }, 'request rejected')
      return await reply.code(answer.statusCode).headers(headers).send(answer)
    })

    app.setNotFoundHandler(async (request, reply) => {
      return await reply
        .code(404)
        .send(body(404, 'ROUTE_NOT_FOUND', `Route ${request.method} ${request.url.split('?')[0]} not found`))
    })
  },
  { name: 'errors' }
)
