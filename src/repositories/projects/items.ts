/**
 * The items of a project's partition, their keys, and the change types built
 * from them: what every part of the projects repository shares.
 */
import { createHash } from 'node:crypto'
import type { Static } from '@sinclair/typebox'
import { InvalidInputError, TooLargeError } from '../../core/errors.ts'
import { MAX_DATA_BYTES, MAX_SEQ } from '../../core/limits.ts'
import type { ChangeInput as ChangeInputSchema } from '../../schemas/projects.ts'

export type ChangeInput = Static<typeof ChangeInputSchema>
export type Operation = ChangeInput['operation']

export interface Change {
  seq: number
  projectId: string
  entityType: string
  entityId: string
  operation: Operation
  timestamp: string
  data?: Record<string, unknown>
  changeId?: string
  createdAt: string
  outdatedBy?: number
}

/** What a change stores; seq and createdAt come from its batch. */
export interface StoredChange {
  entityType: string
  entityId: string
  operation: Operation
  timestamp?: string
  data?: Record<string, unknown>
  changeId?: string
}

/** `L#<first>`: the changes of one append, seqs first .. first+count-1. */
export interface BatchItem {
  pk: string
  sk: string
  first: number
  count: number
  createdAt: string
  /** Tells a writer whose put was retried by the SDK its own batch from another's. */
  writer: string
  /** The changes as JSON, or, when too large for one item, the id of their staged items. */
  body?: string
  stagingId?: string
  /** For appends with changeIds: each change's changeId and content hash, in seq order. */
  changeIds?: string[]
  hashes?: string[]
}

/** A batch as stored: `outdatedBy` of its change <seq> is attribute `o<seq>`, set by the projection. */
export type StoredBatch = BatchItem & { [mark: `o${number}`]: number | undefined }
export const markAttribute = (seq: number): `o${number}` => `o${seq}`

/** `C#<changeId>`: where a change with a changeId landed. */
export interface ReceiptItem {
  seq: number
  hash: string
  createdAt: string
}

/** `META`: stats, how far the projection has got, and its lease. */
export interface MetaItem {
  projectedSeq: number
  totalChanges: number
  entityCount: number
  byEntityType: Record<string, number>
  byOperation: Record<string, number>
  createdAt: string
  updatedAt: string
  leaseUntil?: number
  leaseOwner?: string
}

/** `E#<type>#<id>`: an entity's latest change. */
export interface EntityItem {
  seq: number
  /** The first seq of the batch holding `seq`, where its outdatedBy mark goes. */
  batchFirst: number
  firstSeq: number
  change: string
}

const pad = (seq: number): string => String(seq).padStart(String(MAX_SEQ).length, '0')
export const projectKey = (projectId: string): string => `P#${projectId}`
export const projectIdOf = (pk: string): string => pk.slice(2)
export const BATCH_PREFIX = 'L#'
export const batchKey = (first: number): string => `${BATCH_PREFIX}${pad(first)}`
export const firstOf = (sk: string): number => Number(sk.slice(BATCH_PREFIX.length))
export const stagedKey = (stagingId: string, i: number): string => `B#${stagingId}#${String(i).padStart(3, '0')}`
export const receiptKey = (changeId: string): string => `C#${changeId}`
export const entityKey = (entityType: string, entityId: string): string => `E#${entityType}#${entityId}`
/** Sorts right after every `L#` key, so one descending Query from here reads META and the last batch. */
export const META = 'META'
export const REGISTRY = 'PROJECTS'

export const lastSeqOf = (batch: Pick<BatchItem, 'first' | 'count'>): number => batch.first + batch.count - 1

/** Validates one input change and keeps what is stored of it. */
export function toStored(input: ChangeInput): StoredChange {
  if (input.operation === 'delete' ? input.data !== undefined : input.data === undefined) {
    throw new InvalidInputError(
      'INVALID_CHANGE',
      input.operation === 'delete' ? 'a delete carries no data' : `an ${input.operation} needs data`
    )
  }
  if (input.data !== undefined) {
    const bytes = Buffer.byteLength(JSON.stringify(input.data), 'utf8')
    if (bytes > MAX_DATA_BYTES)
      throw new TooLargeError(
        'DATA_TOO_LARGE',
        `data of ${input.entityType}/${input.entityId} is ${bytes} bytes; the limit is ${MAX_DATA_BYTES}`
      )
  }
  const { entityType, entityId, operation, timestamp, data, changeId } = input
  return { entityType, entityId, operation, timestamp, data, changeId }
}

/** A change with its seq, as the feed shows it. */
export function toChange(
  projectId: string,
  seq: number,
  createdAt: string,
  change: StoredChange,
  outdatedBy?: number
): Change {
  return {
    seq,
    projectId,
    entityType: change.entityType,
    entityId: change.entityId,
    operation: change.operation,
    timestamp: change.timestamp ?? createdAt,
    data: change.data,
    changeId: change.changeId,
    createdAt,
    ...(outdatedBy === undefined ? {} : { outdatedBy })
  }
}

/** What a changeId stands for: a retry with other content is told apart by it. */
export const contentHash = (change: StoredChange): string =>
  createHash('sha256')
    .update(JSON.stringify([change.entityType, change.entityId, change.operation, change.timestamp, change.data]))
    .digest('base64url')
