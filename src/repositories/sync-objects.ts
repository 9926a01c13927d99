/**
 * Backed-up vault files in S3 (/sync). A file up to one part's size is
 * gathered and sent with one PUT once its body has ended; a larger one
 * streams, parts going up as they are pulled, as a multipart upload. Either
 * way the object appears only when the body has ended without error, so a
 * file whose tag or hash fails is never made visible (its multipart upload
 * is aborted, and the bucket's lifecycle rule collects what an engine keeps).
 */
import { uploadBody } from '../aws/upload-body.ts'
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'

/**
 * Bytes per part, S3's smallest: a large file's upload holds two parts in flight, the part being gathered and
 * lib-storage's copy of it as it cuts the part, about 20 MiB; a small file, gathered whole, at most twice this.
 * A 1 GiB file is 205 parts, far from S3's 10,000.
 */
const PART_BYTES = 5 * 1024 * 1024
const PARTS_IN_FLIGHT = 2

export interface FileMetadata {
  /** hex sha256 of the plaintext. */
  sha256: string
  /** The file's modification time, epoch ms. */
  mtime: number
  /** When this sync wrote it, epoch ms: the object's `sync-time` (ISO-8601). */
  syncedAt: number
  contentType: string
}

/** What an upload made: its plaintext bytes, and its version when the bucket keeps versions. */
export interface Written {
  bytes: number
  versionId?: string
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

  /**
   * Writes `body` to `key`; resolves with the bytes written and the version made once the object exists.
   * `expectedBytes` (what the service says the file is) picks the way: one PUT up to a part's size, most files,
   * with a fraction of what a multipart upload allocates; a stream of parts above.
   */
  async upload(
    bucket: string,
    key: string,
    body: AsyncIterable<Buffer>,
    meta: FileMetadata,
    expectedBytes: number
  ): Promise<Written> {
    const params = {
      Bucket: bucket,
      Key: key,
      ContentType: meta.contentType,
      Metadata: { sha256: meta.sha256, mtime: String(meta.mtime), 'sync-time': new Date(meta.syncedAt).toISOString() }
    }
    if (expectedBytes <= PART_BYTES) {
      const chunks: Buffer[] = []
      for await (const chunk of body) chunks.push(chunk)
      // Most files arrive in one piece: that piece is the body, not a copy of it.
      const whole = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
      const put = await this.s3.send(new PutObjectCommand({ ...params, Body: whole, ContentLength: whole.length }))
      return { bytes: whole.length, versionId: put.VersionId }
    }
    let bytes = 0
    const { body: counted, sourceError } = uploadBody(
      (async function* () {
        for await (const chunk of body) {
          bytes += chunk.length
          yield chunk
        }
      })()
    )
    // Loaded with the first sync upload, not at every cold start.
    const { Upload } = await import('@aws-sdk/lib-storage')
    const upload = new Upload({
      client: this.s3,
      partSize: PART_BYTES,
      queueSize: PARTS_IN_FLIGHT,
      params: { ...params, Body: counted }
    })
    let versionId: string | undefined
    try {
      versionId = (await upload.done()).VersionId
    } catch (err) {
      // The body's own failure (a tag or hash that does not check out), not how the upload then ended.
      throw sourceError() ?? err
    } finally {
      counted.destroy()
    }
    return { bytes, versionId }
  }

  /** Deletes the object; in a versioned bucket its last version stays recoverable. Missing is fine. */
  async remove(bucket: string, key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))
  }

  /**
   * True when the object is there with this plaintext hash and size, by its metadata (a HEAD: no bytes move).
   * False when it is missing, or was overwritten by anything but a sync of the same content. An object written
   * for a file the service announced without a hash carries an empty `sha256` (it is known only once the bytes
   * have gone by): there only the size can be checked.
   */
  async holds(bucket: string, key: string, sha256: string, size: number): Promise<boolean> {
    try {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
      const stored = head.Metadata?.sha256
      return (stored === sha256 || stored === '') && head.ContentLength === size
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } }
      if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return false
      throw err
    }
  }

  /**
   * A presigned GET (of one version, when named) that serves the file as a download (`Content-Disposition:
   * attachment`), as /assets does: a vault's SVG or HTML never runs inline on the bucket's origin.
   */
  async downloadUrl(bucket: string, key: string, versionId?: string): Promise<{ url: string; expiresAt: number }> {
    const name = key.slice(key.lastIndexOf('/') + 1)
    const command = new GetObjectCommand({
      Bucket: bucket,
      Key: key,
      VersionId: versionId,
      ResponseContentDisposition: `attachment; filename*=UTF-8''${encodeURIComponent(name)}`
    })
    const url = await getSignedUrl(this.s3, command, { expiresIn: this.presignTtlSeconds })
    return { url, expiresAt: Date.now() + this.presignTtlSeconds * 1000 }
  }
}
