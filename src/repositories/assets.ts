/**
 * File metadata in DynamoDB, bytes in S3 (/assets). The API never carries file
 * bodies: clients send and fetch them with presigned URLs.
 *
 * One item per asset, key `assetId`: fileName (made safe), contentType and
 * size as declared, s3Key `assets/<assetId>/<fileName>`, s3Bucket (the bucket
 * holding it; items written before it was stored read as ASSETS_BUCKET), status, createdAt,
 * `createdKey` for the status index, `ttl` (30 days; reads treat it as gone
 * once past), and for large files the multipart `uploadId`, partSize, partCount.
 *
 * Status moves only from `pending`, each move one conditional update on
 * `status = pending`, so a GET and an S3 notification checking at once agree:
 *   pending -> uploaded   the object exists with the declared size and type
 *   pending -> rejected   it exists but differs; the object is deleted
 * Deployed, S3 itself refuses an upload that does not match the presigned
 * request (size and type are signed); the check is what catches it on engines
 * that don't verify signatures, and a re-upload after the fact.
 */
import { randomUUID } from 'node:crypto'
import type { Static } from '@sinclair/typebox'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient
} from '@aws-sdk/lib-dynamodb'
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
import type { AssetsConfig } from '../config.ts'
import { ConflictError, InvalidInputError, NotFoundError, TooLargeError } from '../errors.ts'
import { isExpired, LIVE_FILTER, LIVE_FILTER_NAMES, nowSeconds, ttlFromMillis } from '../expiry.ts'
import { decodeCursor, encodeCursor, type CursorKey } from '../pagination.ts'
import { ASSET_METADATA_TTL_DAYS, MAX_FILE_NAME } from '../limits.ts'
import type { CreateAssetBody } from '../schemas/assets.ts'
import { buckets } from '../tables.ts'
import { conditional, conditionHolds, createdOrderKey, documentClient } from './dynamo.ts'

export type AssetStatus = 'pending' | 'uploaded' | 'rejected'

export interface Asset {
  assetId: string
  fileName: string
  contentType: string
  size: number
  status: AssetStatus
  s3Key: string
  s3Bucket: string
  createdAt: number
  /** When the metadata expires (epoch ms). */
  expiresAt: number
  etag?: string
  uploadedAt?: number
  rejectedReason?: string
  multipart?: { uploadId: string; partSize: number; partCount: number }
}

export type UploadInstructions =
  | { method: 'PUT'; url: string; headers: Record<string, string>; expiresAt: number }
  | { method: 'MULTIPART'; uploadId: string; partSize: number; partCount: number; expiresAt: number }

interface Item extends Omit<Asset, 'expiresAt' | 'multipart' | 's3Bucket'> {
  /** Absent on items written before the bucket was stored. */
  s3Bucket?: string
  createdKey: string
  ttl: number
  uploadId?: string
  partSize?: number
  partCount?: number
}

const DAY_MS = 24 * 60 * 60 * 1000
const MIN_PART_BYTES = 5 * 1024 * 1024
const MAX_PARTS = 10_000

/**
 * A file name that cannot leave `assets/<assetId>/`: no slashes, backslashes,
 * `..` or control characters, at most 200 characters, never empty; otherwise as sent.
 */
export function safeFileName(name: string): string {
  const cleaned = name
    .normalize('NFC')
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, '') // eslint-disable-line no-control-regex
    .replace(/[/\\]/g, '_')
    .replace(/\.{2,}/g, '.')
    .trim()
    .replace(/^\.+/, '')
  const short = [...cleaned].slice(0, MAX_FILE_NAME).join('')
  return short === '' ? 'file' : short
}

export interface AssetsRepositoryOptions {
  dynamodb: DynamoDBClient
  s3: S3Client
  table: string
  bucket: string
  limits: AssetsConfig
}

export class AssetsRepository {
  private readonly db: DynamoDBDocumentClient
  private readonly s3: S3Client
  private readonly table: string
  readonly bucket: string
  private readonly limits: AssetsConfig

  constructor(options: AssetsRepositoryOptions) {
    this.db = documentClient(options.dynamodb)
    this.s3 = options.s3
    this.table = options.table
    this.bucket = options.bucket
    this.limits = options.limits
  }

  async create(input: Static<typeof CreateAssetBody>): Promise<Asset & { upload: UploadInstructions }> {
    const contentType = input.contentType.trim().toLowerCase()
    if (!this.limits.allowedTypes.includes(contentType)) {
      throw new InvalidInputError(
        'CONTENT_TYPE_NOT_ALLOWED',
        `contentType must be one of ${this.limits.allowedTypes.join(', ')}`
      )
    }
    if (input.size > this.limits.maxBytes) {
      throw new TooLargeError(
        'ASSET_TOO_LARGE',
        `size ${input.size} is over the limit of ${this.limits.maxBytes} bytes`
      )
    }
    const assetId = randomUUID()
    const fileName = safeFileName(input.fileName)
    const s3Key = `${buckets.assets.keyPrefix}${assetId}/${fileName}`
    const createdAt = Date.now()
    const item: Item = {
      assetId,
      fileName,
      contentType,
      size: input.size,
      status: 'pending',
      s3Key,
      s3Bucket: this.bucket,
      createdAt,
      createdKey: createdOrderKey(createdAt, assetId),
      ttl: ttlFromMillis(createdAt + ASSET_METADATA_TTL_DAYS * DAY_MS)
    }
    const expiresAt = this.urlExpiry()
    let upload: UploadInstructions
    // Whatever can fail comes before the write: a record is stored only with its upload ready.
    if (input.size > this.limits.multipartBytes) {
      const partSize = Math.max(MIN_PART_BYTES, Math.ceil(input.size / MAX_PARTS / MIN_PART_BYTES) * MIN_PART_BYTES)
      const { UploadId } = await this.s3.send(
        new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: s3Key, ContentType: contentType })
      )
      const multipart = { uploadId: UploadId!, partSize, partCount: Math.ceil(input.size / partSize) }
      Object.assign(item, multipart)
      upload = { method: 'MULTIPART', ...multipart, expiresAt }
    } else {
      const url = await getSignedUrl(
        this.s3,
        new PutObjectCommand({ Bucket: this.bucket, Key: s3Key, ContentType: contentType, ContentLength: input.size }),
        this.signing
      )
      upload = { method: 'PUT', url, headers: { 'content-type': contentType }, expiresAt }
    }
    await this.db.send(
      new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(assetId)' })
    )
    return { ...toAsset(item, this.bucket), upload }
  }

  /** The asset, checked against its object while pending; undefined when unknown or expired. */
  async get(assetId: string): Promise<Asset | undefined> {
    const item = await this.item(assetId)
    if (item === undefined) return undefined
    return toAsset(item.status === 'pending' ? await this.check(item) : item, this.bucket)
  }

  /** What an S3 ObjectCreated notification for this asset's key triggers: the same check as GET. */
  async objectCreated(assetId: string, key: string): Promise<AssetStatus | undefined> {
    const item = await this.item(assetId)
    if (item === undefined || item.s3Key !== key) return undefined
    if (item.status === 'pending') return (await this.check(item)).status
    // A second upload through a URL still valid: a rejected asset keeps no bytes.
    if (item.status === 'rejected') await this.deleteObject(item.s3Key)
    return item.status
  }

  async downloadUrl(assetId: string): Promise<{ url: string; expiresAt: number }> {
    const asset = await this.get(assetId)
    if (asset === undefined) throw assetNotFound(assetId)
    if (asset.status !== 'uploaded')
      throw new ConflictError('ASSET_NOT_UPLOADED', `Asset ${assetId} is ${asset.status}, not uploaded`)
    const url = await getSignedUrl(
      this.s3,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: asset.s3Key,
        ResponseContentDisposition: `attachment; filename*=UTF-8''${encodeURIComponent(asset.fileName)}`
      }),
      this.signing
    )
    return { url, expiresAt: this.urlExpiry() }
  }

  async partUrls(
    assetId: string,
    partNumbers: number[]
  ): Promise<{ parts: Array<{ partNumber: number; url: string }>; expiresAt: number }> {
    const item = await this.pendingMultipart(assetId)
    checkPartNumbers(partNumbers, item.partCount!)
    const parts = await Promise.all(
      [...new Set(partNumbers)]
        .sort((a, b) => a - b)
        .map(async partNumber => ({
          partNumber,
          url: await getSignedUrl(
            this.s3,
            new UploadPartCommand({
              Bucket: this.bucket,
              Key: item.s3Key,
              UploadId: item.uploadId,
              PartNumber: partNumber
            }),
            this.signing
          )
        }))
    )
    return { parts, expiresAt: this.urlExpiry() }
  }

  async complete(assetId: string, parts: Array<{ partNumber: number; etag: string }>): Promise<Asset> {
    const item = await this.pendingMultipart(assetId)
    const numbers = parts.map(p => p.partNumber)
    checkPartNumbers(numbers, item.partCount!)
    if (new Set(numbers).size !== numbers.length)
      throw new InvalidInputError('INVALID_PART', 'a part number appears twice')
    try {
      await this.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: item.s3Key,
          UploadId: item.uploadId,
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
    return toAsset(await this.check(item), this.bucket)
  }

  /**
   * Deletes the asset's bytes (or its unfinished multipart upload), then its record. An S3 error on the bytes
   * never keeps the record: the object is left to the bucket's lifecycle rule (it expires `assets/` after 30 days)
   * and the error is returned for the log. Otherwise one key S3 (or an emulator) cannot handle would make an
   * asset undeletable.
   */
  async delete(assetId: string): Promise<{ objectError?: unknown }> {
    const item = await this.item(assetId)
    if (item === undefined) throw assetNotFound(assetId)
    let objectError: unknown
    if (item.uploadId !== undefined && item.status === 'pending') {
      try {
        await this.s3.send(
          new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: item.s3Key, UploadId: item.uploadId })
        )
      } catch (err) {
        // Already gone is done; anything else leaves the parts to the lifecycle rule's abort after a day.
        if ((err as { name?: string }).name !== 'NoSuchUpload') objectError = err
      }
    }
    try {
      await this.deleteObject(item.s3Key)
    } catch (err) {
      objectError ??= err
    }
    const deleted = await conditionHolds(
      this.db.send(
        new DeleteCommand({ TableName: this.table, Key: { assetId }, ConditionExpression: 'attribute_exists(assetId)' })
      )
    )
    if (!deleted) throw assetNotFound(assetId)
    return objectError === undefined ? {} : { objectError }
  }

  /** Live assets with one status, newest first, through the status index. */
  async list(status: AssetStatus, limit: number, cursor?: string): Promise<{ assets: Asset[]; cursor: string | null }> {
    const start = decodeCursor(cursor, { assetId: 'string', status: { equals: status }, createdKey: 'string' })
    const assets: Asset[] = []
    let startKey: Record<string, unknown> | undefined = start
    // The filter drops expired items after the limit is applied, so keep reading until the page is full.
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: 'status-index',
          KeyConditionExpression: '#status = :status',
          FilterExpression: LIVE_FILTER,
          ExpressionAttributeNames: { '#status': 'status', ...LIVE_FILTER_NAMES },
          ExpressionAttributeValues: { ':status': status, ':now': nowSeconds() },
          ScanIndexForward: false,
          Limit: limit - assets.length,
          ExclusiveStartKey: startKey
        })
      )
      for (const item of (page.Items ?? []) as Item[]) if (!isExpired(item.ttl)) assets.push(toAsset(item, this.bucket))
      startKey = page.LastEvaluatedKey
    } while (startKey !== undefined && assets.length < limit)
    return { assets, cursor: startKey === undefined ? null : encodeCursor(startKey as CursorKey) }
  }

  private async item(assetId: string): Promise<Item | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: { assetId }, ConsistentRead: true })
    )
    const item = Item as Item | undefined
    return item === undefined || isExpired(item.ttl) ? undefined : item
  }

  private async pendingMultipart(assetId: string): Promise<Item> {
    const item = await this.item(assetId)
    if (item === undefined) throw assetNotFound(assetId)
    if (item.uploadId === undefined)
      throw new ConflictError('NOT_MULTIPART', `Asset ${assetId} is uploaded with one PUT, not in parts`)
    if (item.status !== 'pending')
      throw new ConflictError('ASSET_NOT_PENDING', `Asset ${assetId} is already ${item.status}`)
    return item
  }

  /** Compares the object with the declaration and records the outcome, once. */
  private async check(item: Item): Promise<Item> {
    let head
    try {
      head = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: item.s3Key }))
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } }
      if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return item
      throw err
    }
    const size = head.ContentLength ?? -1
    const type = (head.ContentType ?? '').trim().toLowerCase()
    const matches = size === item.size && type === item.contentType
    const update: Partial<Item> = matches
      ? { status: 'uploaded', etag: head.ETag?.replace(/"/g, ''), uploadedAt: Date.now() }
      : {
          status: 'rejected',
          rejectedReason:
            size !== item.size
              ? `uploaded ${size} bytes, declared ${item.size}`
              : `uploaded as ${type || 'no type'}, declared ${item.contentType}`
        }
    const recorded = await conditional(
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { assetId: item.assetId },
          UpdateExpression: `SET ${Object.keys(update)
            .map(k => `#${k} = :${k}`)
            .join(', ')}`,
          ConditionExpression: '#status = :pending',
          ExpressionAttributeNames: Object.fromEntries(Object.keys(update).map(k => [`#${k}`, k])),
          ExpressionAttributeValues: {
            ...Object.fromEntries(Object.entries(update).map(([k, v]) => [`:${k}`, v])),
            ':pending': 'pending'
          },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD'
        })
      )
    )
    if (!recorded.held) {
      // Another check (a GET or the S3 notification) recorded it first.
      return (recorded.current as Item | undefined) ?? (await this.item(item.assetId)) ?? item
    }
    if (!matches) await this.deleteObject(item.s3Key)
    return recorded.result.Attributes as Item
  }

  private async deleteObject(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }))
  }

  /** Content-Type and Content-Length are signed, so S3 refuses an upload that differs from the declaration. */
  private get signing(): { expiresIn: number; signableHeaders: Set<string> } {
    return { expiresIn: this.limits.presignTtlSeconds, signableHeaders: new Set(['content-type', 'content-length']) }
  }

  private urlExpiry(): number {
    return Date.now() + this.limits.presignTtlSeconds * 1000
  }
}

function checkPartNumbers(partNumbers: number[], partCount: number): void {
  const outside = partNumbers.find(n => n > partCount)
  if (outside !== undefined)
    throw new InvalidInputError('INVALID_PART', `part ${outside} is past the last part, ${partCount}`)
}

/** Written to an asset that does not exist (or expired); reads answer undefined instead. */
export const assetNotFound = (assetId: string): NotFoundError =>
  new NotFoundError('ASSET_NOT_FOUND', `Asset ${assetId} not found`)

/** `bucket`: the repository's, for items written before s3Bucket was stored (no asset lived elsewhere then). */
function toAsset(item: Item, bucket: string): Asset {
  const {
    assetId,
    fileName,
    contentType,
    size,
    status,
    s3Key,
    s3Bucket,
    createdAt,
    etag,
    uploadedAt,
    rejectedReason,
    uploadId,
    partSize,
    partCount
  } = item
  return {
    assetId,
    fileName,
    contentType,
    size,
    status,
    s3Key,
    s3Bucket: s3Bucket ?? bucket,
    createdAt,
    expiresAt: item.ttl * 1000,
    etag,
    uploadedAt,
    rejectedReason,
    multipart: uploadId === undefined ? undefined : { uploadId, partSize: partSize!, partCount: partCount! }
  }
}
