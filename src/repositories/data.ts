/**
 * Versioned, client-side-encrypted datasets (/data).
 *
 * Items, all under the dataset's `keyId`:
 *   HEAD                     the current version: version, generation, updatedAt,
 *                            meta, and the payload inline or, when large,
 *                            `payloadKey` in S3.
 *   V#<generation>#<version> a copy of an earlier version, same fields, for the
 *                            last ten.
 *
 * Protocol, single-item conditional writes only:
 *   1. Read HEAD (consistent). Missing: 404. If-Match not satisfied: 412.
 *   2. Copy what was read into its V# item. The content of a version never
 *      changes, so every writer that copies it writes the same item.
 *   3. Replace HEAD with version + 1, on condition that HEAD still holds the
 *      version and generation read in 1. That write is the only point where a
 *      version is decided: of many writers that read version N, one wins; the
 *      others go back to 1 (and with an If-Match that no longer holds, get 412).
 *   4. Best effort: delete the copy of version - 9 (and its S3 object), which has left
 *      the window. Reads never show a version outside the window, so a missed
 *      prune is invisible and DELETE clears it.
 *
 * A payload in S3 is written tagged `atlas-payload=uncommitted` and the tag is
 * cleared once the DynamoDB write that references it has landed (one more call,
 * large payloads only). The bucket's lifecycle rule expires objects still tagged
 * after a day, so a writer that dies between the two leaves nothing for good,
 * and nothing has to scan for it. A writer that dies after the DynamoDB write
 * but before the untag leaves a referenced object tagged: every read of a
 * payload whose object still carries a tag clears it.
 *
 * `generation` is a fresh id per create and part of every copy's key: after a
 * delete and a create of the same keyId, a slow writer of the old generation
 * can only land its copy under the old generation's keys, which nothing reads.
 */
import { randomUUID } from 'node:crypto'
import type { Static } from '@sinclair/typebox'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import {
  DeleteObjectCommand,
  DeleteObjectTaggingCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client
} from '@aws-sdk/client-s3'
import { type VersionCondition, versionAllowed } from '../http/etag.ts'
import {
  ConflictError,
  ContentionError,
  NotFoundError,
  PreconditionFailedError,
  TooLargeError
} from '../core/errors.ts'
import { HISTORY_DEPTH, MAX_PAYLOAD_BYTES, MAX_VERSION } from '../core/limits.ts'
import type { DatasetMeta as DatasetMetaSchema, UpdateDatasetBody } from '../schemas/data.ts'
import { buckets } from '../core/tables.ts'
import { batchWriteAll, conditional, conditionHolds, documentClient, queryAll } from './dynamo.ts'
import { backoff, DYNAMODB_BACKOFF } from '../core/retry.ts'

export type DatasetMeta = Static<typeof DatasetMetaSchema>
export type DatasetInput = Static<typeof UpdateDatasetBody>

export interface VersionStamp {
  keyId: string
  version: number
  updatedAt: string
}

export interface Dataset extends VersionStamp, DatasetInput {}

/** A stored version whose payload may still sit in S3; see `payloadOf`. */
export interface StoredVersion extends VersionStamp {
  meta: DatasetMeta
  generation: string
  payload?: string
  payloadKey?: string
}

interface Item extends StoredVersion {
  sk: string
}

/** Above this a payload goes to S3: a DynamoDB item holds 400 KB at most, meta and names included. */
export const INLINE_PAYLOAD_BYTES = 300 * 1024
/** On a payload object until the item that references it is written; template.yaml expires objects carrying it. */
export const UNCOMMITTED_TAG = { Key: 'atlas-payload', Value: 'uncommitted' } as const
const MAX_WRITE_ATTEMPTS = 60
const HEAD = 'HEAD'

const versionKey = (generation: string, version: number): string =>
  `V#${generation}#${String(version).padStart(String(MAX_VERSION).length, '0')}`

export interface DataRepositoryOptions {
  dynamodb: DynamoDBClient
  s3: S3Client
  table: string
  bucket: string
  /** Overridable so tests can move payloads to S3 without sending megabytes. */
  inlinePayloadBytes?: number
}

export class DataRepository {
  private readonly db: DynamoDBDocumentClient
  private readonly s3: S3Client
  private readonly table: string
  private readonly bucket: string
  private readonly inlinePayloadBytes: number

  constructor(options: DataRepositoryOptions) {
    this.db = documentClient(options.dynamodb)
    this.s3 = options.s3
    this.table = options.table
    this.bucket = options.bucket
    this.inlinePayloadBytes = options.inlinePayloadBytes ?? INLINE_PAYLOAD_BYTES
  }

  async create(input: DatasetInput, keyId: string = randomUUID()): Promise<VersionStamp> {
    const generation = randomUUID()
    const updatedAt = new Date().toISOString()
    const stored = await this.storePayload(keyId, generation, input.payload)
    const item: Item = { keyId, sk: HEAD, version: 1, generation, updatedAt, meta: input.meta, ...stored }
    let created = false
    try {
      created = await conditionHolds(
        this.db.send(
          new PutCommand({
            TableName: this.table,
            Item: item,
            ConditionExpression: 'attribute_not_exists(keyId)'
          })
        )
      )
    } finally {
      if (!created) await this.discardPayload(stored.payloadKey)
    }
    if (!created) throw new ConflictError('DATASET_EXISTS', `Dataset ${keyId} already exists`)
    await this.commitPayload(stored.payloadKey)
    return { keyId, version: 1, updatedAt }
  }

  /** The current version, or undefined. Its payload may be in S3: resolve it with `payloadOf`. */
  async latest(keyId: string): Promise<StoredVersion | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: { keyId, sk: HEAD },
        ConsistentRead: true
      })
    )
    return Item === undefined ? undefined : toStored(Item as Item)
  }

  async payloadOf(stored: StoredVersion): Promise<string> {
    if (stored.payload !== undefined) return stored.payload
    const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: stored.payloadKey }))
    // Referenced by an item, yet still marked for expiry: its writer died before clearing the tag.
    if ((object.TagCount ?? 0) > 0) await this.commitPayload(stored.payloadKey).catch(() => {})
    return await object.Body!.transformToString('utf-8')
  }

  async get(keyId: string): Promise<Dataset | undefined> {
    const stored = await this.latest(keyId)
    return stored === undefined ? undefined : await this.withPayload(stored)
  }

  /**
   * Writes a new version. Without a condition the last writer wins, as the
   * docs/data.md says; with one, the check and the write are one conditional put.
   */
  async update(keyId: string, input: DatasetInput, ifMatch?: VersionCondition): Promise<VersionStamp> {
    let stored: Pick<StoredVersion, 'payload' | 'payloadKey'> | undefined
    let generation: string | undefined
    try {
      for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
        const head = await this.latest(keyId)
        if (head === undefined) throw datasetNotFound(keyId)
        if (!versionAllowed(ifMatch, head.version)) {
          throw new PreconditionFailedError(
            'VERSION_MISMATCH',
            `Dataset ${keyId} is at version ${head.version}, not the version in If-Match`
          )
        }
        if (stored === undefined || generation !== head.generation) {
          await this.discardPayload(stored?.payloadKey)
          generation = head.generation
          stored = await this.storePayload(keyId, generation, input.payload)
        }
        await this.db.send(
          new PutCommand({
            TableName: this.table,
            Item: { ...head, sk: versionKey(head.generation, head.version) } satisfies Item
          })
        )
        const version = head.version + 1
        const updatedAt = new Date().toISOString()
        const landed = await conditionHolds(
          this.db.send(
            new PutCommand({
              TableName: this.table,
              Item: { keyId, sk: HEAD, version, generation, updatedAt, meta: input.meta, ...stored } satisfies Item,
              ConditionExpression: 'version = :read AND generation = :generation',
              ExpressionAttributeValues: { ':read': head.version, ':generation': head.generation }
            })
          )
        )
        if (!landed) {
          // Another writer took this version: read again and retry; the losers spread out.
          await backoff(attempt + 1, { ...DYNAMODB_BACKOFF, capMs: 50 })
          continue
        }
        const committed = stored
        stored = undefined
        await this.commitPayload(committed.payloadKey)
        await this.prune(keyId, generation, version - HISTORY_DEPTH)
        return { keyId, version, updatedAt }
      }
      throw new ContentionError(
        'WRITE_CONTENTION',
        `Dataset ${keyId} is being written too often to take this write; retry`
      )
    } finally {
      // Still set only when this write did not land: its S3 object is nobody's.
      await this.discardPayload(stored?.payloadKey)
    }
  }

  async delete(keyId: string): Promise<void> {
    const deleted = await conditional(
      this.db.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { keyId, sk: HEAD },
          ConditionExpression: 'attribute_exists(keyId)',
          ReturnValues: 'ALL_OLD'
        })
      )
    )
    if (!deleted.held) throw datasetNotFound(keyId)
    const head = deleted.result.Attributes as Item
    // The dataset is gone once HEAD is. What follows clears its history; a
    // new HEAD created meanwhile has another generation and is left alone.
    const history = await this.queryHistory(keyId, head.generation, 0, MAX_VERSION)
    await this.deleteItems(
      keyId,
      history.map(item => item.sk)
    )
    const objects = new Set([head, ...history].map(item => item.payloadKey).filter(key => key !== undefined))
    await Promise.all([...objects].map(key => this.discardPayload(key)))
  }

  /** The readable versions, newest first. Undefined when the dataset does not exist. */
  async versions(keyId: string): Promise<VersionStamp[] | undefined> {
    const head = await this.latest(keyId)
    if (head === undefined) return undefined
    const lowest = Math.max(1, head.version - HISTORY_DEPTH + 1)
    const history = head.version === 1 ? [] : await this.queryHistory(keyId, head.generation, lowest, head.version - 1)
    return [head, ...history].map(({ version, updatedAt }) => ({ keyId, version, updatedAt }))
  }

  /** One version from the window of the last ten; undefined when missing or out of it. */
  async version(keyId: string, version: number): Promise<Dataset | undefined> {
    const head = await this.latest(keyId)
    if (head === undefined) return undefined
    if (version === head.version) return await this.withPayload(head)
    if (version > head.version || version <= head.version - HISTORY_DEPTH) return undefined
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: { keyId, sk: versionKey(head.generation, version) },
        ConsistentRead: true
      })
    )
    if (Item === undefined) return undefined
    return await this.withPayload(toStored(Item as Item))
  }

  private async withPayload(stored: StoredVersion): Promise<Dataset> {
    return {
      keyId: stored.keyId,
      version: stored.version,
      updatedAt: stored.updatedAt,
      meta: stored.meta,
      payload: await this.payloadOf(stored)
    }
  }

  private async storePayload(
    keyId: string,
    generation: string,
    payload: string
  ): Promise<Pick<StoredVersion, 'payload' | 'payloadKey'>> {
    const bytes = Buffer.byteLength(payload, 'utf8')
    if (bytes > MAX_PAYLOAD_BYTES) {
      throw new TooLargeError('PAYLOAD_TOO_LARGE', `payload is ${bytes} bytes; the limit is ${MAX_PAYLOAD_BYTES}`)
    }
    if (bytes <= this.inlinePayloadBytes) return { payload }
    // A fresh key per write: writers racing for one version never overwrite each other's object.
    const payloadKey = `${buckets.payloads.keyPrefix}${keyId}/${generation}/${randomUUID()}`
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: payloadKey,
        Body: payload,
        ContentType: 'text/plain; charset=utf-8',
        Tagging: new URLSearchParams([[UNCOMMITTED_TAG.Key, UNCOMMITTED_TAG.Value]]).toString()
      })
    )
    return { payloadKey }
  }

  /** The item referencing the object has landed: it is no longer the lifecycle rule's to expire. */
  private async commitPayload(payloadKey: string | undefined): Promise<void> {
    if (payloadKey === undefined) return
    await this.s3.send(new DeleteObjectTaggingCommand({ Bucket: this.bucket, Key: payloadKey }))
  }

  private async discardPayload(payloadKey: string | undefined): Promise<void> {
    if (payloadKey === undefined) return
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: payloadKey }))
  }

  private async prune(keyId: string, generation: string, version: number): Promise<void> {
    if (version < 1) return
    try {
      const { Attributes } = await this.db.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { keyId, sk: versionKey(generation, version) },
          ReturnValues: 'ALL_OLD'
        })
      )
      await this.discardPayload((Attributes as Item | undefined)?.payloadKey)
    } catch {
      // The write has landed; an unpruned copy is outside the window and invisible.
    }
  }

  private async queryHistory(keyId: string, generation: string, from: number, to: number): Promise<Item[]> {
    return await queryAll<Item>(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'keyId = :keyId AND sk BETWEEN :from AND :to',
      ExpressionAttributeValues: {
        ':keyId': keyId,
        ':from': versionKey(generation, from),
        ':to': versionKey(generation, to)
      },
      ConsistentRead: true,
      ScanIndexForward: false
    })
  }

  private async deleteItems(keyId: string, sortKeys: string[]): Promise<void> {
    await batchWriteAll(
      this.db,
      this.table,
      sortKeys.map(sk => ({ DeleteRequest: { Key: { keyId, sk } } }))
    )
  }
}

/** Written to a dataset that does not exist; reads answer undefined instead. */
export const datasetNotFound = (keyId: string): NotFoundError =>
  new NotFoundError('DATASET_NOT_FOUND', `Dataset ${keyId} not found`)

/** A version of a dataset that was never written, or no longer kept. */
export const versionNotFound = (keyId: string, version: number): NotFoundError =>
  new NotFoundError('VERSION_NOT_FOUND', `Version ${version} of dataset ${keyId} is not readable`)

function toStored(item: Item): StoredVersion {
  const { keyId, version, generation, updatedAt, meta, payload, payloadKey } = item
  return { keyId, version, generation, updatedAt, meta, payload, payloadKey }
}
