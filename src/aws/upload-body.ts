import { Readable } from 'node:stream'

/**
 * An upload's body for lib-storage's Upload, made of `source`: read one chunk ahead (Readable.from reads 16 by
 * default, which for big chunks is a lot of memory waiting on the parts), and remembering the source's own
 * failure, which is the one to report rather than how the upload then ended (aborting the multipart upload, or
 * an engine that cannot).
 */
export function uploadBody(source: AsyncIterable<Buffer>): { body: Readable; sourceError: () => unknown } {
  let error: unknown
  const body = Readable.from(
    (async function* () {
      try {
        yield* source
      } catch (err) {
        error = err
        throw err
      }
    })(),
    { highWaterMark: 1 }
  )
  return { body, sourceError: () => error }
}
