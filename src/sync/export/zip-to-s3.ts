/**
 * A zip streamed into S3: the entries go through the zip writer into a multipart upload (one PutObject when
 * the whole zip fits in one part), so what is held is at most PARTS_IN_FLIGHT parts being sent plus the one
 * being filled, whatever the vault's size.
 */
import type { S3Client } from '@aws-sdk/client-s3'
import { uploadBody } from '../../aws/upload-body.ts'
import type { Zip64Limits } from './zip-records.ts'
import { zipChunks, type ZipEntry, type ZipStats } from './zip-stream.ts'

/** S3's smallest part but the last; a part is what the upload holds while it sends it. */
export const ZIP_PART_BYTES = 8 * 1024 * 1024
/** Parts sent at once: the memory bound is (this + 1) × the part size. */
export const ZIP_PARTS_IN_FLIGHT = 2

export interface WriteZipOptions {
  s3: S3Client
  bucket: string
  key: string
  entries: AsyncIterable<ZipEntry> | Iterable<ZipEntry>
  /** Aborting it stops the writing and aborts the multipart upload. */
  signal?: AbortSignal
  /** Defaults to ZIP_PART_BYTES (at least 5 MiB, S3's minimum). */
  partBytes?: number
  /** Defaults to ZIP_PARTS_IN_FLIGHT. */
  partsInFlight?: number
  /** Where ZIP64 starts (tests lower it). */
  zip64Limits?: Zip64Limits
  /** Filled as the zip is written (an export's progress); the same counts are returned at the end. */
  stats?: ZipStats
}

/**
 * Writes the zip of `entries` at `bucket`/`key` and returns how many files it holds and its size. On any failure
 * (a file that cannot be read, S3 refusing, `signal` aborted) the multipart upload is aborted, so no part of it
 * stays behind, and the error is thrown.
 */
export async function writeZipToS3(options: WriteZipOptions): Promise<ZipStats> {
  const { s3, bucket, key, entries, signal } = options
  signal?.throwIfAborted()
  const stats: ZipStats = options.stats ?? { files_count: 0, bytes: 0 }
  const { body, sourceError } = uploadBody(zipChunks(entries, stats, { limits: options.zip64Limits, signal }))
  // Loaded with the first export, not at every cold start.
  const { Upload } = await import('@aws-sdk/lib-storage')
  const upload = new Upload({
    client: s3,
    partSize: options.partBytes ?? ZIP_PART_BYTES,
    queueSize: options.partsInFlight ?? ZIP_PARTS_IN_FLIGHT,
    leavePartsOnError: false,
    params: { Bucket: bucket, Key: key, Body: body, ContentType: 'application/zip' }
  })
  // Failing the body, not upload.abort(): the upload then aborts the multipart upload before done() rejects
  // (upload.abort() rejects done() at once and leaves the abort to happen later, in the background).
  const onAbort = (): void => void body.destroy(signal?.reason as Error)
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    await upload.done()
  } catch (err) {
    // The zip's own failure (a file that could not be read, the abort) is the one to report, not how the upload
    // then ended.
    throw signal?.aborted ? signal.reason : (sourceError() ?? err)
  } finally {
    signal?.removeEventListener('abort', onAbort)
    body.destroy()
  }
  return stats
}
