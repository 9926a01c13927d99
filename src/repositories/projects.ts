/**
 * Per-project change feeds (/projects) that never lose, skip or reorder a change.
 *
 * Items, all in one table, under the partition `P#<projectId>` unless noted:
 *   L#<first seq>        a batch: the changes of one request, seqs first .. first+count-1,
 *                        inline as JSON or, when too large for one item, in
 *   B#<stagingId>#<i>    one staged change each, written before the batch that points at them;
 *   I#<batchId>          for requests with changeIds: which seqs the batch got;
 *   E#<type>#<id>        an entity's latest change (its current state);
 *   O#<seq>              `outdatedBy` of change <seq>;
 *   META                 stats, and how far the projection has got (`projectedSeq`);
 *   PROJECTS / <id>      (partition `PROJECTS`) the registry of known projects.
 *
 * Appending, single-item conditional writes only:
 *   1. Large batches stage their changes under a fresh stagingId.
 *   2. Read the last batch (consistent). If it has an idempotency record still
 *      to write, write it ("finalize" it), then look up this request's own
 *      record: found means a retry, answered with the seqs first assigned.
 *   3. Put L#<last.first + last.count> on condition that it does not exist.
 *      This one put is where seqs are decided and where the whole batch becomes
 *      visible at once. Losing it means another batch took the slot: go to 2.
 * A batch is only ever put right after the last batch a consistent read found,
 * so batches tile 1, 2, 3 … with no gap and no overlap, and a batch can exist
 * only after every smaller seq exists: a reader polling with since=lastSeq
 * sees each change once, in order. A writer that dies before 3 leaves nothing
 * visible (at most unreferenced staged items); after 3 its batch is complete.
 *
 * Idempotency: a request whose changes all carry changeIds is batch
 * sha256(projectId, changeIds). Every writer finalizes the last batch before
 * putting a new one, so when a writer has finalized the tail, every batch in
 * the feed has its I# record, and the lookup in 2 cannot miss one: a retry,
 * even one racing its original, gets the first seqs and writes no changes.
 *
 * Projection (entities, outdatedBy, stats) trails the feed: after appending, a
 * writer that gets the META lease applies the batches after `projectedSeq` in
 * order, each step idempotent (E# only moves forward, O# written before E#
 * moves), and advances META with one conditional update on `projectedSeq`, so
 * stats count each change exactly once. A dead projector's lease expires, and
 * the next append or stats/entity read catches up.
 */
import { createHash, randomUUID } from 'node:crypto'
import type { Static } from '@sinclair/typebox'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput
} from '@aws-sdk/lib-dynamodb'
import { setTimeout as sleep } from 'node:timers/promises'
import { ConflictError, ContentionError, InvalidInputError, TooLargeError } from '../errors.ts'
import { MAX_DATA_BYTES, MAX_SEQ } from '../limits.ts'
import type { ChangeInput as ChangeInputSchema } from '../schemas/projects.ts'
import { backoff, batchGetAll, batchWriteAll, conditionHolds, documentClient, queryAll } from './dynamo.ts'

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

export interface ProjectStats {
  projectId: string
  totalChanges: number
  latestSeq: number
  byEntityType: Record<string, number>
  byOperation: Record<string, number>
  outdatedChanges: number
  createdAt: string
  updatedAt: string
}

export interface ProjectSummary {
  projectId: string
  latestSeq: number
  createdAt: string
}

/** What a change stores; seq and createdAt come from its batch. */
interface StoredChange {
  entityType: string
  entityId: string
  operation: Operation
  timestamp?: string
  data?: Record<string, unknown>
  changeId?: string
}

interface BatchItem {
  pk: string
  sk: string
  first: number
  count: number
  batchId: string
  /** Present for requests with changeIds: the request's hash, so a retry with other content is told apart. */
  requestHash?: string
  createdAt: string
  body?: string
  stagingId?: string
}

interface MetaItem {
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

interface EntityItem {
  seq: number
  firstSeq: number
  prevSeq?: number
  change: string
}

/** A batch up to this size is one item; larger batches stage their changes (DynamoDB items hold 400 KB). */
const INLINE_BATCH_BYTES = 300 * 1024
const MAX_APPEND_ATTEMPTS = 200
const LEASE_MS = 10_000
const PROJECTION_BUDGET_MS = 2_000
/** Bounds the work of one read when filters skip most changes. */
const MAX_EXAMINED = 5_000

const pad = (seq: number): string => String(seq).padStart(String(MAX_SEQ).length, '0')
const projectKey = (projectId: string): string => `P#${projectId}`
const batchKey = (first: number): string => `L#${pad(first)}`
const outdatedKey = (seq: number): string => `O#${pad(seq)}`
const entityKey = (entityType: string, entityId: string): string => `E#${entityType}#${entityId}`
const META = 'META'
const REGISTRY = 'PROJECTS'

export interface ProjectsRepositoryOptions {
  dynamodb: DynamoDBClient
  table: string
  /** Overridable so tests can stage batches without sending 300 KB. */
  inlineBatchBytes?: number
  /** How long a projector may hold the lease before another may take over (tests shorten it). */
  leaseMs?: number
}

export class ProjectsRepository {
  private readonly db: DynamoDBDocumentClient
  private readonly table: string
  private readonly inlineBatchBytes: number
  private readonly leaseMs: number
  /** The last batch this process knows has its idempotency record, per project: saves a write per append. */
  private readonly finalized = new Map<string, string>()

  constructor(options: ProjectsRepositoryOptions) {
    this.db = documentClient(options.dynamodb)
    this.table = options.table
    this.inlineBatchBytes = options.inlineBatchBytes ?? INLINE_BATCH_BYTES
    this.leaseMs = options.leaseMs ?? LEASE_MS
  }

  /** Appends the changes as one batch of consecutive seqs; a retry of a request with changeIds gets its first answer. */
  async append(projectId: string, inputs: ChangeInput[]): Promise<Change[]> {
    const changes = inputs.map(toStored)
    const withIds = changes.filter(c => c.changeId !== undefined).length
    if (withIds !== 0 && withIds !== changes.length) {
      throw new InvalidInputError('CHANGE_ID_PARTIAL', 'changeId must be set on every change of a request or on none')
    }
    const ids = changes.map(c => c.changeId!)
    if (withIds > 0 && new Set(ids).size !== ids.length)
      throw new InvalidInputError('CHANGE_ID_REPEATED', 'a changeId appears twice in the request')
    const requestHash = withIds > 0 ? sha256(JSON.stringify([projectId, changes])) : undefined
    const batchId = withIds > 0 ? sha256(JSON.stringify([projectId, ids])) : randomUUID()
    const createdAt = new Date().toISOString()
    const body = JSON.stringify(changes)

    const pk = projectKey(projectId)
    let stagingId: string | undefined
    if (Buffer.byteLength(body, 'utf8') > this.inlineBatchBytes) stagingId = await this.stage(pk, changes)

    for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt++) {
      const tail = await this.lastBatch(pk)
      if (tail === undefined) await this.registerProject(projectId, createdAt)
      else if (tail.requestHash !== undefined) await this.finalize(tail)
      if (requestHash !== undefined) {
        const first = await this.recordedBatch(pk, batchId, requestHash)
        if (first !== undefined) return await this.batchAt(projectId, first)
      }
      const first = tail === undefined ? 1 : tail.first + tail.count
      const item: BatchItem = {
        pk,
        sk: batchKey(first),
        first,
        count: changes.length,
        batchId,
        requestHash,
        createdAt,
        ...(stagingId === undefined ? { body } : { stagingId })
      }
      const put = await conditionHolds(
        this.db.send(
          new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' })
        )
      )
      // A retried put whose first try landed fails its condition on our own batch.
      if (!put && (await this.batchIdAt(pk, first)) !== batchId) {
        await backoff(attempt + 1, 20)
        continue
      }
      if (requestHash !== undefined) await this.finalize(item)
      await this.project(projectId)
      return expand(projectId, item, changes)
    }
    throw new ContentionError(
      'WRITE_CONTENTION',
      `Project ${projectId} is being written too often to take this batch; retry`
    )
  }

  /** Changes after `since`, ascending. */
  async read(projectId: string, options: ReadOptions): Promise<ChangePage> {
    const pk = projectKey(projectId)
    const out: Change[] = []
    let lastSeq = options.since
    let examined = 0
    let startKey: Record<string, unknown> | undefined
    // The batch holding since + 1 may start at or before since.
    const containing = options.since > 0 ? await this.batchContaining(pk, options.since) : undefined
    let pending: BatchItem[] =
      containing !== undefined && containing.first + containing.count - 1 > options.since ? [containing] : []
    let exhausted = false
    while (true) {
      if (pending.length === 0) {
        if (exhausted) return { changes: out, lastSeq, hasMore: false }
        const page = await this.db.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
            ExpressionAttributeValues: { ':pk': pk, ':from': batchKey(options.since + 1), ':to': batchKey(MAX_SEQ) },
            ConsistentRead: true,
            Limit: Math.min(options.limit + 1, 100),
            ExclusiveStartKey: startKey
          })
        )
        pending = (page.Items ?? []) as BatchItem[]
        startKey = page.LastEvaluatedKey
        exhausted = startKey === undefined
        if (pending.length === 0) continue
      }
      const batches = pending
      pending = []
      const last = batches[batches.length - 1]!
      const outdated = await this.outdatedMarks(pk, batches[0]!.first, last.first + last.count - 1)
      for (let b = 0; b < batches.length; b++) {
        const batch = batches[b]!
        const changes = await this.changesOf(projectId, batch)
        for (const change of changes) {
          if (change.seq <= options.since) continue
          if (out.length === options.limit || examined === MAX_EXAMINED) {
            return { changes: out, lastSeq, hasMore: true }
          }
          examined++
          lastSeq = change.seq
          if (options.entityType !== undefined && change.entityType !== options.entityType) continue
          const outdatedBy = outdated.get(change.seq)
          if (outdatedBy === undefined) out.push(change)
          else if (options.includeOutdated) out.push({ ...change, outdatedBy })
        }
      }
    }
  }

  /** Like `read`, but when nothing is there yet, waits up to `waitMs` for a change after `since`. */
  async readOrWait(projectId: string, options: ReadOptions, waitMs: number, signal?: AbortSignal): Promise<ChangePage> {
    const deadline = Date.now() + waitMs
    let delay = 100
    while (true) {
      const page = await this.read(projectId, options)
      if (page.lastSeq > options.since || Date.now() >= deadline || signal?.aborted === true) return page
      await sleep(Math.min(delay, deadline - Date.now()))
      delay = Math.min(1000, delay * 2)
    }
  }

  async change(projectId: string, seq: number): Promise<Change | undefined> {
    const pk = projectKey(projectId)
    const batch = await this.batchContaining(pk, seq)
    if (batch === undefined || seq >= batch.first + batch.count) return undefined
    const change = (await this.changesOf(projectId, batch))[seq - batch.first]!
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: { pk, sk: outdatedKey(seq) }, ConsistentRead: true })
    )
    return Item === undefined ? change : { ...change, outdatedBy: Item.outdatedBy as number }
  }

  /** The entity's latest change, after catching the projection up. */
  async entity(
    projectId: string,
    entityType: string,
    entityId: string
  ): Promise<(Change & { deleted: boolean }) | undefined> {
    await this.project(projectId)
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: projectKey(projectId), sk: entityKey(entityType, entityId) },
        ConsistentRead: true
      })
    )
    return Item === undefined ? undefined : (JSON.parse((Item as EntityItem).change) as Change & { deleted: boolean })
  }

  /** Stats from the META item alone, after catching the projection up; undefined for an unknown project. */
  async stats(projectId: string): Promise<ProjectStats | undefined> {
    await this.project(projectId)
    const meta = await this.meta(projectKey(projectId))
    if (meta === undefined) return undefined
    return {
      projectId,
      totalChanges: meta.totalChanges,
      latestSeq: meta.projectedSeq,
      byEntityType: meta.byEntityType,
      byOperation: meta.byOperation,
      outdatedChanges: meta.totalChanges - meta.entityCount,
      createdAt: meta.createdAt,
      updatedAt: meta.updatedAt
    }
  }

  /** Known projects in id order, with the seq their stats have reached. */
  async list(limit: number, after?: string): Promise<{ projects: ProjectSummary[]; next?: string }> {
    const page = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': REGISTRY },
        Limit: limit,
        ExclusiveStartKey: after === undefined ? undefined : { pk: REGISTRY, sk: after }
      })
    )
    const registered = page.Items ?? []
    const ids = registered.map(item => item.sk as string)
    const metas = new Map<string, MetaItem>()
    const found = await batchGetAll<MetaItem & { pk: string }>(
      this.db,
      this.table,
      ids.map(id => ({ pk: projectKey(id), sk: META }))
    )
    for (const item of found) metas.set(item.pk.slice(2), item)
    const projects = registered.map(item => ({
      projectId: item.sk as string,
      latestSeq: metas.get(item.sk as string)?.projectedSeq ?? 0,
      createdAt: item.createdAt as string
    }))
    const next = page.LastEvaluatedKey === undefined ? undefined : (page.LastEvaluatedKey.sk as string)
    return { projects, next }
  }

  /**
   * Applies the batches after `projectedSeq` to entities, outdatedBy and stats,
   * for up to `budgetMs`, if no one else holds the lease. Safe to run anywhere, any number of times.
   */
  async project(projectId: string, budgetMs = PROJECTION_BUDGET_MS): Promise<void> {
    const pk = projectKey(projectId)
    const deadline = Date.now() + budgetMs
    const owner = randomUUID()
    while (Date.now() < deadline) {
      if (!(await this.takeLease(pk, owner))) return
      try {
        await this.projectUntil(projectId, deadline)
      } finally {
        await this.releaseLease(pk, owner)
      }
      // A batch may have landed after the last look and before the release, while its writer found the lease taken.
      const meta = await this.meta(pk)
      const tail = await this.lastBatch(pk)
      if (meta === undefined || tail === undefined || tail.first + tail.count - 1 <= meta.projectedSeq) return
    }
  }

  private async projectUntil(projectId: string, deadline: number): Promise<void> {
    const pk = projectKey(projectId)
    let meta = await this.meta(pk)
    if (meta === undefined) return
    while (Date.now() < deadline) {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: { ':pk': pk, ':from': batchKey(meta.projectedSeq + 1), ':to': batchKey(MAX_SEQ) },
          ConsistentRead: true,
          Limit: 10
        })
      )
      const batches = (page.Items ?? []) as BatchItem[]
      if (batches.length === 0) return
      for (const batch of batches) {
        if (batch.first !== meta.projectedSeq + 1) return // someone else moved on; the caller looks again
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
        if (!advanced) {
          meta = await this.meta(pk)
          if (meta === undefined) return
          break
        }
        meta = next
      }
    }
  }

  /** Entity pointers and outdatedBy marks for one batch, and the stats that include it. */
  private async applyBatch(projectId: string, batch: BatchItem, meta: MetaItem): Promise<MetaItem> {
    const pk = projectKey(projectId)
    const byEntityType = { ...meta.byEntityType }
    const byOperation = { ...meta.byOperation }
    let entityCount = meta.entityCount
    for (const change of await this.changesOf(projectId, batch)) {
      byEntityType[change.entityType] = (byEntityType[change.entityType] ?? 0) + 1
      byOperation[change.operation] = (byOperation[change.operation] ?? 0) + 1
      const entity = await this.moveEntity(pk, change)
      if (entity.firstSeq === change.seq) entityCount++
    }
    return {
      ...meta,
      projectedSeq: batch.first + batch.count - 1,
      totalChanges: meta.totalChanges + batch.count,
      entityCount,
      byEntityType,
      byOperation,
      updatedAt: new Date().toISOString()
    }
  }

  /** Points the entity at `change` unless it already points at it or later; returns the pointer as it ends. */
  private async moveEntity(pk: string, change: Change): Promise<EntityItem> {
    const key = { pk, sk: entityKey(change.entityType, change.entityId) }
    while (true) {
      const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }))
      const current = Item as EntityItem | undefined
      if (current !== undefined && current.seq >= change.seq) return current
      if (current !== undefined) {
        // Before the pointer moves: once it has, nobody reprocessing this change would write the mark.
        await this.db.send(
          new PutCommand({ TableName: this.table, Item: { pk, sk: outdatedKey(current.seq), outdatedBy: change.seq } })
        )
      }
      const next: EntityItem = {
        seq: change.seq,
        firstSeq: current?.firstSeq ?? change.seq,
        prevSeq: current?.seq,
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

  private async takeLease(pk: string, owner: string): Promise<boolean> {
    const now = Date.now()
    return await conditionHolds(
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk, sk: META },
          UpdateExpression: 'SET leaseUntil = :until, leaseOwner = :owner',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)',
          ExpressionAttributeValues: { ':until': now + this.leaseMs, ':owner': owner, ':now': now }
        })
      )
    )
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

  private async meta(pk: string): Promise<MetaItem | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: { pk, sk: META }, ConsistentRead: true })
    )
    return Item as MetaItem | undefined
  }

  /** META and the registry entry, each written once, before the project's first batch. */
  private async registerProject(projectId: string, createdAt: string): Promise<void> {
    const meta: MetaItem = {
      projectedSeq: 0,
      totalChanges: 0,
      entityCount: 0,
      byEntityType: {},
      byOperation: {},
      createdAt,
      updatedAt: createdAt
    }
    await Promise.all([
      this.putIfAbsent({ pk: projectKey(projectId), sk: META, ...meta }),
      this.putIfAbsent({ pk: REGISTRY, sk: projectId, createdAt })
    ])
  }

  private async putIfAbsent(item: Record<string, unknown>): Promise<void> {
    await conditionHolds(
      this.db.send(
        new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' })
      )
    )
  }

  private async finalize(batch: BatchItem): Promise<void> {
    if (this.finalized.get(batch.pk) === batch.sk) return
    await this.putIfAbsent({
      pk: batch.pk,
      sk: `I#${batch.batchId}`,
      first: batch.first,
      requestHash: batch.requestHash
    })
    if (this.finalized.size > 10_000) this.finalized.clear()
    this.finalized.set(batch.pk, batch.sk)
  }

  /** The first seq of an earlier request with these changeIds; 409 if that request carried other changes. */
  private async recordedBatch(pk: string, batchId: string, requestHash: string): Promise<number | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: { pk, sk: `I#${batchId}` }, ConsistentRead: true })
    )
    if (Item === undefined) return undefined
    if (Item.requestHash !== requestHash) {
      throw new ConflictError(
        'CHANGE_ID_REUSED',
        'These changeIds were sent before with other changes; a retry must repeat the request as it was'
      )
    }
    return Item.first as number
  }

  private async batchAt(projectId: string, first: number): Promise<Change[]> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: projectKey(projectId), sk: batchKey(first) },
        ConsistentRead: true
      })
    )
    return await this.changesOf(projectId, Item as BatchItem)
  }

  private async batchIdAt(pk: string, first: number): Promise<string | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk, sk: batchKey(first) },
        ProjectionExpression: 'batchId',
        ConsistentRead: true
      })
    )
    return Item?.batchId as string | undefined
  }

  private async lastBatch(pk: string): Promise<BatchItem | undefined> {
    return await this.lastOf({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :l)',
      ExpressionAttributeValues: { ':pk': pk, ':l': 'L#' }
    })
  }

  private async batchContaining(pk: string, seq: number): Promise<BatchItem | undefined> {
    return await this.lastOf({
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ExpressionAttributeValues: { ':pk': pk, ':from': batchKey(0), ':to': batchKey(seq) }
    })
  }

  /** The last batch in a key range (the highest sk), without its (possibly large) body. */
  private async lastOf(
    query: Pick<QueryCommandInput, 'KeyConditionExpression' | 'ExpressionAttributeValues'>
  ): Promise<BatchItem | undefined> {
    const { Items } = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        ...query,
        ProjectionExpression: 'pk, sk, #first, #count, batchId, requestHash, createdAt, stagingId',
        ExpressionAttributeNames: { '#first': 'first', '#count': 'count' },
        ScanIndexForward: false,
        ConsistentRead: true,
        Limit: 1
      })
    )
    return Items?.[0] as BatchItem | undefined
  }

  private async changesOf(projectId: string, batch: BatchItem): Promise<Change[]> {
    if (batch.body === undefined && batch.stagingId === undefined) {
      const { Item } = await this.db.send(
        new GetCommand({ TableName: this.table, Key: { pk: batch.pk, sk: batch.sk }, ConsistentRead: true })
      )
      batch = Item as BatchItem
    }
    if (batch.body !== undefined) return expand(projectId, batch, JSON.parse(batch.body) as StoredChange[])
    const staged = (
      await queryAll<{ body: string }>(this.db, {
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': batch.pk, ':prefix': `B#${batch.stagingId}#` },
        ConsistentRead: true
      })
    ).map(item => JSON.parse(item.body) as StoredChange)
    if (staged.length !== batch.count)
      throw new Error(`batch ${batch.sk} of ${projectId} has ${staged.length} of ${batch.count} staged changes`)
    return expand(projectId, batch, staged)
  }

  private async outdatedMarks(pk: string, from: number, to: number): Promise<Map<number, number>> {
    const marks = await queryAll<{ sk: string; outdatedBy: number }>(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ExpressionAttributeValues: { ':pk': pk, ':from': outdatedKey(from), ':to': outdatedKey(to) },
      ConsistentRead: true
    })
    return new Map(marks.map(item => [Number(item.sk.slice(2)), item.outdatedBy]))
  }

  private async stage(pk: string, changes: StoredChange[]): Promise<string> {
    const stagingId = randomUUID()
    const items = changes.map((change, i) => ({
      pk,
      sk: `B#${stagingId}#${String(i).padStart(3, '0')}`,
      body: JSON.stringify(change)
    }))
    await batchWriteAll(
      this.db,
      this.table,
      items.map(Item => ({ PutRequest: { Item } }))
    )
    return stagingId
  }
}

function toStored(input: ChangeInput): StoredChange {
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

function expand(projectId: string, batch: Pick<BatchItem, 'first' | 'createdAt'>, changes: StoredChange[]): Change[] {
  return changes.map((change, i) => ({
    seq: batch.first + i,
    projectId,
    entityType: change.entityType,
    entityId: change.entityId,
    operation: change.operation,
    timestamp: change.timestamp ?? batch.createdAt,
    data: change.data,
    changeId: change.changeId,
    createdAt: batch.createdAt
  }))
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('base64url')
