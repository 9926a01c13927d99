/**
 * File metadata in DynamoDB, bytes in S3 (/assets). How an asset is stored:
 * `items.ts`; its bytes and presigned URLs: `objects.ts`.
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
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb'
import type { S3Client } from '@aws-sdk/client-s3'
import type { AssetsConfig } from '../../config/config.ts'
import { ConflictError, InvalidInputError, NotFoundError, TooLargeError } from '../../core/errors.ts'
import { isExpired, LIVE_FILTER, LIVE_FILTER_NAMES, nowSeconds, ttlFromMillis } from '../../core/expiry.ts'
import { decodeCursor, encodeCursor, type CursorKey } from '../../http/pagination.ts'
import { ASSET_METADATA_TTL_DAYS } from '../../core/limits.ts'
import type { CreateAssetBody } from '../../schemas/assets.ts'
import { buckets } from '../../core/tables.ts'
import { AssetObjects } from './objects.ts'
import {
  safeFileName,
  toAsset,
  type Asset,
  type AssetItem,
  type AssetStatus,
  type UploadInstructions
} from './items.ts'
import { conditional, conditionHolds, createdOrderKey, documentClient, type DynamoDBDocumentClient } from '../dynamo.ts'

export type { Asset, AssetStatus, UploadInstructions } from './items.ts'

const DAY_MS = 24 * 60 * 60 * 1000

export interface AssetsRepositoryOptions {
  dynamodb: DynamoDBClient
  s3: S3Client
  table: string
  bucket: string
  limits: AssetsConfig
}

export class AssetsRepository {
  private readonly db: DynamoDBDocumentClient
  private readonly objects: AssetObjects
  private readonly table: string
  readonly bucket: string
  private readonly limits: AssetsConfig

  constructor(options: AssetsRepositoryOptions) {
    this.db = documentClient(options.dynamodb)
    this.objects = new AssetObjects(options)
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
    const item: AssetItem = {
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
    // Whatever can fail comes before the write: a record is stored only with its upload ready.
    const { upload, multipart } = await this.objects.prepareUpload(s3Key, contentType, input.size)
    if (multipart !== undefined) Object.assign(item, multipart)
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
    if (item.status === 'rejected') await this.objects.delete(item.s3Key)
    return item.status
  }

  async downloadUrl(assetId: string): Promise<{ url: string; expiresAt: number }> {
    const asset = await this.get(assetId)
    if (asset === undefined) throw assetNotFound(assetId)
    if (asset.status !== 'uploaded')
      throw new ConflictError('ASSET_NOT_UPLOADED', `Asset ${assetId} is ${asset.status}, not uploaded`)
    return await this.objects.downloadUrl(asset.s3Key, asset.fileName)
  }

  async partUrls(
    assetId: string,
    partNumbers: number[]
  ): Promise<{ parts: Array<{ partNumber: number; url: string }>; expiresAt: number }> {
    const item = await this.pendingMultipart(assetId)
    checkPartNumbers(partNumbers, item.partCount!)
    return await this.objects.partUrls(item.s3Key, item.uploadId!, partNumbers)
  }

  async complete(assetId: string, parts: Array<{ partNumber: number; etag: string }>): Promise<Asset> {
    const item = await this.pendingMultipart(assetId)
    const numbers = parts.map(p => p.partNumber)
    checkPartNumbers(numbers, item.partCount!)
    if (new Set(numbers).size !== numbers.length)
      throw new InvalidInputError('INVALID_PART', 'a part number appears twice')
    await this.objects.completeUpload(assetId, item.s3Key, item.uploadId!, parts)
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
    const objectError = await this.objects.deleteAll(item.s3Key, item.status === 'pending' ? item.uploadId : undefined)
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
      for (const item of (page.Items ?? []) as AssetItem[])
        if (!isExpired(item.ttl)) assets.push(toAsset(item, this.bucket))
      startKey = page.LastEvaluatedKey
    } while (startKey !== undefined && assets.length < limit)
    return { assets, cursor: startKey === undefined ? null : encodeCursor(startKey as CursorKey) }
  }

  private async item(assetId: string): Promise<AssetItem | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: { assetId }, ConsistentRead: true })
    )
    const item = Item as AssetItem | undefined
    return item === undefined || isExpired(item.ttl) ? undefined : item
  }

  private async pendingMultipart(assetId: string): Promise<AssetItem> {
    const item = await this.item(assetId)
    if (item === undefined) throw assetNotFound(assetId)
    if (item.uploadId === undefined)
      throw new ConflictError('NOT_MULTIPART', `Asset ${assetId} is uploaded with one PUT, not in parts`)
    if (item.status !== 'pending')
      throw new ConflictError('ASSET_NOT_PENDING', `Asset ${assetId} is already ${item.status}`)
    return item
  }

  /** Compares the object with the declaration and records the outcome, once. */
  private async check(item: AssetItem): Promise<AssetItem> {
    const stored = await this.objects.head(item.s3Key)
    if (stored === undefined) return item
    const { size, contentType: type } = stored
    const matches = size === item.size && type === item.contentType
    const update: Partial<AssetItem> = matches
      ? { status: 'uploaded', etag: stored.etag, uploadedAt: Date.now() }
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
      return (recorded.current as AssetItem | undefined) ?? (await this.item(item.assetId)) ?? item
    }
    if (!matches) await this.objects.delete(item.s3Key)
    return recorded.result.Attributes as AssetItem
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
