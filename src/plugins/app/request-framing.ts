import { Transform, type Readable, type TransformCallback } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { HttpError } from '../../http/http-error.ts'

/**
 * A body over its route's limit is still read, and thrown away, up to this
 * many bytes, so that a client still sending it (a browser, Node's `fetch`)
 * can read the 413 instead of a broken pipe. Past this the connection is
 * closed once the 413 is written: reading more would only cost us bandwidth.
 */
export const DISCARD_LIMIT_BYTES = 16 * 1024 * 1024

export const BODY_TOO_LARGE_MESSAGE = 'Request body is larger than this route accepts'

const tooLarge = (): HttpError => new HttpError(413, 'BODY_TOO_LARGE', BODY_TOO_LARGE_MESSAGE)
const tooLargeAndClose = (): HttpError =>
  new HttpError(413, 'BODY_TOO_LARGE', BODY_TOO_LARGE_MESSAGE, { connection: 'close' })

/**
 * A chunked body (no Content-Length): passes on at most `limit` bytes, reads
 * and discards the rest up to DISCARD_LIMIT_BYTES, then fails with 413.
 * Fastify then never counts past its limit itself (which answers at once and
 * closes the connection under a client still sending).
 */
class BodyLimit extends Transform {
  private received = 0

  constructor(private readonly limit: number) {
    super()
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const before = this.received
    this.received += chunk.length
    if (this.received > DISCARD_LIMIT_BYTES) callback(tooLargeAndClose())
    else if (this.received <= this.limit) callback(null, chunk)
    else callback(null, before < this.limit ? chunk.subarray(0, this.limit - before) : undefined)
  }

  override _flush(callback: TransformCallback): void {
    callback(this.received > this.limit ? tooLarge() : null)
  }
}

/** Reads a body to its end without keeping it, then answers 413. */
function discard(payload: Readable, done: (err: Error) => void): void {
  payload.on('data', () => {})
  payload.once('end', () => done(tooLarge()))
  payload.once('error', () => done(tooLargeAndClose()))
}

const hasBody = (request: FastifyRequest): boolean =>
  request.headers['content-length'] !== undefined || request.headers['transfer-encoding'] !== undefined

/**
 * How a request is framed, judged in the documented error shape before any
 * route sees it: HTTP/1.1 needs a Host header (Node's own 400 for one without
 * has no body, so the server leaves that check to us); a body over its
 * route's limit gets a 413 its sender can read; and a body must be sent
 * without a Content-Encoding, as no other is decoded (read as JSON, gzip bytes
 * would be garbage, or worse, plain JSON sent with a false header would pass).
 */
export default fp(
  async app => {
    app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done) => {
      if (request.headers.host === undefined && request.raw.httpVersion === '1.1') {
        // Closed after, as Node does: whatever else this client sends on the connection is no better framed.
        done(new HttpError(400, 'BAD_REQUEST', 'An HTTP/1.1 request must carry a Host header', { connection: 'close' }))
        return
      }
      done()
    })

    app.addHook('preParsing', (request: FastifyRequest, _reply: FastifyReply, payload: Readable, done) => {
      if (!hasBody(request)) {
        done(null, payload)
        return
      }
      const encoding = request.headers['content-encoding']
      if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
        done(
          new HttpError(
            415,
            'UNSUPPORTED_CONTENT_ENCODING',
            'Bodies are read as sent: send them without a Content-Encoding'
          ),
          payload
        )
        return
      }
      const limit = request.routeOptions.bodyLimit
      const declared = request.headers['content-length']
      if (declared === undefined) {
        done(null, payload.pipe(new BodyLimit(limit)))
        return
      }
      const length = Number(declared)
      if (!(length > limit)) done(null, payload)
      else if (length > DISCARD_LIMIT_BYTES) done(tooLargeAndClose(), payload)
      else discard(payload, err => done(err, payload))
    })
  },
  { name: 'request-framing', dependencies: ['errors', 'security-headers'] }
)
