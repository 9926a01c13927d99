/** Reading the feed, one change, an entity's state and the stats. */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { poll } from '../../core/poll.ts'
import { latestSeqOf, type Batches, type Head, type SinceHint } from './batches.ts'
import { entityKey, lastSeqOf, projectKey, type Change, type EntityItem, type MetaItem } from './items.ts'
import { caughtUp, type Projector } from './projection.ts'

export interface ChangePage {
  changes: Change[]
  lastSeq: number
  hasMore: boolean
}

export interface ReadOptions {
  since: number
  limit: number
  entityType?: string
  includeOutdated: boolean
}

/** The counts META keeps, as the stats route answers them. */
export interface ProjectStats extends Pick<
  MetaItem,
  'totalChanges' | 'projectedSeq' | 'byEntityType' | 'byOperation' | 'createdAt' | 'updatedAt'
> {
  projectId: string
  latestSeq: number
  outdatedChanges: number
}

/** How far the projection is behind the feed, as a read found them. */
export interface Progress {
  projectedSeq: number
  latestSeq: number
}

/** An entity's latest change (undefined when none is projected), and how far behind that state may be. */
export interface EntityRead extends Progress {
  entity?: Change & { deleted: boolean }
}

const progressOf = (head: Head): Progress => {
  const projectedSeq = head.meta?.projectedSeq ?? 0
  // A projector may have gone past the batch the head showed last.
  return { projectedSeq, latestSeq: Math.max(latestSeqOf(head), projectedSeq) }
}

/** Bounds the work of one read when filters skip most changes. */
const MAX_EXAMINED = 5_000
/** Batches per Query page; one page holds a whole unfiltered read of single-change batches. */
const MAX_PAGE = 1_001

export class Reader {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly batches: Batches,
    private readonly projector: Projector,
    /** How long a read that needs the projection helps it catch up before it answers with what there is. */
    private readonly catchUpMs: number
  ) {}

  /** Changes after `since`, ascending: the batches in order, their changes filtered. */
  async read(projectId: string, options: ReadOptions, hint?: SinceHint): Promise<ChangePage> {
    const { since, limit, entityType, includeOutdated } = options
    // Leaving outdated changes out needs every mark, and a mark comes from any later change.
    if (!includeOutdated) await this.projector.catchUp(projectId, this.catchUpMs)
    const changes: Change[] = []
    let lastSeq = since
    let examined = 0
    for await (const batch of this.batches.after(projectKey(projectId), since, Math.min(limit + 1, MAX_PAGE), hint)) {
      for (const change of await this.batches.changesOf(projectId, batch)) {
        if (change.seq <= since) continue
        if (changes.length === limit || examined === MAX_EXAMINED) return { changes, lastSeq, hasMore: true }
        examined++
        lastSeq = change.seq
        const wanted =
          (entityType === undefined || change.entityType === entityType) &&
          (includeOutdated || change.outdatedBy === undefined)
        if (wanted) changes.push(change)
      }
    }
    return { changes, lastSeq, hasMore: false }
  }

  /** Like `read`, but when nothing is there yet, waits up to `waitMs` for a change after `since`. */
  async readOrWait(projectId: string, options: ReadOptions, waitMs: number, signal?: AbortSignal): Promise<ChangePage> {
    // The first poll learns whether a batch ends at since; the later ones then need one Query each.
    const hint: SinceHint = {}
    let page: ChangePage | undefined
    const found = await poll(
      async () => {
        page = await this.read(projectId, options, hint)
        return page.lastSeq > options.since ? page : undefined
      },
      { intervalMs: 100, maxIntervalMs: 1000, timeoutMs: waitMs, signal }
    )
    return found ?? page!
  }

  async change(projectId: string, seq: number): Promise<Change | undefined> {
    const batch = await this.batches.containing(projectKey(projectId), seq)
    if (batch === undefined || seq > lastSeqOf(batch)) return undefined
    return (await this.batches.changesOf(projectId, batch))[seq - batch.first]
  }

  /** The entity's latest change, the projection caught up first when it is behind. */
  async entity(projectId: string, entityType: string, entityId: string): Promise<EntityRead> {
    const pk = projectKey(projectId)
    const get = async () =>
      (
        await this.db.send(
          new GetCommand({
            TableName: this.table,
            Key: { pk, sk: entityKey(entityType, entityId) },
            ConsistentRead: true
          })
        )
      ).Item as EntityItem | undefined
    let [head, item] = await Promise.all([this.batches.head(pk), get()])
    if (!caughtUp(head)) {
      head = await this.projector.catchUp(projectId, this.catchUpMs, head)
      item = await get()
    }
    return {
      ...progressOf(head),
      ...(item === undefined ? {} : { entity: JSON.parse(item.change) as Change & { deleted: boolean } })
    }
  }

  /** Stats from META alone, the projection caught up first when it is behind; undefined for an unknown project. */
  async stats(projectId: string): Promise<ProjectStats | undefined> {
    const head = await this.projector.catchUp(projectId, this.catchUpMs)
    const { meta } = head
    if (meta === undefined) return undefined
    return {
      projectId,
      totalChanges: meta.totalChanges,
      ...progressOf(head),
      byEntityType: meta.byEntityType,
      byOperation: meta.byOperation,
      outdatedChanges: meta.totalChanges - meta.entityCount,
      createdAt: meta.createdAt,
      updatedAt: meta.updatedAt
    }
  }
}
