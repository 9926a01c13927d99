/**
 * Backed-up vault files in S3 (/sync). An upload streams: pieces go up as they
 * are pulled, as one PUT for a small file or a multipart upload for a large one,
 * and the object appears only when the body has ended without error, so a
 * file whose tag or hash fails is never made visible (its multipart upload
 * is aborted, and the bucket's lifecycle rule collects what an engine keeps).
 */
import { Readable } from 'node:stream'
import { DeleteObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'

/**
 * Bytes per part: S3's smallest is 5 MiB. A large file's upload holds two parts in flight, the part being
 * gathered and lib-storage's copy of it as it cuts the part: about 48 MiB live at the peak (npm run bench:sync).
 */
const PART_BYTES = 8 * 1024 * 1024
const PARTS_IN_FLIGHT = 2

export interface FileMetadata {
  /** hex sha256 of the plaintext. */
  sha256: string
  /** The file's modification time, epoch ms. */
  mtime: number
  contentType: string
}

export interface SyncObjectsRepositoryOptions {
  s3: S3Client
  /** The stack's sync bucket; runs may name others that are allowed. */
  bucket: string
  presignTtlSeconds: number
}

export class SyncObjectsRepository {
  private readonly s3: S3Client
  readonly bucket: string
  private readonly presignTtlSeconds: number

  constructor(options: SyncObjectsRepositoryOptions) {
    this.s3 = options.s3
    this.bucket = options.bucket
    this.presignTtlSeconds = options.presignTtlSeconds
  }

  /** Streams `body` to `key`; resolves with the bytes written once the object exists. */
  async upload(bucket: string, key: string, body: AsyncIterable<Buffer>, meta: FileMetadata): Promise<number> {
    let bytes = 0
    const counted = Readable.from(
      (async function* () {
        for await (const chunk of body) {
          bytes += chunk.length
          yield chunk
        }
      })(),
      // Readable.from reads 16 chunks ahead by default: 32 MiB of a big file's 2 MiB pieces waiting on the parts.
      { highWaterMark: 1 }
    )
    // Loaded with the first sync upload, not at every cold start.
    const { Upload } = await import('@aws-sdk/lib-storage')
    const upload = new Upload({
      client: this.s3,
      partSize: PART_BYTES,
      queueSize: PARTS_IN_FLIGHT,
      params: {
        Bucket: bucket,
        Key: key,
        Body: counted,
        ContentType: meta.contentType,
        Metadata: { sha256: meta.sha256, mtime: String(meta.mtime) }
      }
    })
    try {
      await upload.done()
    } finally {
      counted.destroy()
    }
    return bytes
  }

  /** Deletes the object; in a versioned bucket its last version stays recoverable. Missing is fine. */
  async remove(bucket: string, key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))
  }

  async downloadUrl(bucket: string, key: string): Promise<{ url: string; expiresAt: number }> {
    const url = await getSignedUrl(this.s3, new GetObjectCommand({ Bucket: bucket, Key: key }), {
      expiresIn: this.presignTtlSeconds
    })
    return { url, expiresAt: Date.now() + this.presignTtlSeconds * 1000 }
  }
}
