/**
 * The projection: entity pointers (`E#`), outdatedBy marks (on the batches)
 * and stats (`META`), applied in seq order by whoever holds the lease on META.
 * The protocol is described in ./index.ts.
 */
import { randomUUID } from 'node:crypto'
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { backoff, conditional, conditionHolds } from '../dynamo.ts'
import { latestSeqOf, type Batches, type Head } from './batches.ts'
import { lastSeqOf, META, projectKey, type Change, type MetaItem } from './items.ts'
import type { ProjectsMetrics } from './metrics.ts'
import { PageProjector } from './page.ts'

/** True when META has applied every batch the head shows. */
export const caughtUp = (head: Head): boolean => head.meta === undefined || head.meta.projectedSeq >= latestSeqOf(head)

/** Batches per page: one Query, one BatchGetItem per 100 entities touched, one META update. */
const PAGE = 100

export class Projector {
  private readonly pages: PageProjector

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly batches: Batches,
    private readonly leaseMs: number,
    private readonly metrics: ProjectsMetrics
  ) {
    this.pages = new PageProjector(db, table)
  }

  /**
   * Brings the projection up to the feed's end as this call first or later
   * finds it, for up to `budgetMs`: applies the batches itself when it gets the
   * lease, waits for the holder when not. Writes nothing when it is caught up.
   * Returns the head it saw last, META as it left it (behind only when the
   * budget ran out).
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
        let reached: MetaItem
        try {
          // Well inside the lease, so two projectors rarely overlap (it would be safe if they did).
          reached = await this.apply(projectId, meta, Math.min(deadline, Date.now() + this.leaseMs / 2))
        } finally {
          await this.releaseLease(pk, owner)
        }
        // Every batch the head showed is applied: no need to read it again.
        if (reached.projectedSeq >= latestSeqOf(head)) return { ...head, meta: reached }
      }
      head = await this.batches.head(pk)
    }
    return head
  }

  /**
   * Applies the batches after `projectedSeq` a page at a time until a page
   * reaches the feed's end, each page advancing META with one conditional
   * update. Returns META as it left it.
   */
  private async apply(projectId: string, meta: MetaItem, deadline: number): Promise<MetaItem> {
    const pk = projectKey(projectId)
    while (Date.now() < deadline) {
      const page = await this.batches.page(pk, meta.projectedSeq, PAGE)
      // Nothing after it, or another projector moved on: the caller looks again.
      if (page.batches.length === 0 || page.batches[0]!.first !== meta.projectedSeq + 1) return meta
      const { changes, newEntities } = await this.pages.apply(projectId, page.batches, batch =>
        this.batches.changesOf(projectId, batch)
      )
      const next = withPage(meta, changes, newEntities, lastSeqOf(page.batches.at(-1)!))
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
      if (!advanced) return meta
      meta = next
      await this.metrics.projected(page.batches)
      if (page.last) return meta
    }
    return meta
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

/** The stats with a page's changes counted. */
function withPage(meta: MetaItem, changes: Change[], newEntities: number, projectedSeq: number): MetaItem {
  const byEntityType = { ...meta.byEntityType }
  const byOperation = { ...meta.byOperation }
  for (const change of changes) {
    byEntityType[change.entityType] = (byEntityType[change.entityType] ?? 0) + 1
    byOperation[change.operation] = (byOperation[change.operation] ?? 0) + 1
  }
  return {
    ...meta,
    projectedSeq,
    totalChanges: meta.totalChanges + changes.length,
    entityCount: meta.entityCount + newEntities,
    byEntityType,
    byOperation,
    updatedAt: new Date().toISOString()
  }
}
