/**
 * An asset's bytes in S3 (/assets): the presigned URLs clients send and fetch
 * them with, multipart uploads, and what the object turned out to be. The API
 * never carries file bodies.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import type { AssetsConfig } from '../../config/config.ts'
import { ConflictError, InvalidInputError } from '../../core/errors.ts'
import { S3_MAX_PARTS, S3_MIN_PART_BYTES } from '../../core/limits.ts'
import type { MultipartPlan, UploadInstructions } from './items.ts'

/** What S3 holds at a key, as the declaration is checked against it. */
export interface StoredObject {
  size: number
  /** Trimmed and lower-cased; empty when S3 has none. */
  contentType: string
  etag?: string
}

export interface AssetObjectsOptions {
  s3: S3Client
  bucket: string
  limits: AssetsConfig
}

export class AssetObjects {
  constructor(private readonly options: AssetObjectsOptions) {}

  /** How the client uploads `size` bytes to `key`: one presigned PUT, or a multipart upload opened here. */
  async prepareUpload(
    key: string,
    contentType: string,
    size: number
  ): Promise<{ upload: UploadInstructions; multipart?: MultipartPlan }> {
    const expiresAt = this.urlExpiry()
    if (size > this.options.limits.multipartBytes) {
      const partSize = Math.max(
        S3_MIN_PART_BYTES,
        Math.ceil(size / S3_MAX_PARTS / S3_MIN_PART_BYTES) * S3_MIN_PART_BYTES
      )
      const { UploadId } = await this.options.s3.send(
        new CreateMultipartUploadCommand({ Bucket: this.options.bucket, Key: key, ContentType: contentType })
      )
      const multipart = { uploadId: UploadId!, partSize, partCount: Math.ceil(size / partSize) }
      return { upload: { method: 'MULTIPART', ...multipart, expiresAt }, multipart }
    }
    const url = await getSignedUrl(
      this.options.s3,
      new PutObjectCommand({ Bucket: this.options.bucket, Key: key, ContentType: contentType, ContentLength: size }),
      this.signing
    )
    return { upload: { method: 'PUT', url, headers: { 'content-type': contentType }, expiresAt } }
  }

  async downloadUrl(key: string, fileName: string): Promise<{ url: string; expiresAt: number }> {
    const url = await getSignedUrl(
      this.options.s3,
      new GetObjectCommand({
        Bucket: this.options.bucket,
        Key: key,
        ResponseContentDisposition: `attachment; filename*=UTF-8''${encodeURIComponent(fileName)}`
      }),
      this.signing
    )
    return { url, expiresAt: this.urlExpiry() }
  }

  /** One presigned URL per part number (each once, in order). */
  async partUrls(
    key: string,
    uploadId: string,
    partNumbers: number[]
  ): Promise<{ parts: Array<{ partNumber: number; url: string }>; expiresAt: number }> {
    const parts = await Promise.all(
      [...new Set(partNumbers)]
        .sort((a, b) => a - b)
        .map(async partNumber => ({
          partNumber,
          url: await getSignedUrl(
            this.options.s3,
            new UploadPartCommand({
              Bucket: this.options.bucket,
              Key: key,
              UploadId: uploadId,
              PartNumber: partNumber
            }),
            this.signing
          )
        }))
    )
    return { parts, expiresAt: this.urlExpiry() }
  }

  /** Joins the parts; S3's refusals of them are 400, an upload no longer open 409. */
  async completeUpload(
    assetId: string,
    key: string,
    uploadId: string,
    parts: Array<{ partNumber: number; etag: string }>
  ): Promise<void> {
    try {
      await this.options.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.options.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: {
            Parts: [...parts]
              .sort((a, b) => a.partNumber - b.partNumber)
              .map(p => ({ PartNumber: p.partNumber, ETag: p.etag.startsWith('"') ? p.etag : `"${p.etag}"` }))
          }
        })
      )
    } catch (err) {
      const name = (err as { name?: string }).name ?? ''
      if (['InvalidPart', 'InvalidPartOrder', 'EntityTooSmall', 'MalformedXML'].includes(name)) {
        throw new InvalidInputError('INVALID_PARTS', `S3 refused the parts: ${name}`, { cause: err })
      }
      if (name === 'NoSuchUpload')
        throw new ConflictError('UPLOAD_GONE', `The multipart upload of asset ${assetId} is no longer open`, {
          cause: err
        })
      throw err
    }
  }

  /** The object at `key`, or undefined when there is none yet. */
  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const head = await this.options.s3.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: key }))
      return {
        size: head.ContentLength ?? -1,
        contentType: (head.ContentType ?? '').trim().toLowerCase(),
        etag: head.ETag?.replace(/"/g, '')
      }
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } }
      if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return undefined
      throw err
    }
  }

  async delete(key: string): Promise<void> {
    await this.options.s3.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: key }))
  }

  /**
   * Deletes the bytes at `key` and, when given, the unfinished multipart upload. Never throws: the first S3
   * error is returned for the log, and what it left is the bucket's lifecycle rule's (it expires `assets/`
   * after 30 days and aborts uploads after a day).
   */
  async deleteAll(key: string, openUploadId?: string): Promise<unknown> {
    let error: unknown
    if (openUploadId !== undefined) {
      try {
        await this.options.s3.send(
          new AbortMultipartUploadCommand({ Bucket: this.options.bucket, Key: key, UploadId: openUploadId })
        )
      } catch (err) {
        // Already gone is done.
        if ((err as { name?: string }).name !== 'NoSuchUpload') error = err
      }
    }
    try {
      await this.delete(key)
    } catch (err) {
      error ??= err
    }
    return error
  }

  /** Content-Type and Content-Length are signed, so S3 refuses an upload that differs from the declaration. */
  private get signing(): { expiresIn: number; signableHeaders: Set<string> } {
    return {
      expiresIn: this.options.limits.presignTtlSeconds,
      signableHeaders: new Set(['content-type', 'content-length'])
    }
  }

  private urlExpiry(): number {
    return Date.now() + this.options.limits.presignTtlSeconds * 1000
  }
}
