/**
 * The projection: entity pointers (`E#`), outdatedBy marks (on the batches)
 * and stats (`META`), applied in seq order by whoever holds the lease on META.
 * The protocol is described in ./index.ts.
 */
import { randomUUID } from 'node:crypto'
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { conditionHolds } from '../dynamo.ts'
import { AttributeLease } from '../lease.ts'
import { backoff, DYNAMODB_BACKOFF } from '../../core/retry.ts'
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
  /** On META itself: whoever holds it applies the batches. */
  private readonly lease: AttributeLease

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly batches: Batches,
    private readonly leaseMs: number,
    private readonly metrics: ProjectsMetrics
  ) {
    this.pages = new PageProjector(db, table)
    this.lease = new AttributeLease({ db, table, ownerAttribute: 'leaseOwner', untilAttribute: 'leaseUntil' })
  }

  /**
   * Brings the projection up to the feed's end as this call first or later
   * finds it, for up to `budgetMs`: applies the batches itself when it gets the
   * lease, waits for the holder when not. Writes nothing when it is caught up.
   * `seen` is the head as the caller read it, or `behind` when the caller knows
   * a batch landed after the projection (an append it just made): then the
   * lease is taken without reading the head first, and the projection is
   * done when a page reaches the feed's end. Returns the head it saw last,
   * META as it left it (behind only when the budget ran out).
   */
  async catchUp(projectId: string, budgetMs: number, seen?: Head | 'behind'): Promise<Head> {
    const pk = projectKey(projectId)
    const deadline = Date.now() + budgetMs
    let head = seen === 'behind' ? undefined : (seen ?? (await this.batches.head(pk)))
    for (let waited = 0; (head === undefined || !caughtUp(head)) && Date.now() < deadline;) {
      const owner = randomUUID()
      const meta = await this.takeLease(pk, owner)
      if (meta === undefined) {
        await backoff(++waited, { ...DYNAMODB_BACKOFF, capMs: 100 })
      } else {
        // Well inside the lease, so two projectors rarely overlap (it would be safe if they did).
        const run = await this.apply(projectId, meta, owner, Math.min(deadline, Date.now() + this.leaseMs / 2))
        // At the feed's end, or past every batch the head showed: no need to read it again.
        if (run.atEnd || (head !== undefined && run.meta.projectedSeq >= latestSeqOf(head)))
          return { tail: head?.tail, meta: run.meta }
      }
      head = await this.batches.head(pk)
    }
    return head ?? (await this.batches.head(pk))
  }

  /**
   * Applies the batches after `projectedSeq` a page at a time until a page
   * reaches the feed's end, each page advancing META with one conditional
   * update, the last one giving the lease back too. Returns META as it left
   * it, and whether a page found the feed's end.
   */
  private async apply(
    projectId: string,
    meta: MetaItem,
    owner: string,
    deadline: number
  ): Promise<{ meta: MetaItem; atEnd: boolean }> {
    const pk = projectKey(projectId)
    let released = false
    try {
      while (Date.now() < deadline) {
        const page = await this.batches.page(pk, meta.projectedSeq, PAGE)
        if (page.batches.length === 0) return { meta, atEnd: page.last }
        // Another projector moved on: the caller looks again.
        if (page.batches[0]!.first !== meta.projectedSeq + 1) return { meta, atEnd: false }
        const { changes, newEntities } = await this.pages.apply(projectId, page.batches, batch =>
          this.batches.changesOf(projectId, batch)
        )
        const next = withPage(meta, changes, newEntities, lastSeqOf(page.batches.at(-1)!))
        const advanced = await this.advance(pk, meta, next, page.last ? owner : undefined)
        if (advanced === false) return { meta, atEnd: false }
        released = advanced === 'released'
        meta = next
        await this.metrics.projected(page.batches)
        if (page.last) return { meta, atEnd: true }
      }
      return { meta, atEnd: false }
    } finally {
      if (!released) await this.releaseLease(pk, owner)
    }
  }

  /**
   * Moves META from `from` to `next` with one update on condition that
   * projectedSeq is still `from`'s, so stats count each change once. Given
   * the lease's `owner`, gives the lease back in the same write while it is
   * still that owner's. False when META had moved on.
   */
  private async advance(pk: string, from: MetaItem, next: MetaItem, owner?: string): Promise<boolean | 'released'> {
    const update = (release: boolean) =>
      conditionHolds(
        this.db.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk, sk: META },
            UpdateExpression: `SET projectedSeq = :to, totalChanges = :total, entityCount = :entities, byEntityType = :types, byOperation = :ops, updatedAt = :now${release ? ', leaseUntil = :zero' : ''}`,
            ConditionExpression: `projectedSeq = :from${release ? ' AND leaseOwner = :owner' : ''}`,
            ExpressionAttributeValues: {
              ':from': from.projectedSeq,
              ':to': next.projectedSeq,
              ':total': next.totalChanges,
              ':entities': next.entityCount,
              ':types': next.byEntityType,
              ':ops': next.byOperation,
              ':now': next.updatedAt,
              ...(release ? { ':zero': 0, ':owner': owner } : {})
            }
          })
        )
      )
    if (owner !== undefined && (await update(true))) return 'released'
    // The lease lapsed and another projector holds it now (or META moved on): leave its lease alone.
    return await update(false)
  }

  /** META as it is once the lease is ours, or undefined when another holds it. */
  private async takeLease(pk: string, owner: string): Promise<MetaItem | undefined> {
    const lease = await this.lease.acquire({ pk, sk: META }, owner, this.leaseMs)
    return lease.acquired ? (lease.item as unknown as MetaItem) : undefined
  }

  private async releaseLease(pk: string, owner: string): Promise<void> {
    // Not ours any more (it expired and another took it): nothing to release.
    await this.lease.release({ pk, sk: META }, owner)
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
