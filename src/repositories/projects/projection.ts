/**
 * The projection: entity pointers (`E#`), outdatedBy marks (on the batches)
 * and stats (`META`), applied in seq order by whoever holds the lease on META.
 * The protocol is described in ./index.ts.
 */
import { randomUUID } from 'node:crypto'
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { backoff, conditional, conditionHolds } from '../dynamo.ts'
import { latestSeqOf, type Batches, type Head } from './batches.ts'
import {
  batchKey,
  entityKey,
  lastSeqOf,
  markAttribute,
  META,
  projectKey,
  type Change,
  type EntityItem,
  type MetaItem,
  type StoredBatch
} from './items.ts'

/** True when META has applied every batch the head shows. */
export const caughtUp = (head: Head): boolean => head.meta === undefined || head.meta.projectedSeq >= latestSeqOf(head)

/** Batches applied per Query page. */
const PAGE = 10

export class Projector {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly batches: Batches,
    private readonly leaseMs: number
  ) {}

  /**
   * Brings the projection up to the feed's end as this call first or later
   * finds it, for up to `budgetMs`: applies the batches itself when it gets the
   * lease, waits for the holder when not. Writes nothing when it is caught up.
   * Returns the head it saw last (behind only when the budget ran out).
   */
  async catchUp(projectId: string, budgetMs: number, seen?: Head): Promise<Head> {
    const pk = projectKey(projectId)
    const deadline = Date.now() + budgetMs
    let head = seen ?? (await this.batches.head(pk))
    for (let waited = 0; !caughtUp(head) && Date.now() < deadline;) {
      const owner = randomUUID()
      const meta = await this.takeLease(pk, owner)
      if (meta === undefined) {
        await backoff(++waited, 100)
      } else {
        try {
          // Well inside the lease, so two projectors rarely overlap (it would be safe if they did).
          await this.apply(projectId, meta, Math.min(deadline, Date.now() + this.leaseMs / 2))
        } finally {
          await this.releaseLease(pk, owner)
        }
      }
      head = await this.batches.head(pk)
    }
    return head
  }

  /** Applies batches after `projectedSeq` in order, each advancing META with one conditional update. */
  private async apply(projectId: string, meta: MetaItem, deadline: number): Promise<void> {
    const pk = projectKey(projectId)
    for await (const batch of this.batches.after(pk, meta.projectedSeq, PAGE)) {
      // Another projector moved on: the caller looks again.
      if (Date.now() >= deadline || batch.first !== meta.projectedSeq + 1) return
      const next = await this.applyBatch(projectId, batch, meta)
      const advanced = await conditionHolds(
        this.db.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk, sk: META },
            UpdateExpression:
              'SET projectedSeq = :to, totalChanges = :total, entityCount = :entities, byEntityType = :types, byOperation = :ops, updatedAt = :now',
            ConditionExpression: 'projectedSeq = :from',
            ExpressionAttributeValues: {
              ':from': meta.projectedSeq,
              ':to': next.projectedSeq,
              ':total': next.totalChanges,
              ':entities': next.entityCount,
              ':types': next.byEntityType,
              ':ops': next.byOperation,
              ':now': next.updatedAt
            }
          })
        )
      )
      if (!advanced) return
      meta = next
    }
  }

  /** Entity pointers and outdatedBy marks for one batch, and the stats that include it. */
  private async applyBatch(projectId: string, batch: StoredBatch, meta: MetaItem): Promise<MetaItem> {
    const byEntityType = { ...meta.byEntityType }
    const byOperation = { ...meta.byOperation }
    let entityCount = meta.entityCount
    for (const change of await this.batches.changesOf(projectId, batch)) {
      byEntityType[change.entityType] = (byEntityType[change.entityType] ?? 0) + 1
      byOperation[change.operation] = (byOperation[change.operation] ?? 0) + 1
      const entity = await this.moveEntity(batch.pk, change, batch.first)
      if (entity.firstSeq === change.seq) entityCount++
    }
    return {
      ...meta,
      projectedSeq: lastSeqOf(batch),
      totalChanges: meta.totalChanges + batch.count,
      entityCount,
      byEntityType,
      byOperation,
      updatedAt: new Date().toISOString()
    }
  }

  /** Points the entity at `change` unless it already points at it or later; returns the pointer as it ends. */
  private async moveEntity(pk: string, change: Change, batchFirst: number): Promise<EntityItem> {
    const key = { pk, sk: entityKey(change.entityType, change.entityId) }
    while (true) {
      const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }))
      const current = Item as EntityItem | undefined
      if (current !== undefined && current.seq >= change.seq) return current
      if (current !== undefined) {
        // Before the pointer moves: once it has, nobody reprocessing this change would write the mark.
        await this.db.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk, sk: batchKey(current.batchFirst) },
            UpdateExpression: 'SET #mark = :by',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeNames: { '#mark': markAttribute(current.seq) },
            ExpressionAttributeValues: { ':by': change.seq }
          })
        )
      }
      const next: EntityItem = {
        seq: change.seq,
        batchFirst,
        firstSeq: current?.firstSeq ?? change.seq,
        change: JSON.stringify({ ...change, deleted: change.operation === 'delete' })
      }
      const moved = await conditionHolds(
        this.db.send(
          new PutCommand({
            TableName: this.table,
            Item: { ...key, ...next },
            ConditionExpression: current === undefined ? 'attribute_not_exists(pk)' : 'seq = :seen',
            ExpressionAttributeValues: current === undefined ? undefined : { ':seen': current.seq }
          })
        )
      )
      if (moved) return next
    }
  }

  /** META as it is once the lease is ours, or undefined when another holds it. */
  private async takeLease(pk: string, owner: string): Promise<MetaItem | undefined> {
    const now = Date.now()
    const lease = await conditional(
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk, sk: META },
          UpdateExpression: 'SET leaseUntil = :until, leaseOwner = :owner',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)',
          ExpressionAttributeValues: { ':until': now + this.leaseMs, ':owner': owner, ':now': now },
          ReturnValues: 'ALL_NEW'
        })
      )
    )
    return lease.held ? (lease.result.Attributes as MetaItem) : undefined
  }

  private async releaseLease(pk: string, owner: string): Promise<void> {
    // Not ours any more (it expired and another took it): nothing to release.
    await conditionHolds(
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk, sk: META },
          UpdateExpression: 'SET leaseUntil = :zero',
          ConditionExpression: 'leaseOwner = :owner',
          ExpressionAttributeValues: { ':zero': 0, ':owner': owner }
        })
      )
    )
  }
}
