import type { IncomingMessage } from 'node:http'
import { S3Error } from './errors.ts'

/**
 * The bytes of a request body. The SDK sends a streamed body with a checksum
 * as `aws-chunked` (`<hex size>[;chunk-signature=…]\r\n<bytes>\r\n`, …, a
 * zero-size chunk, trailers); S3 stores what is inside the framing.
 */
export function requestBody(req: IncomingMessage): AsyncIterable<Buffer> {
  const encoding = String(req.headers['content-encoding'] ?? '')
  const sha = String(req.headers['x-amz-content-sha256'] ?? '')
  const chunked = encoding.split(',').some(e => e.trim() === 'aws-chunked') || sha.startsWith('STREAMING-')
  return chunked ? decodeAwsChunked(req) : req
}

async function* decodeAwsChunked(body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let pending: Buffer = Buffer.alloc(0)
  /** Bytes of the current chunk still to come, or -1 while a chunk header is awaited. */
  let remaining = -1
  let afterData = false
  let ended = false
  for await (const piece of body) {
    // Past the last chunk come only trailers (checksums), not content.
    if (ended) continue
    pending = pending.length === 0 ? piece : Buffer.concat([pending, piece])
    for (;;) {
      if (afterData) {
        if (pending.length < 2) break
        pending = pending.subarray(2)
        afterData = false
      }
      if (remaining < 0) {
        const end = pending.indexOf('\r\n')
        if (end < 0) {
          if (pending.length > 4096) throw invalidChunk()
          break
        }
        const size = parseInt(pending.subarray(0, end).toString('latin1').split(';')[0]!, 16)
        if (!Number.isInteger(size) || size < 0) throw invalidChunk()
        pending = pending.subarray(end + 2)
        if (size === 0) {
          ended = true
          break
        }
        remaining = size
      }
      if (pending.length === 0) break
      const take = Math.min(remaining, pending.length)
      yield pending.subarray(0, take)
      pending = pending.subarray(take)
      remaining -= take
      if (remaining > 0) break
      remaining = -1
      afterData = true
    }
  }
  if (!ended) throw invalidChunk()
}

const invalidChunk = (): S3Error =>
  new S3Error('IncompleteBody', 'The request body is not valid aws-chunked data.', 400)
