/**
 * Reading and writing batches (`L#` items and the `B#` items large ones are
 * staged in), shared by appending, reading and the projection.
 */
import { randomUUID } from 'node:crypto'
import { GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { MAX_SEQ } from '../../core/limits.ts'
import { batchWriteAll, conditional, queryAll } from '../dynamo.ts'
import {
  BATCH_PREFIX,
  batchKey,
  lastSeqOf,
  markAttribute,
  META,
  stagedKey,
  toChange,
  type BatchItem,
  type Change,
  type MetaItem,
  type StoredBatch,
  type StoredChange
} from './items.ts'

/** A project's META and its last batch, read together. */
export interface Head {
  meta?: MetaItem
  tail?: BatchItem
}

/** What a reader learnt of `since`, kept across the reads of one long poll. */
export interface SinceHint {
  /** A batch ends at `since`, so every later batch starts after it. */
  endsBatch?: boolean
}

/** The feed's last seq (0 when empty). */
export const latestSeqOf = (head: Head): number => (head.tail === undefined ? 0 : lastSeqOf(head.tail))

/** Every attribute of META and of a batch but the changes and their marks, which can be large. */
const HEAD_ATTRIBUTES = [
  'pk',
  'sk',
  'first',
  'count',
  'createdAt',
  'writer',
  'stagingId',
  'changeIds',
  'hashes',
  'projectedSeq',
  'totalChanges',
  'entityCount',
  'byEntityType',
  'byOperation',
  'updatedAt',
  'leaseUntil',
  'leaseOwner'
]

export class Batches {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string
  ) {}

  /** META and the last batch in one consistent Query: META sorts right after every batch. */
  async head(pk: string): Promise<Head> {
    const { Items = [] } = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ExpressionAttributeValues: { ':pk': pk, ':from': BATCH_PREFIX, ':to': META },
        ProjectionExpression: HEAD_ATTRIBUTES.map((_, i) => `#a${i}`).join(', '),
        ExpressionAttributeNames: Object.fromEntries(HEAD_ATTRIBUTES.map((name, i) => [`#a${i}`, name])),
        ScanIndexForward: false,
        ConsistentRead: true,
        Limit: 2
      })
    )
    return {
      meta: Items.find(item => item.sk === META) as MetaItem | undefined,
      tail: Items.find(item => item.sk !== META) as BatchItem | undefined
    }
  }

  /** The batch holding `seq`, or the last one before it when `seq` is past the end. */
  async containing(pk: string, seq: number): Promise<StoredBatch | undefined> {
    const { Items } = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ExpressionAttributeValues: { ':pk': pk, ':from': batchKey(0), ':to': batchKey(seq) },
        ScanIndexForward: false,
        ConsistentRead: true,
        Limit: 1
      })
    )
    return Items?.[0] as StoredBatch | undefined
  }

  /**
   * The batches holding seqs after `since`, in order, a Query page of up to
   * `pageSize` at a time, as the caller pulls them. When `since` falls inside a
   * batch, that batch comes first, found with one more Query, unless `since`
   * is known to end a batch (then none can start before it and hold later seqs).
   */
  async *after(pk: string, since: number, pageSize: number, hint: SinceHint = {}): AsyncGenerator<StoredBatch> {
    let startKey: Record<string, unknown> | undefined
    let first = true
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: { ':pk': pk, ':from': batchKey(since + 1), ':to': batchKey(MAX_SEQ) },
          ConsistentRead: true,
          Limit: pageSize,
          ExclusiveStartKey: startKey
        })
      )
      const batches = (page.Items ?? []) as StoredBatch[]
      if (first && since > 0 && hint.endsBatch !== true && (batches[0]?.first ?? Infinity) > since + 1) {
        const around = await this.containing(pk, since)
        if (around !== undefined && lastSeqOf(around) > since) yield around
        hint.endsBatch = around !== undefined && lastSeqOf(around) === since
      }
      first = false
      yield* batches
      startKey = page.LastEvaluatedKey
    } while (startKey !== undefined)
  }

  /**
   * Up to `limit` batches starting right after `since`, which must end a batch
   * (as `projectedSeq` does), in one consistent Query; `last` when no batch
   * after them existed as it read.
   */
  async page(pk: string, since: number, limit: number): Promise<{ batches: StoredBatch[]; last: boolean }> {
    const { Items = [], LastEvaluatedKey } = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ExpressionAttributeValues: { ':pk': pk, ':from': batchKey(since + 1), ':to': batchKey(MAX_SEQ) },
        ConsistentRead: true,
        Limit: limit
      })
    )
    return { batches: Items as StoredBatch[], last: LastEvaluatedKey === undefined }
  }

  /** The batch's changes, each with its outdatedBy mark when it has one. */
  async changesOf(projectId: string, batch: StoredBatch): Promise<Change[]> {
    if (batch.body === undefined && batch.stagingId === undefined) {
      const { Item } = await this.db.send(
        new GetCommand({ TableName: this.table, Key: { pk: batch.pk, sk: batch.sk }, ConsistentRead: true })
      )
      batch = Item as StoredBatch
    }
    const changes = batch.body !== undefined ? (JSON.parse(batch.body) as StoredChange[]) : await this.staged(batch)
    return changes.map((change, i) =>
      toChange(projectId, batch.first + i, batch.createdAt, change, batch[markAttribute(batch.first + i)])
    )
  }

  private async staged(batch: BatchItem): Promise<StoredChange[]> {
    const items = await queryAll<{ body: string }>(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': batch.pk, ':prefix': `B#${batch.stagingId}#` },
      ConsistentRead: true
    })
    if (items.length !== batch.count)
      throw new Error(`batch ${batch.sk} of ${batch.pk} has ${items.length} of ${batch.count} staged changes`)
    return items.map(item => JSON.parse(item.body) as StoredChange)
  }

  /** Writes the changes of a batch too large for one item; returns the id the batch points at. */
  async stage(pk: string, changes: StoredChange[]): Promise<string> {
    const stagingId = randomUUID()
    await batchWriteAll(
      this.db,
      this.table,
      changes.map((change, i) => ({
        PutRequest: { Item: { pk, sk: stagedKey(stagingId, i), body: JSON.stringify(change) } }
      }))
    )
    return stagingId
  }

  /** Puts the batch into its slot unless another batch has it; true when the slot is this batch's. */
  async put(batch: BatchItem): Promise<boolean> {
    const put = await conditional(
      this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: batch,
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD'
        })
      )
    )
    if (put.held) return true
    // A put the SDK retried after its first try landed fails its condition on our own batch.
    const current =
      put.current ??
      (
        await this.db.send(
          new GetCommand({
            TableName: this.table,
            Key: { pk: batch.pk, sk: batch.sk },
            ProjectionExpression: 'writer',
            ConsistentRead: true
          })
        )
      ).Item
    return current?.writer === batch.writer
  }
}
